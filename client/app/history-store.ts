import type { ReceiptKind } from "../core/receipt-seal.ts";
import { type ChatMessage, messageKey, sentKey, withReceipt } from "./chat-message.ts";
import { Database, promised } from "./idb.ts";
import type { HistoryFile, ImportResult, MessageHistory } from "./message-history.ts";
import { keepNewest, matchesQuery, SEARCH_LIMIT } from "./message-search.ts";

export type { ChatMessage, DeliveryState } from "./chat-message.ts";

const MESSAGES = "messages";
/** Opened attachments, as Blobs by attachment id: the relay deletes a blob once every recipient device fetched it. */
const FILES = "files";
/** Keys of messages deleted on this device only (delete for me), with when: see MessageHistory.forget. */
const FORGOTTEN = "forgotten";
/** The newest messages of a conversation that are loaded at once. */
export const CONVERSATION_WINDOW = 500;

/**
 * Version 1 and 2 kept a message under its relay id alone, with a unique index over it: a
 * contact's frame under the id of one of ours (an unreadable one, say) took its place. From
 * version 3 the key is messageKey (sender and id), and there is no index of ids.
 */
function keyBySender(messages: IDBObjectStore): void {
	messages.deleteIndex("id");
	const all = messages.getAll() as IDBRequest<ChatMessage[]>;
	all.onsuccess = () => {
		for (const record of all.result) {
			// A send not yet confirmed keeps its local key.
			if (record.id === undefined) continue;
			const key = messageKey({ peerId: record.peerId, outgoing: record.outgoing, id: record.id });
			if (key === record.key) continue;
			messages.delete(record.key);
			messages.put({ ...record, key });
		}
	};
}

/**
 * The local message history: plaintext, in this browser's IndexedDB only (the relay keeps
 * ciphertext until it is delivered and nothing after). One database per device profile.
 */
export class HistoryStore implements MessageHistory {
	private readonly db: Database;

	/** `factory`: the IndexedDB to use, the page's own unless given (see browser-stores.ts). */
	constructor(name: string, factory?: () => IDBFactory) {
		this.db = new Database(
			name,
			4,
			(db, oldVersion, tx) => {
				if (oldVersion < 1) {
					const messages = db.createObjectStore(MESSAGES, { keyPath: "key" });
					messages.createIndex("peerAt", ["peerId", "at"]);
					messages.createIndex("unread", "unread");
					messages.createIndex("pending", "pending");
				}
				if (oldVersion < 2) db.createObjectStore(FILES);
				if (oldVersion >= 1 && oldVersion < 3) keyBySender(tx.objectStore(MESSAGES));
				if (oldVersion < 4) db.createObjectStore(FORGOTTEN);
			},
			factory,
		);
	}

	/** Keep an attachment's plaintext, once opened and checked (or as sent), to show it again later. */
	putFile(attachmentId: string, file: Blob): Promise<void> {
		return this.db.transaction(FILES, "readwrite", (tx) => {
			tx.objectStore(FILES).put(file, attachmentId);
		});
	}

	async file(attachmentId: string): Promise<Blob | undefined> {
		const found = await this.db.transaction(FILES, "readonly", (tx) => promised(tx.objectStore(FILES).get(attachmentId)));
		return found instanceof Blob ? found : undefined;
	}

	deleteFile(attachmentId: string): Promise<void> {
		return this.db.transaction(FILES, "readwrite", (tx) => {
			tx.objectStore(FILES).delete(attachmentId);
		});
	}

	put(message: ChatMessage): Promise<void> {
		return this.db.transaction(MESSAGES, "readwrite", (tx) => {
			tx.objectStore(MESSAGES).put(message);
		});
	}

	/** Replace the record under `oldKey` (a send the relay just confirmed gets its real id). */
	replace(oldKey: string, message: ChatMessage): Promise<void> {
		return this.db.transaction(MESSAGES, "readwrite", (tx) => {
			const store = tx.objectStore(MESSAGES);
			if (oldKey !== message.key) store.delete(oldKey);
			store.put(message);
		});
	}

	delete(key: string): Promise<void> {
		return this.db.transaction(MESSAGES, "readwrite", (tx) => {
			tx.objectStore(MESSAGES).delete(key);
		});
	}

