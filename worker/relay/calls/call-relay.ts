import type { CallFrame, CallSignalKind, PeerCallFrame, ServerFrame } from "../../../common/protocol/wire.ts";
import { logActivity, pruneKind, recentTimes } from "../account/activity-log.ts";
import { callsAllowed, getContact } from "../contacts/contact-book.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import { routingHeader } from "../routing-header.ts";
import { type CallRequestAnswer, recordCallRequest, takeCallRequest } from "./call-requests.ts";
import {
	ACTIVE_CALL_IDLE_MS,
	type After,
	CALLER_RING_GRACE_MS,
	type CallLimitRules,
	type CallRecord,
	checkCallLimits,
	ENDING_SIGNALS,
	incomingStep,
	outgoingStep,
	signalSizeRefusal,
} from "./call-signaling.ts";
import { activateCall, addSignalBytes, deleteCall, expireCalls, getCall, insertCall, signalBytes, touchCall } from "./call-store.ts";

/** A signal as one account's object hands it to the other's: always from a named device. */
export type RelayedSignal = Omit<PeerCallFrame, "kind" | "fromDevice"> & { kind: CallSignalKind; fromDevice: string };

/** What the call relay needs from the Durable Object it runs in. */
export interface CallRelayHost {
	readonly sql: SqlStorage;
	readonly accountId: string;
	now(): number;
	rules(): { ringTimeoutMs: number; limits: CallLimitRules };
	/** Open sockets of every approved device of this account (but `except`). */
	sockets(except?: string): WebSocket[];
	/** Open sockets of one device, if it is approved. */
	socketsOf(deviceId: string | null): WebSocket[];
	push(sockets: WebSocket[], frame: ServerFrame): void;
	/** An incoming call rings, or asks to be allowed: wake this account's devices that have no open socket (Web Push). */
	alertOffline(): void;
	suspension(): RelayResult<never> | null;
	/** Hand a signal to the peer account's object. */
	toPeer(peerId: string, signal: RelayedSignal): Promise<RelayResult<true>>;
	/** Tell the peer account's object how this account answered its call request. */
	answerToPeer(peerId: string, answer: CallRequestAnswer): Promise<void>;
	armAlarm(at: number): Promise<void>;
}

/**
 * Calls in one account's object: signals from its own devices go out to the peer's
 * object, signals from the peer's object go to its devices. Calls are live: nothing is
 * queued, and a call nobody can hear is refused as `peer_unreachable`. Every refusal leaves
 * the call's record as it was, except that a call the other side no longer knows ends here too.
 */
export class CallRelay {
	constructor(private readonly host: CallRelayHost) {}

