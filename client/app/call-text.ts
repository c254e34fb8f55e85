import type { CallSessionEnd } from "../core/call-session.ts";
import type { SdkError } from "../core/sdk-error.ts";
import { formatDuration } from "./format.ts";

export interface CallEndFacts {
	reason: CallSessionEnd;
	error?: SdkError | undefined;
	direction: "outgoing" | "incoming";
	/** The other person, as shown: "@bob". */
	peer: string;
	/** This user hung up, cancelled or declined, here. */
	byMe: boolean;
	/** The media connected at some point. */
	connected: boolean;
	durationMs: number;
}

export interface CallEnd {
	/** Why the call ended, as a sentence. */
	text: string;
	tone: "info" | "error";
	/** Calling again may help (it was not answered, or could not connect). */
	canRetry: boolean;
	/** Nothing to read twice: the screen closes by itself after a moment. */
	autoClose: boolean;
}

/** getUserMedia's refusals (a DOMException, kept as the cause of the SDK's error). */
function mediaText(error: SdkError | undefined): string | null {
	const cause = error?.cause;
	if (!(cause instanceof DOMException)) return null;
	switch (cause.name) {
		case "NotAllowedError":
		case "SecurityError":
			return "The browser did not let the app use the camera or microphone. Allow them for this site, then call again.";
		case "NotFoundError":
		case "OverconstrainedError":
			return "No camera or microphone was found on this device.";
		case "NotReadableError":
		case "AbortError":
			return "The camera or microphone could not be started. Another app may be using it.";
		default:
			return null;
	}
}

/** The relay's (or the SDK's) refusal of a call, as a sentence. */
function refusalText(error: SdkError | undefined, peer: string): { text: string; canRetry: boolean } {
	const media = mediaText(error);
	if (media) return { text: media, canRetry: true };
	switch (error?.code) {
		case "peer_unreachable":
			// Also what a call to a suspended account gets: a suspension is not shown to contacts.
			return {
				text: `${peer} cannot be reached right now: none of their devices is online, or they cannot take calls at the moment. Try again later.`,
				canRetry: true,
			};
		case "calls_not_allowed":
			return {
				text: `${peer} has not allowed calls from you. Only they can turn it on, under “Contact info” in their chat with you.`,
				canRetry: false,
			};
		case "not_a_contact":
			return { text: "You can only call accepted contacts.", canRetry: false };
		case "rate_limited":
			return {
				text:
					error.retryAfter === undefined
						? "You are starting calls too often. Please wait a few minutes."
						: `You are starting calls too often. You can call again in ${formatDuration(error.retryAfter)}.`,
				canRetry: false,
			};
		case "suspended":
			return { text: "Your account is suspended, so it can neither make nor take calls.", canRetry: false };
		case "not_found":
			return { text: "The call is over: it ended before this device could join it.", canRetry: true };
		case "conflict":
			return { text: "The call changed on the other side before this device could join it. Please try again.", canRetry: true };
		case "stale_key":
			return { text: "The conversation's key changed just now. Please call again.", canRetry: true };
		case "network":
			return { text: "The connection to the server was lost, so the call ended.", canRetry: true };
		case "closed":
			return { text: "The app was opened in another tab or window, so the call ended here.", canRetry: false };
		case "undecryptable":
			return { text: "A message of this call could not be decrypted, so the call ended.", canRetry: true };
		default:
			return { text: "The call failed. Please try again.", canRetry: true };
	}
}

/** How a call ended, in words, for the call screen: every `ended.reason` of CallSession and every refusal code. */
export function callEndText(f: CallEndFacts): CallEnd {
	const after = f.connected ? ` after ${formatDuration(f.durationMs)}` : "";
	const outgoing = f.direction === "outgoing";
	const done = (text: string): CallEnd => ({ text, tone: "info", canRetry: false, autoClose: true });
	const unanswered = (text: string): CallEnd => ({ text, tone: "info", canRetry: outgoing, autoClose: false });
	switch (f.reason) {
		case "hangup":
			if (f.byMe)
				return done(f.connected ? `You ended the call${after}.` : outgoing ? "You cancelled the call." : "You declined the call.");
			if (f.connected) return done(`${f.peer} ended the call${after}.`);
			return unanswered(outgoing ? `${f.peer} did not take the call.` : `You missed a call from ${f.peer}.`);
		case "declined":
			return outgoing ? unanswered(`${f.peer} declined the call.`) : done("You declined the call.");
		case "busy":
			return outgoing ? unanswered(`${f.peer} is in another call. Try again later.`) : done("You were in another call.");
		case "timeout":
			return unanswered(outgoing ? `${f.peer} did not answer.` : `You missed a call from ${f.peer}.`);
		case "answered_elsewhere":
			return done("You answered this call on another of your devices.");
		case "declined_elsewhere":
			return done("This call was declined on another of your devices.");
		case "failed":
			return {
				text: `The call could not connect: this device and ${f.peer}'s could not reach each other. Another network may work better.`,
				tone: "error",
				canRetry: outgoing,
				autoClose: false,
			};
		case "error": {
			const refusal = refusalText(f.error, f.peer);
			return { text: refusal.text, tone: "error", canRetry: outgoing && refusal.canRetry, autoClose: false };
		}
	}
}

/** While the callee is asked to allow calls from this account (they had not). */
export const askingText = (peer: string): string => `Asking ${peer} to allow calls…`;

/**
 * The callee said not now to the call request. Calm, and no more than that: not whether they
 * saw it, nor whether they may say yes later.
 */
export function callRequestNotNowText(peer: string): CallEnd {
	return { text: `${peer} can't take calls from you right now.`, tone: "info", canRetry: false, autoClose: false };
}
