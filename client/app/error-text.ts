import { SdkError, type SdkErrorCode, type UntrustedReason } from "../core/sdk-error.ts";
import { formatDuration, formatWhen } from "./format.ts";
import { HistoryArchiveError } from "./history-archive.ts";

/**
 * What the user was doing, where one code means different things. `link`: this new device
 * claims a link code; `link-code`: an approved device makes one for a new device; `restore`:
 * a new browser signs in with the recovery key; `recovery`: an approved device makes one;
 * `history`: the history of the account goes to a newly linked device, from either end.
 */
export type ErrorContext =
	| "register"
	| "link"
	| "link-code"
	| "restore"
	| "recovery"
	| "contact"
	| "send"
	| "device"
	| "file"
	| "history"
	| "report"
	| "general";

const SENTENCES: Record<SdkErrorCode, string> = {
	bad_request: "That could not be accepted.",
	unauthorized: "This device could not sign in. It may have been removed from the account.",
	forbidden: "That is not allowed for this account.",
	not_found: "That could not be found.",
	handle_taken: "That handle is taken. Please choose another one.",
	conflict: "Something changed at the same time. Please try again.",
	already_contact: "They are already your contact.",
	not_a_contact: "You can only write to accepted contacts.",
	too_large: "That message is too long.",
	recipient_queue_full: "Their inbox is full because too many messages wait for them. Please try again later.",
	rate_limited: "You are sending too fast.",
	quota_exceeded: "You have used today's message allowance.",
	cancelled: "The message was taken back before it was sent.",
	insufficient_credits: "You do not have enough credits for that.",
	suspended: "Your account is suspended. You can still read messages.",
	device_pending: "This device is waiting for approval from one of your other devices.",
	device_revoked: "This device was removed from the account.",
	too_many_devices:
		"This account has no room for another device: it has reached its device limit, or several devices are already waiting for approval.",
	stale_key: "The conversation's key changed. Please try again.",
	peer_unreachable: "They cannot be reached right now. Please try again later.",
	calls_not_allowed: "They do not take calls from you.",
	server_misconfigured: "The server is not set up correctly. Please tell its operator.",
	not_configured: "This server does not offer that.",
	unavailable: "The server's file storage is not answering. Nothing was lost; please try again in a minute.",
	internal: "Something went wrong on the server. Please try again.",
	network: "The server cannot be reached. Check your connection; the app keeps trying.",
	undecryptable: "A message could not be decrypted on this device.",
	closed: "The app was opened in another tab or window, so this one stopped.",
	untrusted:
		"Something the server sent failed a security check, so this app did not use it. If this keeps happening, the server may be tampering with keys.",
	identity_changed:
		"This contact's safety number changed since you verified it. Look at the new number in the chat and acknowledge it before you send again.",
};

/** Whether the relay sent a code this app knows (an unknown one reads as `internal`). */
export function isKnownErrorCode(code: string): code is SdkErrorCode {
	return Object.hasOwn(SENTENCES, code);
}

// Validation messages from the SDK and relay name the field; these are the ones a user can fix.
const VALIDATION_HINTS: Array<[RegExp, string]> = [
	[/handle/i, "A handle is 3 to 32 letters (a–z), digits or underscores."],
	[/deviceName|device name/i, "A device name is 1 to 64 characters."],
	[/reason/i, "Please say briefly why you report this account (up to 500 characters)."],
	[/text/i, "A message needs some text."],
];

/** What a failed security check was about, by the reason the SDK gives. */
const UNTRUSTED_HINTS: Record<UntrustedReason, string> = {
	link_claim: "A device tried to use your link code without knowing the code, so it was turned away. Nothing was shared with it.",
	link_approval:
		"The approval of this device failed a security check, so it did not take the account's keys. Remove it on your other device and link it again.",
	rotation: "The server asked for a new conversation key without a reason this app could check, so it was ignored.",
	device_list:
		"The server sent a list of devices that failed a security check, so this app did not use it. If this keeps happening, the server may be tampering with keys.",
};

/** The link code's form, for a typed code that is not one. */
const LINK_CODE_FORM =
	"That is not a link code. It looks like alice-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A: the handle, then four groups of six letters and digits.";

/** Words that are not a recovery key at all (the SDK checks the word list and the checksum). */
export const NOT_A_RECOVERY_KEY =
	"That is not a recovery key. A recovery key is 12 words from the recovery word list, in their order: check each word against your saved copy.";

/** The relay says the same for a wrong key, an unknown handle and an account without a backup, so nobody can probe for accounts. */
export const RECOVERY_KEY_MISMATCH =
	"The recovery key does not match this account. Check the handle and each word; if the account made a newer recovery key, only that one works.";

/** What a refusal of a restore means, or null when the general sentence says it. */
function restoreText(error: SdkError): string | null {
	switch (error.code) {
		case "bad_request":
			return /recovery key/i.test(error.message) ? NOT_A_RECOVERY_KEY : null;
		case "unauthorized":
			return RECOVERY_KEY_MISMATCH;
		case "rate_limited": {
			// Two limits answer alike: failed restores of this account (up to an hour), and
			// restores from this network (a minute). Both are true to say; the wait tells which.
			const wait = error.retryAfter === undefined ? "in an hour" : `in ${formatDuration(error.retryAfter)}`;
			return `Too many restores were tried lately, for this account or from this network, so the server takes no more for now. You can try again ${wait}.`;
		}
		case "untrusted":
			return "The account's key backup or its device list failed a security check, so this browser did not sign in with it. Nothing was changed; if this keeps happening, the server may be tampering with keys.";
		case "too_many_devices":
			return "This account has no room for another device. On one of its devices, remove a device it no longer uses, then try again.";
		case "conflict":
			return "This browser already holds a device of an account. Reload the page.";
		default:
			return null;
	}
}

