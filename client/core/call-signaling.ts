import { CryptoError } from "../../common/crypto-error.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { boolean, integer, nullable, object, optional, string, ValidationError } from "../../common/protocol/schema.ts";
import {
	CALL_SIGNAL_KINDS,
	type CallFrame,
	type CallSignalKind,
	MAX_FRAME_CHARS,
	MAX_SEALED_SIGNAL_BYTES_BY_KIND,
	type PeerCallFrame,
	sealedSignalKind,
} from "../../common/protocol/wire.ts";
import type { ContactKeyRing } from "./contact-key-ring.ts";
import type { DeviceIdentity } from "./key-store.ts";
import { openMessage, sealMessage } from "./message-seal.ts";
import { SdkError } from "./sdk-error.ts";

/** One ICE candidate, as `RTCIceCandidate.toJSON()` gives it. */
export interface IceCandidate {
	candidate: string;
	sdpMid?: string | null;
	sdpMLineIndex?: number | null;
	usernameFragment?: string | null;
}

/** What this device says in a call. The first offer goes with startCall(); a later one renegotiates. */
export type OutgoingSignal =
	| { kind: "offer"; sdp: string; video: boolean }
	| { kind: "answer"; sdp: string }
	| { kind: "ice"; candidate: IceCandidate }
	/** Whether this device's microphone and camera are on: sent in an accepted call whenever either changes. */
	| { kind: "media"; audio: boolean; video: boolean }
	| { kind: "ringing" | "accept" | "decline" | "busy" | "hangup" };

/** A signal from the peer, opened and checked. */
export type CallSignal = OutgoingSignal & { callId: string; peerId: string; fromDevice: string };

export interface IncomingCall {
	callId: string;
	peerId: string;
	/** The calling device: every later signal of this call comes from it. */
	fromDevice: string;
	video: boolean;
	/** The caller's SDP offer. */
	sdp: string;
	receivedAt: number;
}

export interface OutgoingCall {
	callId: string;
	peerId: string;
	video: boolean;
}

/**
 * Why a call ended. `answered_elsewhere` / `declined_elsewhere`: another device of this
 * account took or turned down the call. `error`: a refusal (`error.code`, e.g.
 * `peer_unreachable`, `calls_not_allowed`, `not_a_contact`, `rate_limited`).
 */
export type CallEndReason = "hangup" | "declined" | "busy" | "timeout" | "answered_elsewhere" | "declined_elsewhere" | "error";

export interface CallEnded {
	callId: string;
	peerId: string;
	reason: CallEndReason;
	/** This device ended it (hung up, declined, gave up waiting), rather than the peer or the relay. */
	local: boolean;
	error?: SdkError;
}

export interface CallEvents {
	/** A call rings on this device: show it, then accept (CallSession) or decline. */
	call_incoming: IncomingCall;
	call_signal: CallSignal;
	/** A call this device rang or was in is over. Also for a call that arrived while busy (reason busy, local). */
	call_ended: CallEnded;
	error: SdkError;
}

export interface CallSignalingDeps {
	identity: () => Promise<DeviceIdentity>;
	keys: Pick<ContactKeyRing, "latest" | "get">;
	/** Write a frame on the open socket; false when there is none. */
	send: (frame: CallFrame) => boolean;
	events: { [E in keyof CallEvents]: (payload: CallEvents[E]) => void };
	/** How long a call rings before this device gives up; the relay's own timeout is CALL_RING_SECONDS (45 s). */
	ringTimeoutMs: number;
}

/** An offer sealed longer ago than this is a replay, not a call (allows for clocks a few minutes apart). */
export const OFFER_MAX_AGE_MS = 5 * 60_000;
/** Ids of ended calls kept, so that late signals of a call cannot make it ring again. */
const ENDED_KEPT = 200;

