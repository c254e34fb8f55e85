import type { MessageRef, Reaction } from "../core/message-body.ts";
import { type ChatMessage, receivedKey, sentKey } from "./chat-message.ts";

/**
 * The history key of the message `ref` names in the conversation with `peerId`, or null when
 * it names neither account of it: a reply or reaction only ever points into its own conversation.
 */
export function refKey(ref: MessageRef, peerId: string, myAccountId: string): string | null {
	if (ref.from === myAccountId) return sentKey(ref.id);
	if (ref.from === peerId) return receivedKey(peerId, ref.id);
	return null;
}

/** The reference to a message of the history as it goes on the wire: its sender's account id and its id. */
export function refOf(message: ChatMessage, myAccountId: string): MessageRef | null {
	if (message.id === undefined) return null;
	return { id: message.id, from: message.outgoing ? myAccountId : message.peerId };
}

/**
 * `target` with `reactor`'s reaction set to `reaction.emoji` ("" takes it back), or null when
 * that changes nothing: each account has one reaction per message, the latest it sent. A
 * message deleted for everyone or unreadable takes none.
 */
export function withReaction(target: ChatMessage, reactor: string, emoji: Reaction["emoji"]): ChatMessage | null {
	if (target.deleted || target.state === "unreadable") return null;
	const current = target.reactions?.[reactor];
	if ((current ?? "") === emoji) return null;
	const { [reactor]: _, ...others } = target.reactions ?? {};
	const reactions = emoji === "" ? others : { ...others, [reactor]: emoji };
	const { reactions: __, ...rest } = target;
	return Object.keys(reactions).length > 0 ? { ...rest, reactions } : rest;
}

/** The chips under a message: each reaction with its count and whether this account gave it, in the order of the set. */
export function reactionCounts(
	message: ChatMessage,
	order: readonly string[],
	myAccountId: string | undefined,
): { emoji: string; count: number; mine: boolean }[] {
	const given = Object.entries(message.reactions ?? {});
	return order
		.map((emoji) => ({
			emoji,
			count: given.filter(([, e]) => e === emoji).length,
			mine: given.some(([who, e]) => e === emoji && who === myAccountId),
		}))
		.filter((c) => c.count > 0);
}
