import type { PushPayload } from "../../../common/protocol/wire.ts";

export type PushKind = PushPayload["kind"];

/** What was last pushed to one device, and how many events have waited since. */
export interface PushWindow {
	lastPushAt: number;
	/** When the last call push went, or null: a call is held back only by another call. */
	lastCallAt: number | null;
	/** Events held back since the last push: the next one counts them. */
	held: number;
}

export interface PushDecision {
	/** Push now, with this count (the events since the last push, this one included), or hold it. */
	send: { count: number } | null;
	window: PushWindow;
}

/**
 * At most one push per device per interval: within it, a later event is not pushed but
 * counted, and the next push (the first event after the interval) carries the count. Nothing
 * goes out when an interval ends: the notification the device already shows says there is
 * something new, and the app shows the rest when it opens. A call is the exception: it rings
 * for seconds, so a message pushed just before it does not hold it back; only a call does.
 */
export function coalescePush(window: PushWindow | undefined, kind: PushKind, now: number, intervalMs: number): PushDecision {
	const since = kind === "call" ? (window?.lastCallAt ?? null) : (window?.lastPushAt ?? null);
	if (window && since !== null && now - since < intervalMs) {
		return { send: null, window: { ...window, held: window.held + 1 } };
	}
	const held = window?.held ?? 0;
	return {
		send: { count: held + 1 },
		window: { lastPushAt: now, lastCallAt: kind === "call" ? now : (window?.lastCallAt ?? null), held: 0 },
	};
}
