import { type CallSignalKind, type ErrorCode, MAX_SEALED_SIGNAL_BYTES_BY_KIND } from "../../../common/protocol/wire.ts";

/**
 * The routing rules of a 1:1 call, kept pure so every transition is testable
 * without a runtime. Both accounts' objects keep a record of the call: the caller's names
 * the calling device, the callee's the device that accepted. The callee's object decides
 * which device wins (it is the single writer of its own record), the caller's object only
 * follows.
 */

export type CallRole = "caller" | "callee";
export type CallState = "ringing" | "active";

export interface CallRecord {
	callId: string;
	peerId: string;
	role: CallRole;
	/** Caller: the calling device. Callee: the device that accepted (null while ringing). */
	ownDevice: string | null;
	/** Caller: the device of the peer that accepted (null while ringing). Callee: the calling device. */
	peerDevice: string | null;
	state: CallState;
	expiresAt: number;
}

/** An active call is forgotten after this long without a signal (the media flows peer to peer, not through us). */
export const ACTIVE_CALL_IDLE_MS = 6 * 60 * 60 * 1000;
/**
 * The caller's record of a ringing call outlives the callee's by this much, so an accept sent
 * in the callee's last second still finds it.
 */
export const CALLER_RING_GRACE_MS = 5_000;

/** Signals that end a call; a suspended account may still send these. */
export const ENDING_SIGNALS: ReadonlySet<CallSignalKind> = new Set(["decline", "busy", "hangup"]);

export type Refusal = { refuse: ErrorCode; why: string };
/** What becomes of the record once the signal is relayed. */
export type After = "keep" | "activate" | "end";

/** A signal from one of this account's devices. */
export type OutgoingStep =
	| Refusal
	/** A new call: ask the peer's object to ring its devices. */
	| { start: true }
	/** Relay it to the peer's object; `others` is what this account's other ringing devices are told. */
	| { forward: true; after: After; others?: "answered_elsewhere" | "declined_elsewhere" };

/** A signal from the peer's object. */
export type IncomingStep =
	| Refusal
	/** A new call: check the permission, then ring every online device. */
	| { ring: true }
	/** To every online device while ringing, to the one device in the call once accepted. */
	| { deliver: "ringing_devices" | "own_device"; after: After };

const noSuchCall: Refusal = { refuse: "not_found", why: "There is no such call: it ended or never started." };
const notNow = (kind: CallSignalKind): Refusal => ({ refuse: "conflict", why: `A ${kind} signal does not fit this call's state.` });

/**
 * The live call a signal from or to `peerId` belongs to; "new" for an offer that starts one
 * (never over a record that has not been swept yet), or the refusal.
 */
function callFor(stored: CallRecord | undefined, kind: CallSignalKind, peerId: string, now: number): CallRecord | "new" | Refusal {
	const call = stored && stored.expiresAt > now ? stored : undefined;
	if (!call) return kind === "offer" && !stored ? "new" : noSuchCall;
	return call.peerId === peerId ? call : noSuchCall;
}

/** What the calling device may send, on either side: hang up, ICE, and renegotiation and media state once the call is active. */
function fromCallingDevice(call: CallRecord, kind: CallSignalKind): After | null {
	if (kind === "hangup") return "end";
	if (kind === "ice" || (call.state === "active" && (kind === "offer" || kind === "answer" || kind === "media"))) return "keep";
	return null;
}

export function outgoingStep(
	stored: CallRecord | undefined,
	signal: { kind: CallSignalKind; to: string },
	deviceId: string,
	now: number,
): OutgoingStep {
	const call = callFor(stored, signal.kind, signal.to, now);
	if (call === "new") return { start: true };
	if ("refuse" in call) return call;
	const { kind } = signal;
	if (call.role === "caller") {
		if (call.ownDevice !== deviceId) return noSuchCall;
		const after = fromCallingDevice(call, kind);
		return after ? { forward: true, after } : notNow(kind);
	}
	if (call.state === "ringing") {
		switch (kind) {
			case "ringing":
				return { forward: true, after: "keep" };
			case "accept":
				return { forward: true, after: "activate", others: "answered_elsewhere" };
			case "decline":
			case "busy":
			case "hangup":
				// One device turning the call down turns it down for the account: the others stop ringing.
				return { forward: true, after: "end", others: "declined_elsewhere" };
			default:
				return { refuse: "conflict", why: "Accept the call before sending media signals." };
		}
	}
	if (call.ownDevice !== deviceId) return { refuse: "conflict", why: "Another of your devices answered this call." };
	if (kind === "hangup") return { forward: true, after: "end" };
	if (kind === "offer" || kind === "answer" || kind === "ice" || kind === "media") return { forward: true, after: "keep" };
	return notNow(kind);
}

