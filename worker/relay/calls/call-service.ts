import type { CallFrame } from "../../../common/protocol/wire.ts";
import type { AccountState } from "../account/account-state.ts";
import { getContact } from "../contacts/contact-book.ts";
import type { TimedJob } from "../deadline-scheduler.ts";
import { approvedDeviceIds } from "../devices/device-cache.ts";
import type { JobName, RelayHost } from "../host.ts";
import { Lane } from "../lane.ts";
import type { PushNotifier } from "../push/push-notifier.ts";
import { type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { CallRelay, type RelayedSignal } from "./call-relay.ts";
import { type CallRequestAnswer, waitingCallRequests } from "./call-requests.ts";
import { earliestCallExpiry } from "./call-store.ts";

interface Needs {
	readonly account: AccountState;
	readonly hub: SocketHub;
	readonly push: PushNotifier;
}

/** The call relay (call-relay.ts) wired to this account's object: its sockets, its peers, its clock. */
export class CallService implements TimedJob<JobName> {
	readonly name = "call-expiry";
	/**
	 * Call signals of this account, one at a time: an accept must reach the caller before the
	 * answer sent right after it, and the offer before its ICE candidates.
	 */
	private readonly lane = new Lane();
	private readonly relay: CallRelay;

	constructor(
		private readonly host: RelayHost,
		s: Needs,
	) {
		this.relay = new CallRelay({
			sql: host.sql,
			get accountId() {
				return host.accountId;
			},
			now: () => host.now(),
			rules: () => host.config().calls,
			sockets: (except) => s.hub.approvedSockets(except),
			socketsOf: (deviceId) => s.hub.socketsOfApproved(deviceId),
			push: (sockets, frame) => s.hub.push(sockets, frame),
			alertOffline: () => s.push.alert("call", approvedDeviceIds(host.sql)),
			suspension: () => s.account.suspensionRefusal(),
			toPeer: (peerId, signal) => host.peer(peerId).peerCall(signal),
			answerToPeer: (peerId, answer) => host.peer(peerId).callRequestAnswered(host.accountId, answer),
			armAlarm: (at) => host.schedule("call-expiry", at),
		});
	}

	fromDevice(deviceId: string, frame: CallFrame): Promise<RelayResult<true>> {
		return this.lane.run(() =>
			this.relay.fromDevice(deviceId, frame).catch((err) => {
				console.error(JSON.stringify({ event: "call_signal_failed", name: err instanceof Error ? err.name : typeof err }));
				return refuse<true>("internal", "The call signal could not be relayed. Try again.");
			}),
		);
	}

	fromPeer(signal: RelayedSignal): Promise<RelayResult<true>> {
		return this.relay.fromPeer(signal);
	}

	/** Answer a waiting call request, in the signals' lane: an offer placed right after an allow must find the permission. */
	answerRequest(peerId: string, answer: CallRequestAnswer): Promise<boolean> {
		return this.lane.run(() => this.relay.answerRequest(peerId, answer));
	}

	requestAnswered(fromId: string, answer: CallRequestAnswer): void {
		this.relay.requestAnswered(fromId, answer);
	}

	/** What a device that connects hears: the requests still waiting for an answer. */
	waitingRequests(): ReturnType<typeof waitingCallRequests> {
		// Only from contacts still accepted: a contact blocked since it asked is not shown again.
		return waitingCallRequests(this.host.sql, this.host.accountId, this.host.now()).filter(
			(r) => getContact(this.host.sql, r.from)?.state === "accepted",
		);
	}

	async run(now: number): Promise<number | null> {
		this.relay.expire(now);
		return earliestCallExpiry(this.host.sql);
	}
}
