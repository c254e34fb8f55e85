import type { IncomingMessage, MessengerClient } from "../../core/sdk.ts";
import { type ChatMessage, messageKey } from "../chat-message.ts";
import type { MessageHistory } from "../message-history.ts";
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

/** Edits and deletions for everyone of earlier messages: the user's own, and those their sender made. */
export class MessageChanges {
	constructor(
		private readonly client: Pick<MessengerClient, "editMessage" | "deleteMessage">,
		private readonly history: Pick<MessageHistory, "get" | "put">,
		private readonly conversations: Pick<Conversations, "show">,
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