	async fromDevice(deviceId: string, frame: CallFrame): Promise<RelayResult<true>> {
		const { sql, accountId } = this.host;
		const now = this.host.now();
		if (frame.to === accountId) return refuse("bad_request", "You cannot call yourself.");
		const ending = ENDING_SIGNALS.has(frame.kind);
		// A suspended account can still turn a call down or hang up, nothing else.
		if (!ending) {
			const suspended = this.host.suspension();
			if (suspended) return suspended;
		}
		const contact = getContact(sql, frame.to);
		if (contact?.state !== "accepted" || contact.peerBlocked) return refuse("not_a_contact", "You can only call accepted contacts.");
		// A call ends even across a key rotation: the peer still holds the older key to open a
		// hangup with. Any other signal, and any signal under a version that does not exist yet,
		// must use the current one.
		const keyFits = ending
			? frame.keyVersion !== undefined && contact.keyVersion !== undefined && frame.keyVersion <= contact.keyVersion
			: contact.rotateTo === null && frame.keyVersion === contact.keyVersion;
		if (!keyFits) {
			return refuse(
				"stale_key",
				`Seal call signals with contact key version ${contact.rotateTo ?? contact.keyVersion}; fetch the keys again.`,
			);
		}
		// base64url without padding: every 4 characters are 3 bytes. A call not started yet has carried nothing.
		const size = Math.floor(((frame.box?.length ?? 0) * 3) / 4);
		const oversized = signalSizeRefusal(frame.kind, size, signalBytes(sql, frame.id), this.host.rules().limits);
		if (oversized) return refuse(oversized.refuse, oversized.why);
		const call = getCall(sql, frame.id);
		const step = outgoingStep(call, frame, deviceId, now);
		if ("refuse" in step) return refuse(step.refuse, step.why);

		const { ringTimeoutMs, limits } = this.host.rules();
		const isStart = "start" in step;
		// Ending a call is never held back: a hangup is only accepted for a call that exists.
		if (!ending) {
			const verdict = checkCallLimits(
				recentTimes(sql, "call_signal", now - limits.signalWindowMs, limits.signals),
				recentTimes(sql, "call_start", now - limits.startWindowMs, limits.starts),
				isStart,
				now,
				limits,
			);
			if (!verdict.ok) {
				const wait = `Try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s.`;
				const what =
					verdict.what === "calls"
						? `You can place ${limits.starts} calls every ${Math.round(limits.startWindowMs / 60_000)} minutes.`
						: "Too many call signals.";
				return refuse("rate_limited", `${what} ${wait}`, verdict.retryAfterMs);
			}
		}
		logActivity(sql, "call_signal", now);
		const signal: RelayedSignal = { type: "call", ...routingHeader(frame, accountId, deviceId), at: now };

		if (isStart) {
			// Counted whether or not it rings, so dialling an unreachable contact over and over is limited too.
			logActivity(sql, "call_start", now);
			pruneKind(sql, "call_signal", now - limits.signalWindowMs);
			pruneKind(sql, "call_start", now - limits.startWindowMs);
			const expiresAt = now + ringTimeoutMs + CALLER_RING_GRACE_MS;
			insertCall(sql, {
				callId: frame.id,
				peerId: frame.to,
				role: "caller",
				ownDevice: deviceId,
				peerDevice: null,
				state: "ringing",
				expiresAt,
			});
			addSignalBytes(sql, frame.id, size);
			const rung = await this.forward(frame.to, signal);
			if (!rung.ok) {
				deleteCall(sql, frame.id);
				return rung;
			}
			await this.host.armAlarm(expiresAt);
			return ok(true);
		}

		const current = call as CallRecord;
		// Counted whether or not the peer takes it, like the signal itself.
		if (step.after !== "end") addSignalBytes(sql, frame.id, size);
		// Written before the first await: of two devices accepting at once exactly one passes
		// outgoingStep, the other finds the call already active.
		this.apply(current, step.after, deviceId, now);
		if (step.others) {
			this.host.push(this.host.sockets(deviceId), {
				type: "call",
				id: frame.id,
				from: accountId,
				fromDevice: deviceId,
				to: frame.to,
				kind: step.others,
				at: now,
			});
		}
		const relayed = await this.forward(frame.to, signal);
		if (!relayed.ok && (relayed.code === "not_found" || relayed.code === "peer_unreachable")) {
			// The other side has no call to continue: it is over here too.
			if (step.after !== "end") this.endHere(current, deviceId, now);
		}
		return relayed;
	}

	async fromPeer(signal: RelayedSignal): Promise<RelayResult<true>> {
		const { sql } = this.host;
		const now = this.host.now();
		const contact = getContact(sql, signal.from);
		// Blocking is not shown: a contact this account blocked hears what a call that cannot
		// ring here hears (its calls not taken, as before the block, or no device online), no
		// call of theirs is known here, and no device of ours hears a thing.
		const blocked = contact?.state === "blocked";
		if (!blocked && contact?.state !== "accepted") return refuse("not_a_contact", "You can only call accepted contacts.");
		const call = blocked ? undefined : getCall(sql, signal.id);
		const step = incomingStep(call, signal, now);
		if ("refuse" in step) return refuse(step.refuse, step.why);

		if ("ring" in step) {
			// Checked before anything about this account's devices is revealed to the caller.
			if (!(blocked ? contact.takesCalls : callsAllowed(sql, signal.from))) {
				// Not a dead end: the callee is asked (nothing rings), once while a request waits. A
				// blocked caller's request is dropped, and it hears the same refusal, so the block stays silent.
				if (!blocked && recordCallRequest(sql, signal.from, now)) {
					this.host.push(this.host.sockets(), {
						type: "call_request",
						event: "asked",
						from: signal.from,
						to: this.host.accountId,
						at: now,
					});
					this.host.alertOffline();
				}
				return refuse("calls_not_allowed", "This contact does not take calls from you yet; they were asked to allow them.");
			}
			// A suspended account cannot accept, so its devices must not ring for a call they cannot
			// take. The caller hears what it would of an account it cannot reach: suspension is
			// not shown to contacts, as blocking is not.
			if (this.host.suspension())
				return refuse("peer_unreachable", "They cannot take calls right now, so the call cannot ring. Try later.");
			const devices = blocked ? [] : this.host.sockets();
			if (devices.length === 0) return refuse("peer_unreachable", "None of their devices is online, so the call cannot ring. Try later.");
			const expiresAt = now + this.host.rules().ringTimeoutMs;
			insertCall(sql, {
				callId: signal.id,
				peerId: signal.from,
				role: "callee",
				ownDevice: null,
				peerDevice: signal.fromDevice,
				state: "ringing",
				expiresAt,
			});
			this.host.push(devices, signal);
			this.host.alertOffline();
			await this.host.armAlarm(expiresAt);
			return ok(true);
		}

		const current = call as CallRecord;
		const targets = step.deliver === "own_device" ? this.host.socketsOf(current.ownDevice) : this.host.sockets();
		if (targets.length === 0) {
			this.endHere(current, null, now);
			return refuse("peer_unreachable", "The other side is no longer online; the call ended.");
		}
		this.apply(current, step.after, signal.fromDevice, now);
		this.host.push(targets, signal);
		return ok(true);
	}