// The sealed bodies: an offer `{ sdp, video }`, an answer `{ sdp }`, an ice signal the
// candidate itself, every other signal `{}` (sealed all the same, so that the relay cannot
// forge an accept or a hangup).
const sdp = string({ min: 1, max: 24_000 });
const offerBody = object({ sdp, video: boolean });
const answerBody = object({ sdp });
const iceBody = object({
	candidate: string({ max: 2048 }),
	sdpMid: optional(nullable(string({ max: 256 }))),
	sdpMLineIndex: optional(nullable(integer({ min: 0, max: 1024 }))),
	usernameFragment: optional(nullable(string({ max: 256 }))),
});
const mediaBody = object({ audio: boolean, video: boolean });
const controlBody = object({});

function parseBody(kind: CallSignalKind, body: unknown): OutgoingSignal {
	switch (kind) {
		case "offer":
			return { kind, ...offerBody.parse(body, kind) };
		case "answer":
			return { kind, ...answerBody.parse(body, kind) };
		case "ice":
			return { kind, candidate: iceBody.parse(body, kind) };
		case "media":
			return { kind, ...mediaBody.parse(body, kind) };
		default:
			controlBody.parse(body, kind);
			return { kind };
	}
}

function bodyOf(signal: OutgoingSignal): unknown {
	switch (signal.kind) {
		case "offer":
			return { sdp: signal.sdp, video: signal.video };
		case "answer":
			return { sdp: signal.sdp };
		case "ice":
			return signal.candidate;
		case "media":
			return { audio: signal.audio, video: signal.video };
		default:
			return {};
	}
}

const SIGNAL_KINDS: ReadonlySet<string> = new Set(CALL_SIGNAL_KINDS);
const isSignalKind = (kind: string): kind is CallSignalKind => SIGNAL_KINDS.has(kind);
const ENDING: ReadonlySet<string> = new Set(["decline", "busy", "hangup"]);

interface CallEntry {
	callId: string;
	peerId: string;
	direction: "outgoing" | "incoming";
	video: boolean;
	state: "ringing" | "active";
	/** The peer's device in the call: the caller's for an incoming call, the one that accepted for an outgoing call. */
	peerDevice: string | null;
	/** The media connected: the relay's unsealed words can no longer end the call. */
	connected: boolean;
	timer: ReturnType<typeof setTimeout> | null;
	/** Signals of one call leave in the order they were made, though sealing is async. */
	chain: Promise<unknown>;
}

/** What this device may send in each state of a call. */
function maySend(entry: CallEntry, kind: CallSignalKind): boolean {
	if (kind === "hangup") return true;
	if (entry.state === "active") return kind === "offer" || kind === "answer" || kind === "ice" || kind === "media";
	if (entry.direction === "outgoing") return kind === "ice";
	return kind === "ringing" || kind === "accept" || kind === "decline" || kind === "busy";
}

function endReason(kind: string, entry: CallEntry): CallEndReason {
	if (kind === "busy") return "busy";
	// Hanging up an incoming call that has not been answered declines it.
	if (kind === "decline" || (entry.direction === "incoming" && entry.state === "ringing")) return "declined";
	return "hangup";
}

/**
 * The signaling half of calls, which the relay routes but must neither read nor forge:
 * seals every signal with the contact key under a "call:" kind, opens and checks what
 * arrives, and keeps track of each call's state and peer device so that stray or replayed
 * signals are dropped. Media is not its business:
 * see CallSession.
 */
export class CallSignaling {
	private readonly calls = new Map<string, CallEntry>();
	private readonly ended = new Set<string>();
	/**
	 * What the relay says about calls is handled in the order it arrived. A peer's signal is
	 * opened asynchronously, so without this a refusal that its own `busy` or `decline` caused
	 * (the caller's next ICE candidate, for a call the relay has just ended) would overtake it
	 * and end the call as an error instead of as busy or declined.
	 */
	private inbound: Promise<unknown> = Promise.resolve();

	constructor(private readonly deps: CallSignalingDeps) {}