	forget(key: string): Promise<void> {
		return this.db.transaction([MESSAGES, FORGOTTEN], "readwrite", (tx) => {
			tx.objectStore(MESSAGES).delete(key);
			tx.objectStore(FORGOTTEN).put(Date.now(), key);
		});
	}

	async known(key: string): Promise<boolean> {
		const [held, forgotten] = await this.db.transaction([MESSAGES, FORGOTTEN], "readonly", (tx) =>
			Promise.all([promised(tx.objectStore(MESSAGES).count(key)), promised(tx.objectStore(FORGOTTEN).count(key))]),
		);
		return held + forgotten > 0;
	}

	get(key: string): Promise<ChatMessage | undefined> {
		return this.db.transaction(MESSAGES, "readonly", (tx) =>
			promised(tx.objectStore(MESSAGES).get(key) as IDBRequest<ChatMessage | undefined>),
		);
	}

	async has(key: string): Promise<boolean> {
		const count = await this.db.transaction(MESSAGES, "readonly", (tx) => promised(tx.objectStore(MESSAGES).count(key)));
		return count > 0;
	}

	/** Record receipts from one device of the recipient of these messages of ours; returns the messages that changed. */
	markDelivered(ids: string[], deviceId: string, kind: ReceiptKind = "delivered"): Promise<ChatMessage[]> {
		return this.db.transaction(MESSAGES, "readwrite", async (tx) => {
			const store = tx.objectStore(MESSAGES);
			const found = await Promise.all(ids.map((id) => promised(store.get(sentKey(id)) as IDBRequest<ChatMessage | undefined>)));
			const changed: ChatMessage[] = [];
			for (const message of found) {
				const updated = message && withReceipt(message, deviceId, kind);
				if (!updated) continue;
				store.put(updated);
				changed.push(updated);
			}
			return changed;
		});
	}

	/** The newest messages of a conversation, oldest first. */
	conversation(peerId: string, limit = CONVERSATION_WINDOW): Promise<ChatMessage[]> {
		return this.db.transaction(MESSAGES, "readonly", (tx) => {
			const range = IDBKeyRange.bound([peerId, Number.NEGATIVE_INFINITY], [peerId, Number.POSITIVE_INFINITY]);
			const request = tx.objectStore(MESSAGES).index("peerAt").openCursor(range, "prev");
			const newestFirst: ChatMessage[] = [];
			return new Promise<ChatMessage[]>((resolve, reject) => {
				request.onerror = () => reject(request.error);
				request.onsuccess = () => {
					const cursor = request.result;
					if (!cursor || newestFirst.length >= limit) return resolve(newestFirst.reverse());
					newestFirst.push(cursor.value as ChatMessage);
					cursor.continue();
				};
			});
		});
	}

	/** Every message of every conversation, oldest first. */
	async allMessages(): Promise<ChatMessage[]> {
		const all = await this.db.transaction(MESSAGES, "readonly", (tx) =>
			promised(tx.objectStore(MESSAGES).getAll() as IDBRequest<ChatMessage[]>),
		);
		return all.sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
	}

	/**
	 * The newest message of each conversation: one step of a cursor per conversation, from the
	 * newest end of the index by conversation and time, jumping over the rest of each.
	 */
	lastMessages(): Promise<Record<string, ChatMessage>> {
		return this.db.transaction(MESSAGES, "readonly", (tx) => {
			const request = tx.objectStore(MESSAGES).index("peerAt").openCursor(null, "prev");
			const last: Record<string, ChatMessage> = {};
			return new Promise<Record<string, ChatMessage>>((resolve, reject) => {
				request.onerror = () => reject(request.error);
				request.onsuccess = () => {
					const cursor = request.result;
					if (!cursor) return resolve(last);
					const message = cursor.value as ChatMessage;
					last[message.peerId] = message;
					// Below every time of this conversation: the cursor goes on at the newest of the one before.
					cursor.continue([message.peerId, Number.NEGATIVE_INFINITY]);
				};
			});
		});
	}