/** What a failed history transfer means, or null when the general sentence says it. */
function historyText(error: SdkError): string | null {
	switch (error.code) {
		case "not_found":
			return "This history transfer is over: it was skipped or it expired.";
		case "conflict":
			return "The history has not been sent yet. Please wait for your other device.";
		case "too_large":
			return "The history is too large to send in one go.";
		case "untrusted":
			return "The history failed a security check (it was changed on its way, or its offer did not come from a device of your account), so nothing of it was imported.";
		default:
			return null;
	}
}

/** A refused contact request, naming the handle asked for where the sentence is about that person. */
export function contactRequestText(err: unknown, handle: string): string {
	if (err instanceof SdkError && err.code === "already_contact") return `@${handle} is already your contact.`;
	return errorText(err, "contact");
}

/** Storage refused by the browser (private mode, blocked site data, a third-party frame). */
const STORAGE_ERRORS = new Set(["UnknownError", "SecurityError", "InvalidStateError", "QuotaExceededError"]);

/** A readable sentence for anything thrown by the SDK or the browser: never a raw code. */
export function errorText(err: unknown, context: ErrorContext = "general"): string {
	if (!(err instanceof SdkError)) {
		if (err instanceof HistoryArchiveError) {
			if (err.problem === "too_large") return "The history is too large to send in one go.";
			if (err.problem === "other_account") return "The history came from another account, so nothing of it was imported.";
			return "The history arrived damaged or in a form this app does not read, so nothing of it was imported.";
		}
		if (err instanceof DOMException && STORAGE_ERRORS.has(err.name)) {
			return "This browser does not let the app keep its keys. Private browsing or blocked site data can cause this.";
		}
		return "Something went wrong in this browser. Please reload the page.";
	}
	const error = err;
	const { code } = error;
	if (context === "restore") {
		const text = restoreText(error);
		if (text) return text;
	}
	if (context === "history") {
		const text = historyText(error);
		if (text) return text;
	}
	if (code === "untrusted" && context === "recovery") {
		return "The recovery key the server names for this account was not made by one of its devices, so this app does not trust it. Make a new recovery key.";
	}
	if (code === "device_pending" && context === "recovery") return "Only a device that holds the account's keys can make a recovery key.";
	if (code === "bad_request" && context === "link" && /link code/i.test(error.message)) return LINK_CODE_FORM;
	if (code === "untrusted" && error.reason !== undefined) return UNTRUSTED_HINTS[error.reason];
	if (code === "bad_request") {
		const hint = VALIDATION_HINTS.find(([pattern]) => pattern.test(error.message));
		if (hint) return hint[1];
	}
	if (code === "not_found") {
		if (context === "contact") return "No one uses that handle.";
		// The relay says the same for an unknown handle, an unknown code and a used one, so nobody can probe for handles.
		if (context === "link") return "This link code is not valid: it may have expired or been used. Ask your other device for a new one.";
		if (context === "device") return "That device is no longer waiting for approval.";
		if (context === "file")
			return "This file is no longer on the server: files expire after 30 days, and a deleted message takes its file along.";
	}
	if (code === "undecryptable" && context === "file") return "This file was changed or cut short on its way, so it was not opened.";
	if (code === "unauthorized" && context === "register") return "The server refused this device's signature. Please reload and try again.";
	if (code === "forbidden" && context === "device") return "Approve a new device on the device that shows its link code.";
	if (code === "rate_limited" && context === "link-code") {
		const wait = error.retryAfter === undefined ? "" : ` You can make another in ${formatDuration(error.retryAfter)}.`;
		return `Three link codes are open already: use or cancel one of them first.${wait}`;
	}
	if (code === "rate_limited" && context === "link") {
		const wait = error.retryAfter === undefined ? "later" : `in ${formatDuration(error.retryAfter)}`;
		return `Too many devices tried to join lately, this account or from this network. Please try again ${wait}.`;
	}
	if (code === "rate_limited" && context === "register") {
		const wait = error.retryAfter === undefined ? "in a minute" : `in ${formatDuration(error.retryAfter)}`;
		return `Too many accounts were just created from this network. You can create yours ${wait}.`;
	}
	if (code === "rate_limited" && context === "report") {
		// The relay limits reports per account a day (REPORTS_PER_DAY); blocking has no limit.
		const wait = error.retryAfter === undefined ? "later" : `in ${formatDuration(error.retryAfter)}`;
		return `You have made as many reports today as the server takes. You can report again ${wait}; you can block this contact now.`;
	}
	if (code === "rate_limited" && error.retryAfter !== undefined) {
		return `${SENTENCES.rate_limited} You can send again in ${formatDuration(error.retryAfter)}.`;
	}
	if (code === "quota_exceeded" && error.retryAfter !== undefined) {
		return `${SENTENCES.quota_exceeded} The next send frees up ${formatWhen(Date.now() + error.retryAfter)}.`;
	}
	if (code === "suspended" && error.retryAfter !== undefined) {
		return `Your account is suspended until ${formatWhen(Date.now() + error.retryAfter)}. You can still read messages.`;
	}
	return SENTENCES[code] ?? SENTENCES.internal;
}