	/** Ring a contact's devices with an SDP offer. Refusals (`peer_unreachable`, …) arrive as `call_ended` with an error. */
	async start(peerId: string, opts: { video: boolean; sdp: string }): Promise<OutgoingCall> {
		const entry: CallEntry = {
			callId: toB64u(randomBytes(16)),
			peerId,
			direction: "outgoing",
			video: opts.video,
			state: "ringing",
			peerDevice: null,
			connected: false,
			timer: null,
			chain: Promise.resolve(),
		};
		this.calls.set(entry.callId, entry);
		try {
			await this.enqueue(entry, { kind: "offer", sdp: opts.sdp, video: opts.video });
		} catch (err) {
			this.forget(entry);
			throw err;
		}
		// A refusal may have ended the call while the offer was being written.
		if (this.calls.get(entry.callId) !== entry) return { callId: entry.callId, peerId, video: opts.video };
		entry.timer = setTimeout(() => {
			if (this.calls.get(entry.callId) !== entry || entry.state !== "ringing") return;
			this.enqueue(entry, { kind: "hangup" }).catch(() => undefined);
			this.end(entry, "timeout", true);
		}, this.deps.ringTimeoutMs);
		return { callId: entry.callId, peerId, video: opts.video };
	}

	/** Send a signal of a call this device is in. Resolves once it is written on the socket. */
	send(callId: string, signal: OutgoingSignal): Promise<void> {
		const entry = this.calls.get(callId);
		if (!entry) return Promise.reject(new SdkError("not_found", "There is no such call: it ended."));
		if (!maySend(entry, signal.kind))
			return Promise.reject(new SdkError("conflict", `A ${signal.kind} signal does not fit this call's state.`));
		// The state changes now, in the order signals are made, not when they are written.
		if (signal.kind === "accept") {
			entry.state = "active";
			this.stopTimer(entry);
		}
		const written = this.enqueue(entry, signal);
		if (ENDING.has(signal.kind)) this.end(entry, endReason(signal.kind, entry), true);
		return written;
	}

	/** The call's media connected (see MessengerClient.callConnected). */
	connected(callId: string): void {
		const entry = this.calls.get(callId);
		if (entry?.state === "active") entry.connected = true;
	}

	/** Whether this device is in (or ringing for) this call. */
	has(callId: string): boolean {
		return this.calls.has(callId);
	}

	/** A `call` frame from the relay. */
	receive(frame: PeerCallFrame): Promise<void> {
		const run = () => this.receiveNow(frame);
		const done = this.inbound.then(run, run);
		this.inbound = done.catch(() => undefined);
		return done;
	}

	private async receiveNow(frame: PeerCallFrame): Promise<void> {
		const me = await this.deps.identity();
		const entry = this.calls.get(frame.id);
		// The relay's own events are not sealed, so they only stop a call whose media has not
		// connected (which the relay could as well prevent by dropping its signals): a connected
		// call ends by the peer's sealed hangup, or by its media failing.
		if (frame.kind === "answered_elsewhere" || frame.kind === "declined_elsewhere") {
			if (entry?.direction === "incoming" && !entry.connected && frame.from === me.accountId && entry.peerId === frame.to)
				this.end(entry, frame.kind, false);
			return;
		}
		if (frame.kind === "timeout") {
			if (entry && !entry.connected && frame.to === me.accountId && entry.peerId === frame.from) this.end(entry, "timeout", false);
			return;
		}
		const { kind, fromDevice } = frame;
		if (!isSignalKind(kind) || fromDevice === undefined || frame.to !== me.accountId || frame.from === me.accountId) return;
		let signal: CallSignal | null;
		try {
			signal = await this.open(frame, kind, fromDevice);
		} catch (err) {
			if (!(err instanceof SdkError)) throw err;
			this.deps.events.error(err);
			return;
		}
		if (signal === null) return;
		if (signal.kind === "offer") {
			if (!entry && !this.ended.has(frame.id)) this.ring({ ...signal, receivedAt: frame.at });
			else if (entry?.state === "active" && entry.peerId === frame.from && entry.peerDevice === fromDevice)
				this.deps.events.call_signal(signal);
			return;
		}
		if (!entry || entry.peerId !== frame.from) return;
		// The peer's microphone and camera matter only in an accepted call.
		if (kind === "media" && entry.state !== "active") return;
		// Before an accept any device of the callee may answer; from then on only the one in the call.
		if ((entry.direction === "incoming" || entry.state === "active") && entry.peerDevice !== fromDevice) return;
		if (entry.direction === "outgoing" && entry.state === "ringing") {
			// Media signals only come after an accept, from the device that accepted.
			if (kind === "answer" || kind === "ice") return;
			if (kind === "accept") {
				entry.state = "active";
				entry.peerDevice = fromDevice;
				this.stopTimer(entry);
			}
		} else if (kind === "accept" || kind === "ringing") {
			return;
		}
		this.deps.events.call_signal(signal);
		if (ENDING.has(kind)) this.end(entry, kind === "busy" ? "busy" : kind === "decline" ? "declined" : "hangup", false);
	}

