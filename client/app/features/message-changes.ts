import type { ReactionEmoji } from "../../../common/protocol/wire.ts";
import type { IncomingMessage, MessengerClient } from "../../core/sdk.ts";
import { type ChatMessage, messageKey } from "../chat-message.ts";
import type { MessageHistory } from "../message-history.ts";
import { refKey, refOf, withReaction } from "../reactions.ts";
import type { Account } from "./account.ts";
import type { Conversations } from "./conversations.ts";
import type { FileCache } from "./file-cache.ts";
import type { Receipts } from "./receipts.ts";

/** Whether a change (edit or delete) may apply to `target`: only the sender may change a message, ours from our devices, theirs from theirs. */
export function mayChange(target: ChatMessage | undefined, change: Pick<IncomingMessage, "peerId" | "outgoing">): target is ChatMessage {
	return !!target && target.peerId === change.peerId && target.outgoing === change.outgoing && !target.deleted;
}

export function editedCopy(message: ChatMessage, text: string, edit: { seq: number; id: string }): ChatMessage {
	return { ...message, text, edited: true, editSeq: edit.seq, editId: edit.id };
}

/**
 * Whether an edit numbered `seq` (with id `id`) replaces the one `message` shows. The highest
 * number wins; two devices of the sender that edited at once made the same number, and the
 * larger edit id wins, so every device ends up showing the same text whatever the order.
 */
export function editWins(message: ChatMessage, edit: { seq: number; id: string }): boolean {
	const shown = message.editSeq ?? 0;
	return edit.seq > shown || (edit.seq === shown && edit.id > (message.editId ?? ""));
}

/** A message deleted for everyone keeps its place, without its text or file. */
export function deletedCopy(message: ChatMessage): ChatMessage {
	const { attachment: _, edited: __, ...rest } = message;
	return { ...rest, text: "", deleted: true };
}

/**
 * Edits and deletions for everyone of earlier messages (the user's own, and those their sender
 * made), reactions to them, and deletions from this device only.
 */
export class MessageChanges {
	constructor(
		private readonly client: Pick<MessengerClient, "editMessage" | "deleteMessage" | "react">,
		private readonly history: Pick<MessageHistory, "get" | "put" | "forget">,
		private readonly conversations: Pick<Conversations, "show" | "remove">,
		private readonly receipts: Pick<Receipts, "delivered" | "takeHeld" | "edited">,
		private readonly account: Pick<Account, "charged">,
		private readonly files: Pick<FileCache, "forget">,
	) {}

	/** Replace the text of a message this account sent (it costs the edit price); throws the relay's refusal. */
	async edit(message: ChatMessage, text: string): Promise<void> {
		if (!message.id) return;
		const seq = (message.editSeq ?? 0) + 1;
		const receipt = await this.client.editMessage(message.peerId, message.id, text, { seq });
		const updated = editedCopy(message, text, { seq, id: receipt.id });
		await this.history.put(updated);
		this.conversations.show(updated);
		this.account.charged(receipt);
		this.receipts.edited(receipt.id, message.id);
		// Acked before its `sent` came back: the receipt waited under the edit's id.
		for (const deviceId of this.receipts.takeHeld(receipt.id) ?? []) await this.receipts.delivered([message.id], deviceId);
	}

	/** Delete a message this account sent, for everyone (it costs the delete price). */
	async delete(message: ChatMessage): Promise<void> {
		if (!message.id) return;
		const receipt = await this.client.deleteMessage(message.peerId, message.id);
		this.conversations.show(await this.storeDeleted(message));
		this.account.charged(receipt);
	}

	/**
	 * React to a message (any of the conversation's, not deleted) with `emoji`, or "" to take
	 * this account's reaction back; it costs the reaction price. Kept on the message's record
	 * once the relay took it. `myAccountId`: this account, the reaction's key on the record.
	 */
	async react(message: ChatMessage, emoji: ReactionEmoji | "", myAccountId: string): Promise<void> {
		const to = refOf(message, myAccountId);
		if (!to || message.deleted) return;
		const receipt = await this.client.react(message.peerId, to, emoji);
		this.account.charged(receipt);
		// Read again: a reaction of the contact's may have come while this one was on its way.
		const current = (await this.history.get(message.key)) ?? message;
		const updated = withReaction(current, myAccountId, emoji);
		if (!updated) return;
		await this.history.put(updated);
		this.conversations.show(updated);
	}

	/**
	 * Remove a message from this device only (free: the relay is not asked, and every other
	 * device, the contact's included, keeps it), with the copy of its file kept here.
	 */
	async deleteForMe(message: ChatMessage): Promise<void> {
		await this.history.forget(message.key);
		if (message.attachment) await this.files.forget(message.attachment.id);
		this.conversations.remove(message.peerId, message.key);
	}

	/**
	 * A reaction from either account of the conversation (the contact's, or ours from another
	 * of our devices): folded into the record of the message it names, which comes back once
	 * stored; null when this device does not hold that message (it is ignored) or nothing changed.
	 */
	async storeReaction(message: IncomingMessage, myAccountId: string): Promise<ChatMessage | null> {
		if (!message.reaction) return null;
		const key = refKey(message.reaction.to, message.peerId, myAccountId);
		const target = key === null ? undefined : await this.history.get(key);
		if (!target || target.peerId !== message.peerId) return null;
		const updated = withReaction(target, message.from, message.reaction.emoji);
		if (!updated) return null;
		await this.history.put(updated);
		return updated;
	}

	/**
	 * An edit or delete of an earlier message, by its sender (from any of their devices): the
	 * changed message, once stored. Looked up by the change's own sender and the id it names:
	 * a contact's change under the id of a message of ours finds nothing of ours.
	 */
	async storeIncoming(message: IncomingMessage): Promise<ChatMessage | null> {
		if (message.replaces === undefined) return null;
		const target = await this.history.get(messageKey({ peerId: message.peerId, outgoing: message.outgoing, id: message.replaces }));
		if (!mayChange(target, message)) return null;
		if (message.kind === "delete") return this.storeDeleted(target);
		const edit = { seq: message.editSeq ?? 1, id: message.id };
		// An older edit that arrives after a newer one changes nothing.
		if (!editWins(target, edit)) return null;
		const updated = editedCopy(target, message.text, edit);
		await this.history.put(updated);
		return updated;
	}

	/** The copy of the file kept here goes with its message. */
	private async storeDeleted(message: ChatMessage): Promise<ChatMessage> {
		const deleted = deletedCopy(message);
		await this.history.put(deleted);
		if (message.attachment) await this.files.forget(message.attachment.id);
		return deleted;
	}
}