	/**
	 * The messages whose text holds the folded query, newest first, at most `limit`: a cursor
	 * over every message, as there is no index of words (one would keep the plaintext twice
	 * over). Only the newest `limit` are kept while it walks.
	 */
	search(folded: string, limit = SEARCH_LIMIT): Promise<ChatMessage[]> {
		return this.db.transaction(MESSAGES, "readonly", (tx) => {
			const request = tx.objectStore(MESSAGES).openCursor();
			const found: ChatMessage[] = [];
			return new Promise<ChatMessage[]>((resolve, reject) => {
				request.onerror = () => reject(request.error);
				request.onsuccess = () => {
					const cursor = request.result;
					if (!cursor) return resolve(found);
					const message = cursor.value as ChatMessage;
					if (matchesQuery(message, folded)) keepNewest(found, message, limit);
					cursor.continue();
				};
			});
		});
	}

	/**
	 * Add messages and files from another device's history in one transaction, so that a
	 * failure adds nothing. A message held already (same key: sender and id) is left as it is: what this
	 * device received itself is newer than the archive, and may have been edited or deleted
	 * since. A file goes only with an attachment of a message held afterwards (a message deleted
	 * here has none, so its file does not come back), and never over a file kept already.
	 */
	importHistory(messages: readonly ChatMessage[], files: readonly HistoryFile[]): Promise<ImportResult> {
		return this.db.transaction([MESSAGES, FILES], "readwrite", async (tx) => {
			const store = tx.objectStore(MESSAGES);
			const fileStore = tx.objectStore(FILES);
			// Every read is asked for at once, then every write made: the transaction stays active
			// only while requests are pending, so nothing else may be awaited in between.
			const [held, keptFiles] = await Promise.all([
				Promise.all(messages.map((m) => promised(store.get(m.key) as IDBRequest<ChatMessage | undefined>))),
				Promise.all(files.map((f) => promised(fileStore.count(f.attachmentId)))),
			]);
			const added = new Set<string>();
			const withFiles = new Set<string>();
			messages.forEach((message, i) => {
				let record = held[i];
				if (!record && !added.has(message.key)) {
					store.put(message);
					added.add(message.key);
					record = message;
				}
				if (record?.attachment && !record.deleted) withFiles.add(record.attachment.id);
			});
			let filesAdded = 0;
			files.forEach(({ attachmentId, file }, i) => {
				if (!withFiles.has(attachmentId) || (keptFiles[i] ?? 0) > 0) return;
				fileStore.put(file, attachmentId);
				withFiles.delete(attachmentId);
				filesAdded++;
			});
			return { messages: added.size, files: filesAdded };
		});
	}

	/** Unread incoming messages per contact. */
	async unreadCounts(): Promise<Record<string, number>> {
		const unread = await this.db.transaction(MESSAGES, "readonly", (tx) =>
			promised(tx.objectStore(MESSAGES).index("unread").getAll() as IDBRequest<ChatMessage[]>),
		);
		const counts: Record<string, number> = {};
		for (const message of unread) counts[message.peerId] = (counts[message.peerId] ?? 0) + 1;
		return counts;
	}

	markRead(peerId: string): Promise<string[]> {
		return this.db.transaction(MESSAGES, "readwrite", async (tx) => {
			const store = tx.objectStore(MESSAGES);
			const unread = await promised(store.index("unread").getAll() as IDBRequest<ChatMessage[]>);
			const read: string[] = [];
			for (const { unread: _, ...message } of unread) {
				if (message.peerId !== peerId) continue;
				store.put(message);
				if (message.id !== undefined && !message.outgoing) read.push(message.id);
			}
			return read;
		});
	}

	/**
	 * Sends that were still waiting when the page went away. The SDK's outbox lives in memory,
	 * so nobody will confirm them now: they are marked failed, for the user to send again.
	 */
	failUnconfirmed(reason: string): Promise<void> {
		return this.db.transaction(MESSAGES, "readwrite", async (tx) => {
			const store = tx.objectStore(MESSAGES);
			const pending = await promised(store.index("pending").getAll() as IDBRequest<ChatMessage[]>);
			for (const { pending: _, ...message } of pending) store.put({ ...message, state: "failed", error: reason });
		});
	}

	destroy(): Promise<void> {
		return this.db.destroy();
	}
}
