/**
 * Stand-ins for what the web app's features talk to (the IndexedDB history, the SDK client),
 * in memory, so their logic runs in Node. The fake history behaves as HistoryStore does.
 */
import { type ChatMessage, receivedKey, sentKey, withReceipt } from "../../client/app/chat-message.ts";
import type { KeyValueStorage } from "../../client/app/features/start-up-cache.ts";
import type { HistoryFile, ImportResult, MessageHistory } from "../../client/app/message-history.ts";
import { keepNewest, matchesQuery, SEARCH_LIMIT } from "../../client/app/message-search.ts";
import { initialState, type MessengerState, Store } from "../../client/app/store.ts";
import type { ReceiptKind } from "../../client/core/receipt-seal.ts";
import type { ContactTrust, IncomingMessage, OwnDevice, SentReceipt } from "../../client/core/sdk.ts";
import type { Contact, DeviceInfo } from "../../common/protocol/wire.ts";

export class MemoryHistory implements MessageHistory {
	readonly messages = new Map<string, ChatMessage>();
	readonly files = new Map<string, Blob>();
	destroyed = false;

	constructor(messages: ChatMessage[] = []) {
		for (const message of messages) this.messages.set(message.key, message);
	}

	async put(message: ChatMessage): Promise<void> {
		this.messages.set(message.key, message);
	}

	async replace(oldKey: string, message: ChatMessage): Promise<void> {
		this.messages.delete(oldKey);
		this.messages.set(message.key, message);
	}

	async delete(key: string): Promise<void> {
		this.messages.delete(key);
	}

	async get(key: string): Promise<ChatMessage | undefined> {
		return this.messages.get(key);
	}

	readonly forgotten = new Set<string>();

	async forget(key: string): Promise<void> {
		this.messages.delete(key);
		this.forgotten.add(key);
	}

	async known(key: string): Promise<boolean> {
		return this.messages.has(key) || this.forgotten.has(key);
	}

	async has(key: string): Promise<boolean> {
		return this.messages.has(key);
	}

	async markDelivered(ids: string[], deviceId: string, kind: ReceiptKind = "delivered"): Promise<ChatMessage[]> {
		const changed: ChatMessage[] = [];
		for (const id of ids) {
			const message = this.messages.get(sentKey(id));
			const updated = message && withReceipt(message, deviceId, kind);
			if (!updated) continue;
			this.messages.set(updated.key, updated);
			changed.push(updated);
		}
		return changed;
	}

	async conversation(peerId: string): Promise<ChatMessage[]> {
		return [...this.messages.values()].filter((m) => m.peerId === peerId).sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
	}

	async allMessages(): Promise<ChatMessage[]> {
		return [...this.messages.values()].sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
	}

	async lastMessages(): Promise<Record<string, ChatMessage>> {
		const last: Record<string, ChatMessage> = {};
		for (const m of await this.allMessages()) last[m.peerId] = m;
		return last;
	}

	async search(folded: string, limit = SEARCH_LIMIT): Promise<ChatMessage[]> {
		const found: ChatMessage[] = [];
		for (const m of this.messages.values()) if (matchesQuery(m, folded)) keepNewest(found, m, limit);
		return found;
	}

	async importHistory(messages: readonly ChatMessage[], files: readonly HistoryFile[]): Promise<ImportResult> {
		const added = new Set<string>();
		const withFiles = new Set<string>();
		for (const message of messages) {
			let record = this.messages.get(message.key);
			if (!record && !added.has(message.key)) {
				this.messages.set(message.key, message);
				added.add(message.key);
				record = message;
			}
			if (record?.attachment && !record.deleted) withFiles.add(record.attachment.id);
		}
		let filesAdded = 0;
		for (const { attachmentId, file } of files) {
			if (!withFiles.has(attachmentId) || this.files.has(attachmentId)) continue;
			this.files.set(attachmentId, file);
			filesAdded++;
		}
		return { messages: added.size, files: filesAdded };
	}

	async unreadCounts(): Promise<Record<string, number>> {
		const counts: Record<string, number> = {};
		for (const m of this.messages.values()) if (m.unread) counts[m.peerId] = (counts[m.peerId] ?? 0) + 1;
		return counts;
	}