export function incomingStep(
	stored: CallRecord | undefined,
	signal: { kind: CallSignalKind; from: string; fromDevice: string },
	now: number,
): IncomingStep {
	const call = callFor(stored, signal.kind, signal.from, now);
	if (call === "new") return { ring: true };
	if ("refuse" in call) return call;
	const { kind } = signal;
	if (call.role === "callee") {
		// The peer called us: only its calling device speaks for it.
		if (call.peerDevice !== signal.fromDevice) return noSuchCall;
		const after = fromCallingDevice(call, kind);
		return after ? { deliver: call.state === "ringing" ? "ringing_devices" : "own_device", after } : notNow(kind);
	}
	if (call.state === "ringing") {
		switch (kind) {
			case "ringing":
				return { deliver: "own_device", after: "keep" };
			case "accept":
				return { deliver: "own_device", after: "activate" };
			case "decline":
			case "busy":
			case "hangup":
				return { deliver: "own_device", after: "end" };
			default:
				return notNow(kind);
		}
	}
	if (call.peerDevice !== signal.fromDevice) return noSuchCall;
	if (kind === "hangup") return { deliver: "own_device", after: "end" };
	if (kind === "offer" || kind === "answer" || kind === "ice" || kind === "media") return { deliver: "own_device", after: "keep" };
	return notNow(kind);
}

export interface CallLimitRules {
	/** Sealed signal bytes one call may carry from this account's devices, all kinds together. */
	bytesPerCall: number;
	/** Signals of any kind per window, across the account's devices: ICE bursts fit under it. */
	signals: number;
	signalWindowMs: number;
	/** New calls per window: what stops call spam. */
	starts: number;
	startWindowMs: number;
}

export type CallLimitVerdict = { ok: true } | { ok: false; what: "signals" | "calls"; retryAfterMs: number };

/**
 * Whether a signal of `kind`, `size` sealed bytes, fits: under its kind's cap, and within the
 * call's byte budget with what the call's signals from this side already carried (`used`).
 * Ending signals always fit the budget, so a call that used it up can still be hung up.
 */
export function signalSizeRefusal(
	kind: CallSignalKind,
	size: number,
	used: number,
	rules: Pick<CallLimitRules, "bytesPerCall">,
): Refusal | null {
	const cap = MAX_SEALED_SIGNAL_BYTES_BY_KIND[kind];
	if (size > cap) return { refuse: "too_large", why: `A sealed ${kind} signal is at most ${cap} bytes; this one has ${size}.` };
	if (!ENDING_SIGNALS.has(kind) && used + size > rules.bytesPerCall) {
		return {
			refuse: "quota_exceeded",
			why: `This call has carried its ${Math.round(rules.bytesPerCall / 1024)} KiB of signaling from your side: hang up and call again.`,
		};
	}
	return null;
}

/**
 * Sliding windows over the account's recent signal and call-start times (newest first), read
 * from storage by the caller; separate from the message limit, so a call's ICE burst never uses up the sends.
 */
export function checkCallLimits(
	signalsDesc: readonly number[],
	startsDesc: readonly number[],
	isStart: boolean,
	now: number,
	rules: CallLimitRules,
): CallLimitVerdict {
	if (isStart) {
		const counted = startsDesc.filter((t) => t > now - rules.startWindowMs);
		if (counted.length >= rules.starts) {
			const oldest = counted[rules.starts - 1] ?? now;
			return { ok: false, what: "calls", retryAfterMs: Math.max(1, oldest + rules.startWindowMs - now) };
		}
	}
	const counted = signalsDesc.filter((t) => t > now - rules.signalWindowMs);
	if (counted.length >= rules.signals) {
		const oldest = counted[rules.signals - 1] ?? now;
		return { ok: false, what: "signals", retryAfterMs: Math.max(1, oldest + rules.signalWindowMs - now) };
	}
	return { ok: true };
}
