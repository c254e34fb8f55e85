import type { CallSessionEnd } from "../core/call-session.ts";
import type { CallLogEntry, CallOutcome, ChatMessage } from "./chat-message.ts";

/**
 * Call log lines and call requests in a conversation's history. Both are records of this
 * device only (IndexedDB, like the messages), never sent to the relay or a contact: each
 * device that took part in a call writes its own line. They sort with the messages by time,
 * have no relay id (so nothing can reply to, react to or delete them for everyone), and count
 * as unread only when they ask for attention: a missed call, or a call request.
 */

export const callLogKey = (callId: string): string => `call:${callId}`;
export const callRequestKey = (peerId: string): string => `call-request:${peerId}`;

/** "0:07", "12:34", "1:02:03": how long a call went on. */
export function formatClock(ms: number): string {
	const total = Math.floor(ms / 1000);
	const hours = Math.floor(total / 3600);
	const minutes = Math.floor((total % 3600) / 60);
	const seconds = String(total % 60).padStart(2, "0");
	return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

export interface CallFacts {
	callId: string;
	peerId: string;
	direction: "outgoing" | "incoming";
	video: boolean;
	reason: CallSessionEnd;
	/** This user hung up, cancelled or declined, here. */
	byMe: boolean;
	/** The media connected at some point. */
	connected: boolean;
	durationMs: number;
	/** When the call began ringing or was placed. */
	startedAt: number;
}

/** How a call went, for its log line; null when this device has nothing to log (another device of the account took it). */
export function callOutcome(f: Pick<CallFacts, "direction" | "reason" | "byMe" | "connected">): CallOutcome | null {
	if (f.connected) return "ended";
	if (f.reason === "answered_elsewhere") return null;
	const incoming = f.direction === "incoming";
	switch (f.reason) {
		case "declined":
		case "declined_elsewhere":
		case "busy":
			return "declined";
		case "hangup":
			// Hanging up a ringing incoming call is declining it; the caller giving up is a missed call.
			if (incoming) return f.byMe ? "declined" : "missed";
			return "no_answer";
		case "timeout":
			return incoming ? "missed" : "no_answer";
		case "failed":
		case "error":
			return incoming ? "missed" : "failed";
	}
}

/** The history record of a call's log line, or null when there is none to keep. */
export function callLogRecord(f: CallFacts): ChatMessage | null {
	const outcome = callOutcome(f);
	if (outcome === null) return null;
	const call: CallLogEntry = {
		direction: f.direction,
		video: f.video,
		outcome,
		...(outcome === "ended" && { durationMs: Math.max(0, f.durationMs) }),
	};
	return {
		key: callLogKey(f.callId),
		peerId: f.peerId,
		outgoing: f.direction === "outgoing",
		text: callLogText(call),
		at: f.startedAt,
		state: f.direction === "outgoing" ? "sent" : "received",
		call,
		...(outcome === "missed" && { unread: 1 as const }),
	};
}

/** The line as shown: "Missed call", "Declined", "No answer", "Video call · 2:14". */
export function callLogText(call: CallLogEntry): string {
	switch (call.outcome) {
		case "ended":
			return `${call.video ? "Video call" : "Audio call"} · ${formatClock(call.durationMs ?? 0)}`;
		case "missed":
			return call.video ? "Missed video call" : "Missed call";
		case "declined":
			return "Declined";
		case "no_answer":
			return "No answer";
		case "failed":
			return "Call failed";
	}
}

/** The record of a contact's waiting call request (`handle` as shown: "@alice"); unread until seen. */
export function callRequestRecord(peerId: string, handle: string, at: number): ChatMessage {
	return {
		key: callRequestKey(peerId),
		peerId,
		outgoing: false,
		text: `${handle} wants to call you`,
		at,
		state: "received",
		callRequest: true,
		unread: 1,
	};
}