	async markRead(peerId: string): Promise<string[]> {
		const read: string[] = [];
		for (const { unread, ...m } of this.messages.values()) {
			if (!unread || m.peerId !== peerId) continue;
			this.messages.set(m.key, m);
			if (m.id !== undefined && !m.outgoing) read.push(m.id);
		}
		return read;
	}

	async failUnconfirmed(reason: string): Promise<void> {
		for (const { pending, ...m } of this.messages.values()) if (pending) this.messages.set(m.key, { ...m, state: "failed", error: reason });
	}

	async putFile(attachmentId: string, file: Blob): Promise<void> {
		this.files.set(attachmentId, file);
	}

	async file(attachmentId: string): Promise<Blob | undefined> {
		return this.files.get(attachmentId);
	}

	async deleteFile(attachmentId: string): Promise<void> {
		this.files.delete(attachmentId);
	}

	async destroy(): Promise<void> {
		this.destroyed = true;
		this.messages.clear();
		this.files.clear();
	}
}

export function storeWith(patch: Partial<MessengerState> = {}): Store<MessengerState> {
	return new Store({ ...initialState(), ...patch });
}

/** A relay id (22 characters of base64url) made from a short name. */
export const relayId = (name: string): string => name.padEnd(22, "_").slice(0, 22);

export const ALICE = relayId("alice");
export const BOB = relayId("bob");

export function contactOf(accountId: string, state: Contact["state"], updatedAt = 1): Contact {
	return { accountId, handle: `h_${accountId.replace(/_+$/, "")}`, state, createdAt: 1, updatedAt };
}

/** 60 digits in 12 groups, as the SDK gives a safety number; `seed` makes different ones. */
export const safetyDigits = (seed: number): string =>
	Array.from({ length: 12 }, (_, i) => String((seed * 7919 + i * 104729) % 100000).padStart(5, "0")).join(" ");

/** What the SDK's contactTrust() answers for a contact in this state. */
export function trustOf(peerId: string, state: ContactTrust["state"], extra: Partial<ContactTrust> = {}): ContactTrust {
	return { peerId, state, blocked: false, safetyNumber: safetyDigits(1), identityKey: "identity-key-of-peer", ...extra };
}

/** A device of this account as devices() lists it. */
export function deviceOf(name: string, status: DeviceInfo["status"], extra: Partial<OwnDevice> = {}): OwnDevice {
	return { deviceId: relayId(name), publicKey: "k", name, status, createdAt: 1, certified: status === "approved", ...extra };
}

export function receipt(id: string, acceptedAt: number, extra: Partial<SentReceipt> = {}): SentReceipt {
	return { id, sentAt: acceptedAt, acceptedAt, ...extra };
}

export function incoming(id: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
	return {
		id,
		peerId: BOB,
		from: BOB,
		fromDevice: relayId("bob_phone"),
		kind: "text",
		text: `text of ${id}`,
		// Sealed and stamped in the same moment, as with an honest relay and a right clock.
		sentAt: extra.receivedAt ?? 1_000,
		receivedAt: 1_000,
		outgoing: false,
		...extra,
	};
}

/** A message of the history this account sent to `peerId` under the relay id `id`. */
export const sent = (id: string, peerId: string, at: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
	key: sentKey(id),
	id,
	peerId,
	outgoing: true,
	text: `text of ${id}`,
	at,
	state: "sent",
	...extra,
});

/** A message of the history received from `peerId` under the relay id `id`. */
export const received = (id: string, peerId: string, at: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
	key: receivedKey(peerId, id),
	id,
	peerId,
	outgoing: false,
	text: `text of ${id}`,
	at,
	state: "received",
	...extra,
});

/** Let every promise callback that is already due run. */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** A promise and the function that fulfils it, for an answer the test gives when it wants. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
	let resolve!: (value: T) => void;
	const promise = new Promise<T>((r) => {
		resolve = r;
	});
	return { promise, resolve };
}

/** localStorage as a Map, for the marks and settings the app keeps there. */
export function memoryStorage(): KeyValueStorage & { entries: Map<string, string> } {
	const entries = new Map<string, string>();
	return {
		entries,
		getItem: (key) => entries.get(key) ?? null,
		setItem: (key, value) => void entries.set(key, value),
		removeItem: (key) => void entries.delete(key),
	};
}
