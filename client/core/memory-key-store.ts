import type { ListVersions } from "./contact-key.ts";
import {
	copyIdentity,
	copyTrust,
	type DeviceIdentity,
	type KeyStore,
	type NumbersRecord,
	SEEN_IDS_KEPT,
	type StoredContactKey,
	type TrustRecord,
} from "./key-store.ts";
import type { MessageNumber } from "./message-numbers.ts";

/** A KeyStore that lives as long as the process: for Node, tests and benchmarks. */
export class MemoryKeyStore implements KeyStore {
	private identity: DeviceIdentity | null = null;
	private readonly keys = new Map<string, Map<number, { key: Uint8Array; lists: ListVersions }>>();
	private readonly trust = new Map<string, TrustRecord>();
	// A Set iterates in insertion order, so the oldest id is always first.
	private readonly seen = new Set<string>();
	private readonly seenNumbers = new Map<string, MessageNumber>();
	private readonly numbers = new Map<string, NumbersRecord>();

	constructor(private readonly seenLimit = SEEN_IDS_KEPT) {}

	async getIdentity(): Promise<DeviceIdentity | null> {
		return this.identity && copyIdentity(this.identity);
	}

	async setIdentity(identity: DeviceIdentity | null): Promise<void> {
		this.identity = identity && copyIdentity(identity);
	}

	async getContactKey(peerId: string, version: number): Promise<Uint8Array | undefined> {
		return this.keys.get(peerId)?.get(version)?.key.slice();
	}

	async putContactKey(peerId: string, version: number, key: Uint8Array, lists: ListVersions): Promise<void> {
		let versions = this.keys.get(peerId);
		if (!versions) {
			versions = new Map();
			this.keys.set(peerId, versions);
		}
		versions.set(version, { key: key.slice(), lists: { ...lists } });
	}

	async getKeyLists(peerId: string, version: number): Promise<ListVersions | undefined> {
		const lists = this.keys.get(peerId)?.get(version)?.lists;
		return lists && { ...lists };
	}

	async latestVersion(peerId: string): Promise<number | undefined> {
		const versions = this.keys.get(peerId);
		return versions && versions.size > 0 ? Math.max(...versions.keys()) : undefined;
	}

	async listContactKeys(): Promise<StoredContactKey[]> {
		return [...this.keys].flatMap(([peerId, versions]) =>
			[...versions].map(([version, { key, lists }]) => ({ peerId, version, key: key.slice(), lists: { ...lists } })),
		);
	}

	async listTrust(): Promise<TrustRecord[]> {
		return [...this.trust.values()].map(copyTrust);
	}

	async getTrust(accountId: string): Promise<TrustRecord | undefined> {
		const record = this.trust.get(accountId);
		return record && copyTrust(record);
	}

	async putTrust(record: TrustRecord): Promise<void> {
		this.trust.set(record.accountId, copyTrust(record));
	}

	async hasSeen(messageId: string): Promise<boolean> {
		return this.seen.has(messageId);
	}

	async markSeen(messageId: string, number?: MessageNumber): Promise<void> {
		// Re-inserting moves an id to the newest end.
		this.seen.delete(messageId);
		this.seen.add(messageId);
		if (number) this.seenNumbers.set(messageId, { ...number });
		for (const oldest of this.seen) {
			if (this.seen.size <= this.seenLimit) break;
			this.seen.delete(oldest);
			this.seenNumbers.delete(oldest);
		}
	}

	async seenNumber(messageId: string): Promise<MessageNumber | undefined> {
		const number = this.seenNumbers.get(messageId);
		return number && { ...number };
	}

	async getNumbers(key: string): Promise<NumbersRecord | undefined> {
		const record = this.numbers.get(key);
		return record && structuredClone(record);
	}

	async putNumbers(key: string, record: NumbersRecord): Promise<void> {
		this.numbers.set(key, structuredClone(record));
	}
}