	/**
	 * The relay refused a signal of this call (its `error` frame names the call id). True if
	 * the error was this module's to handle. A refusal ends the call, except a passing one
	 * (rate limit, a malformed frame) in an accepted call, and any in a call whose media
	 * connected: an error frame is no more authentic than the relay's other unsealed words.
	 */
	refused(callId: string, error: SdkError): boolean {
		if (!this.calls.has(callId)) return this.ended.has(callId);
		const run = () => this.refusedNow(callId, error);
		this.inbound = this.inbound.then(run, run);
		return true;
	}

	private refusedNow(callId: string, error: SdkError): void {
		const entry = this.calls.get(callId);
		// Ended meanwhile, by what arrived before this refusal: nothing is left to refuse.
		if (!entry) return;
		const passing =
			error.code === "rate_limited" || error.code === "bad_request" || error.code === "too_large" || error.code === "internal";
		if (entry.connected || (entry.state === "active" && passing)) {
			this.deps.events.error(error);
			return;
		}
		// The call ends here, so the peer is told rather than left ringing until the timeout (say a
		// callee suspended while it rang: its accept is refused, its hangup passes). For a call the
		// relay never took (a refused offer) the hangup is refused as not_found, and ignored.
		this.enqueue(entry, { kind: "hangup" }).catch(() => undefined);
		this.end(entry, "error", true, error);
	}

	/** The client closed: every call ends here, without telling anyone (the relay times them out). */
	closeAll(error: SdkError): void {
		for (const entry of [...this.calls.values()]) this.end(entry, "error", true, error);
	}

	private ring(offer: CallSignal & { kind: "offer"; receivedAt: number }): void {
		const busy = [...this.calls.values()].some((c) => c.state === "active");
		const entry: CallEntry = {
			callId: offer.callId,
			peerId: offer.peerId,
			direction: "incoming",
			video: offer.video,
			state: "ringing",
			peerDevice: offer.fromDevice,
			connected: false,
			timer: null,
			chain: Promise.resolve(),
		};
		this.calls.set(entry.callId, entry);
		if (busy) {
			this.send(entry.callId, { kind: "busy" }).catch(() => undefined);
			return;
		}
		// A little longer than the relay's ring, whose `timeout` normally comes first.
		entry.timer = setTimeout(() => this.end(entry, "timeout", true), this.deps.ringTimeoutMs + 5_000);
		this.deps.events.call_incoming({
			callId: offer.callId,
			peerId: offer.peerId,
			fromDevice: offer.fromDevice,
			video: offer.video,
			sdp: offer.sdp,
			receivedAt: offer.receivedAt,
		});
		this.enqueue(entry, { kind: "ringing" }).catch(() => undefined);
	}