	/**
	 * This account answered the waiting call request of `peerId` (allowing calls, or not now):
	 * every device of its own stops showing it, and the caller's object is told. False when no
	 * request waits, so nothing is told.
	 */
	async answerRequest(peerId: string, answer: CallRequestAnswer): Promise<boolean> {
		const now = this.host.now();
		if (takeCallRequest(this.host.sql, peerId, now) === null) return false;
		// A contact blocked (or gone) since it asked hears nothing: blocking is silent.
		if (getContact(this.host.sql, peerId)?.state !== "accepted") return true;
		this.host.push(this.host.sockets(), { type: "call_request", event: "answered", from: peerId, to: this.host.accountId, at: now });
		try {
			await this.host.answerToPeer(peerId, answer);
		} catch (err) {
			// The answer stands here (the permission is set); the caller just is not told at once.
			console.error(JSON.stringify({ event: "call_request_answer_failed", name: err instanceof Error ? err.name : typeof err }));
		}
		return true;
	}

	/** The peer's object: `fromId` answered this account's call request. Only an accepted contact's answer reaches the devices. */
	requestAnswered(fromId: string, answer: CallRequestAnswer): void {
		if (getContact(this.host.sql, fromId)?.state !== "accepted") return;
		this.host.push(this.host.sockets(), {
			type: "call_request",
			event: answer,
			from: fromId,
			to: this.host.accountId,
			at: this.host.now(),
		});
	}

	/** The alarm: calls nobody answered in time ring out on this side; idle active calls are forgotten. */
	expire(now: number): void {
		for (const call of expireCalls(this.host.sql, now)) {
			if (call.state !== "ringing") continue;
			const to = call.role === "caller" ? this.host.socketsOf(call.ownDevice) : this.host.sockets();
			this.host.push(to, { type: "call", id: call.callId, from: call.peerId, to: this.host.accountId, kind: "timeout", at: now });
		}
	}

	/** `device`: the device that accepted (ours for the callee, the peer's for the caller). */
	private apply(call: CallRecord, after: After, device: string, now: number): void {
		if (after === "end") deleteCall(this.host.sql, call.callId);
		else if (after === "activate") activateCall(this.host.sql, call, device, now + ACTIVE_CALL_IDLE_MS);
		else touchCall(this.host.sql, call.callId, now + ACTIVE_CALL_IDLE_MS);
	}

	/** The other side lost the call: forget it, and stop this account's devices still ringing for it. */
	private endHere(call: CallRecord, except: string | null, now: number): void {
		deleteCall(this.host.sql, call.callId);
		if (call.role !== "callee" || call.state !== "ringing") return;
		this.host.push(this.host.sockets(except ?? undefined), {
			type: "call",
			id: call.callId,
			from: call.peerId,
			to: this.host.accountId,
			kind: "timeout",
			at: now,
		});
	}

	private async forward(peerId: string, signal: RelayedSignal): Promise<RelayResult<true>> {
		try {
			return await this.host.toPeer(peerId, signal);
		} catch (err) {
			console.error(JSON.stringify({ event: "call_relay_failed", name: err instanceof Error ? err.name : typeof err }));
			return refuse("internal", "The call signal could not be relayed. Try again.");
		}
	}
}
