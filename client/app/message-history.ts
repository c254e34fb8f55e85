import type { ReceiptKind } from "../core/receipt-seal.ts";
import type { ChatMessage } from "./chat-message.ts";

/** An opened file for the history, by the id of the attachment it is the plaintext of. */
export interface HistoryFile {
	attachmentId: string;
	file: Blob;
}

/** What an import added: the rest this device held already. */
export interface ImportResult {
	messages: number;
	files: number;
}

/**
 * The local history as the features use it. HistoryStore keeps it in IndexedDB; the features
 * depend on this interface alone, so that they also run (and are tested) where there is none.
 */
export interface MessageHistory {
	put(message: ChatMessage): Promise<void>;
	/** Replace the record under `oldKey` (a send the relay just confirmed gets its real id). */
	replace(oldKey: string, message: ChatMessage): Promise<void>;
	delete(key: string): Promise<void>;
	/** The message under `key` (messageKey: its sender and id), if held. */
	get(key: string): Promise<ChatMessage | undefined>;
	has(key: string): Promise<boolean>;
	/**
	 * Delete a message for this device only, and remember its key: an edit of it (which the
	 * relay may deliver in place of its original) or a copy delivered again must not bring it back.
	 */
	forget(key: string): Promise<void>;
	/** Whether the message under `key` is held, or was deleted here on purpose (forget). */
	known(key: string): Promise<boolean>;
	/** Receipts (delivered, or read) from the recipient's device `deviceId` for these messages of ours; returns those that changed. */
	markDelivered(ids: string[], deviceId: string, kind?: ReceiptKind): Promise<ChatMessage[]>;
	/** The newest messages of a conversation, oldest first. */
	conversation(peerId: string): Promise<ChatMessage[]>;
	/** Every message of every conversation (to archive them for a new device of the account). */
	allMessages(): Promise<ChatMessage[]>;
	/** The newest message of each conversation, by the contact's account id (for the contact list). */
	lastMessages(): Promise<Record<string, ChatMessage>>;
	/** The messages whose text holds the folded query (see message-search.ts), newest first, at most `limit`. */
	search(folded: string, limit?: number): Promise<ChatMessage[]>;
	/**
	 * Add messages and files from another device's history, all or nothing. A message this
	 * device holds already (same key: sender and id) stays as it is: what it received itself is newer.
	 * A file is added only for an attachment of a message held afterwards, and only if none is kept.
	 */
	importHistory(messages: readonly ChatMessage[], files: readonly HistoryFile[]): Promise<ImportResult>;
	/** Unread incoming messages per contact. */
	unreadCounts(): Promise<Record<string, number>>;
	/** The conversation's unread messages are read now; returns the ids of the contact's messages among them. */
	markRead(peerId: string): Promise<string[]>;
	/** Mark failed, with `reason`, the sends nobody will confirm any more. */
	failUnconfirmed(reason: string): Promise<void>;
	/** Keep an attachment's plaintext, once opened and checked (or as sent), to show it again later. */
	putFile(attachmentId: string, file: Blob): Promise<void>;
	file(attachmentId: string): Promise<Blob | undefined>;
	deleteFile(attachmentId: string): Promise<void>;
	destroy(): Promise<void>;
}
