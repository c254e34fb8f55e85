import type { Contact } from "../../common/protocol/wire.ts";
import type { ChatMessage } from "./chat-message.ts";
import { safeFileName } from "./download-name.ts";
import { INLINE_IMAGE_TYPES } from "./features/file-cache.ts";

/**
 * The contact list as a messenger people use every day orders it: by what happened last, from
 * the device's own history. The relay's order says nothing of that (and the relay never sees
 * when a message was sealed), so the order, like the previews, is made here.
 */

/** The newest message of each conversation in the local history, by the contact's account id. */
export type LastMessages = Record<string, ChatMessage>;

/** Newer first; ties by key, as the conversations break them, so that the order never flickers. */
const newer = (a: ChatMessage, b: ChatMessage): number => b.at - a.at || b.key.localeCompare(a.key);

/**
 * Requests to answer first (by handle, as before); blocked contacts last (by handle: nothing
 * comes from them); everyone else by the newest message of their conversation, newest first,
 * then those with no message yet, the latest change of the contact (a request, an acceptance) first.
 */
const GROUP: Record<Contact["state"], number> = { incoming: 0, accepted: 1, outgoing: 1, declined: 1, blocked: 2 };

export function orderContacts(contacts: readonly Contact[], last: LastMessages): Contact[] {
	const byActivity = (a: Contact, b: Contact): number => {
		const la = last[a.accountId];
		const lb = last[b.accountId];
		if (la && lb) return newer(la, lb);
		if (la || lb) return la ? -1 : 1;
		return b.updatedAt - a.updatedAt;
	};
	return [...contacts].sort(
		(a, b) =>
			GROUP[a.state] - GROUP[b.state] ||
			(GROUP[a.state] === 1 ? byActivity(a, b) : 0) ||
			a.handle.localeCompare(b.handle) ||
			a.accountId.localeCompare(b.accountId),
	);
}

/**
 * The one line a contact's row shows of the last message: its text (on one line, the view
 * cuts it), "Photo" or "📎 name" for a file, "You: " before one of this account's. A deleted
 * message says so; one no key of this device opens shows nothing, as it says nothing.
 */
export function previewText(message: ChatMessage): string {
	if (message.state === "unreadable") return "";
	if (message.deleted) return "This message was deleted.";
	const file = message.attachment ?? message.file;
	const body = file
		? INLINE_IMAGE_TYPES.has(file.type)
			? "Photo"
			: `📎 ${safeFileName(file.name)}`
		: message.text.replace(/\s+/g, " ").trim();
	return message.outgoing ? `You: ${body}` : body;
}

/**
 * The last messages once `message` is shown (instead of the one under `replacing`, a send the
 * relay just confirmed), or null when that changes nothing: an older message (one that came
 * late, an edit of an earlier one) leaves its conversation's last as it is.
 */
export function withShown(last: LastMessages, message: ChatMessage, replacing?: string): LastMessages | null {
	const current = last[message.peerId];
	if (current && current.key !== message.key && current.key !== replacing && newer(current, message) < 0) return null;
	return { ...last, [message.peerId]: message };
}

/** The last messages without `key`, when it was its conversation's last (the one before it must then be read from the history), else null. */
export function withoutShown(last: LastMessages, peerId: string, key: string): LastMessages | null {
	if (last[peerId]?.key !== key) return null;
	const { [peerId]: _, ...rest } = last;
	return rest;
}

/**
 * The last messages read from the history merged into those shown meanwhile: per
 * conversation the newer wins, because a message shown while the history was read may not be
 * in what was read.
 */
export function mergeLast(shown: LastMessages, loaded: LastMessages): LastMessages {
	const merged: LastMessages = { ...loaded };
	for (const [peerId, message] of Object.entries(shown)) {
		const other = merged[peerId];
		if (!other || newer(message, other) <= 0) merged[peerId] = message;
	}
	return merged;
}

/** The newest of a conversation's messages (listed oldest first, as loaded), if any. */
export const lastOf = (messages: readonly ChatMessage[]): ChatMessage | undefined => messages[messages.length - 1];