	/**
	 * Open and check a signal; null for a stale offer (a replay). Throws SdkError("undecryptable")
	 * for anything forged or broken, an unsealed signal included.
	 */
	private async open(frame: PeerCallFrame, kind: CallSignalKind, fromDevice: string): Promise<CallSignal | null> {
		const base = { callId: frame.id, peerId: frame.from, fromDevice };
		const { keyVersion, nonce, box } = frame;
		if (keyVersion === undefined || nonce === undefined || box === undefined)
			throw new SdkError("undecryptable", `A ${kind} signal of a call arrived unsealed: not from the contact.`);
		const key = await this.deps.keys.get(frame.from, keyVersion);
		if (!key) throw new SdkError("undecryptable", `A ${kind} signal of a call arrived under a contact key this device does not have.`);
		let opened: ReturnType<typeof openMessage>;
		try {
			const routing = { id: frame.id, from: frame.from, fromDevice, to: frame.to, keyVersion, kind: sealedSignalKind(kind) };
			opened = openMessage(key, routing, nonce, box);
		} catch (err) {
			if (!(err instanceof CryptoError)) throw err;
			const why = `A ${kind} signal of a call was refused (${err.code}): altered, or not from this call.`;
			throw new SdkError("undecryptable", why, { cause: err });
		}
		let signal: OutgoingSignal;
		try {
			signal = parseBody(kind, opened.body);
		} catch (err) {
			if (!(err instanceof ValidationError)) throw err;
			throw new SdkError("undecryptable", `A ${kind} signal of a call has a malformed body: ${err.message}`);
		}
		if (kind === "offer" && Date.now() - opened.header.sentAt > OFFER_MAX_AGE_MS) return null;
		return { ...base, ...signal };
	}

	private enqueue(entry: CallEntry, signal: OutgoingSignal): Promise<void> {
		const run = () => this.write(entry, signal);
		const written = entry.chain.then(run, run);
		entry.chain = written.catch(() => undefined);
		return written;
	}

	private async write(entry: CallEntry, signal: OutgoingSignal): Promise<void> {
		const me = await this.deps.identity();
		const latest = await this.deps.keys.latest(entry.peerId);
		if (!latest) throw new SdkError("not_a_contact", "There is no contact key for this account: is the contact accepted?");
		const { kind } = signal;
		const header = {
			id: entry.callId,
			from: me.accountId,
			fromDevice: me.deviceId,
			to: entry.peerId,
			keyVersion: latest.version,
			kind: sealedSignalKind(kind),
			sentAt: Date.now(),
		};
		const sealed = sealMessage(latest.key, header, bodyOf(signal));
		const frame: CallFrame = { type: "call", id: entry.callId, to: entry.peerId, kind, keyVersion: latest.version, ...sealed };
		if (fromB64u(sealed.box).length > MAX_SEALED_SIGNAL_BYTES_BY_KIND[kind] || JSON.stringify(frame).length > MAX_FRAME_CHARS) {
			throw new SdkError("too_large", `The ${kind} signal is too large to relay.`);
		}
		if (!this.deps.send(frame)) throw new SdkError("network", "Not connected to the relay: the call signal was not sent.");
	}

	private end(entry: CallEntry, reason: CallEndReason, local: boolean, error?: SdkError): void {
		if (this.calls.get(entry.callId) !== entry) return;
		this.forget(entry);
		this.deps.events.call_ended({ callId: entry.callId, peerId: entry.peerId, reason, local, ...(error && { error }) });
	}

	private forget(entry: CallEntry): void {
		this.stopTimer(entry);
		this.calls.delete(entry.callId);
		this.ended.add(entry.callId);
		if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.values().next().value as string);
	}

	private stopTimer(entry: CallEntry): void {
		if (entry.timer !== null) clearTimeout(entry.timer);
		entry.timer = null;
	}
}
