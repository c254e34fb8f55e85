import type { ListVersions } from "../core/contact-key.ts";
import {
	copyIdentity,
	copyTrust,
	type DeviceIdentity,
	type KeyStore,
	type NumbersRecord,
	SEEN_IDS_KEPT,
	type StoredContactKey,
	type TrustRecord,
} from "../core/key-store.ts";
import type { MessageNumber } from "../core/message-numbers.ts";
import { Database, promised } from "./idb.ts";

/**
 * 2: protocol v2 (trust records, key lists). A version-1 profile holds v1 keys the relay no
 * longer serves, so it is emptied. 3: message numbers (a store added; nothing else changes).
 */
const VERSION = 3;
const IDENTITY = "identity";
const CONTACT_KEYS = "contactKeys";
const TRUST = "trust";
const SEEN = "seen";
const NUMBERS = "numbers";
/** The identity store holds one record under this key. */
const SELF = "self";

interface ContactKeyRecord {
	peerId: string;
	version: number;
	key: Uint8Array;
	lists: ListVersions;
}

/** A seen id; the store's auto-incremented primary key orders them oldest first. */
interface SeenRecord {
	id: string;
	/** This account's own messages: their number, for an edit or delete to name. */
	number?: MessageNumber;
}

/**
 * A KeyStore in the browser's IndexedDB, one database per device profile (the web app and
 * the widget use different names). Each method is one transaction on one object store.
 * The keys are as safe as the origin's storage: other origins (a page embedding the widget
 * included) cannot read it.
 */
export class IndexedDbKeyStore implements KeyStore {
	private readonly db: Database;

	constructor(
		readonly name: string,
		private readonly seenLimit = SEEN_IDS_KEPT,
		factory?: () => IDBFactory,
	) {
		this.db = new Database(
			name,
			VERSION,
			(db, oldVersion) => {
				if (oldVersion < 2) {
					for (const store of Array.from(db.objectStoreNames)) db.deleteObjectStore(store);
					db.createObjectStore(IDENTITY);
					db.createObjectStore(CONTACT_KEYS, { keyPath: ["peerId", "version"] });
					db.createObjectStore(TRUST, { keyPath: "accountId" });
					db.createObjectStore(SEEN, { autoIncrement: true }).createIndex("id", "id", { unique: true });
				}
				if (oldVersion < 3) db.createObjectStore(NUMBERS);
			},
			factory,
		);
	}

	/** Delete every key of this profile: used when the device is removed from its account. */
	destroy(): Promise<void> {
		return this.db.destroy();
	}

	async getIdentity(): Promise<DeviceIdentity | null> {
		const record = await this.read<DeviceIdentity | undefined>(IDENTITY, (store) => store.get(SELF));
		return record ? copyIdentity(record) : null;
	}

	async setIdentity(identity: DeviceIdentity | null): Promise<void> {
		await this.write(IDENTITY, (store) => (identity ? store.put(copyIdentity(identity), SELF) : store.delete(SELF)));
	}

	async getContactKey(peerId: string, version: number): Promise<Uint8Array | undefined> {
		const record = await this.read<ContactKeyRecord | undefined>(CONTACT_KEYS, (store) => store.get([peerId, version]));
		return record?.key.slice();
	}

	async putContactKey(peerId: string, version: number, key: Uint8Array, lists: ListVersions): Promise<void> {
		const record: ContactKeyRecord = { peerId, version, key: key.slice(), lists: { ...lists } };
		await this.write(CONTACT_KEYS, (store) => store.put(record));
	}

	async getKeyLists(peerId: string, version: number): Promise<ListVersions | undefined> {
		const record = await this.read<ContactKeyRecord | undefined>(CONTACT_KEYS, (store) => store.get([peerId, version]));
		return record && { ...record.lists };
	}

	async listContactKeys(): Promise<StoredContactKey[]> {
		const records = await this.read<ContactKeyRecord[]>(CONTACT_KEYS, (store) => store.getAll());
		return records.map((r) => ({ peerId: r.peerId, version: r.version, key: r.key.slice(), lists: { ...r.lists } }));
	}

	async listTrust(): Promise<TrustRecord[]> {
		return (await this.read<TrustRecord[]>(TRUST, (store) => store.getAll())).map(copyTrust);
	}

	async getTrust(accountId: string): Promise<TrustRecord | undefined> {
		const record = await this.read<TrustRecord | undefined>(TRUST, (store) => store.get(accountId));
		return record && copyTrust(record);
	}

	async putTrust(record: TrustRecord): Promise<void> {
		const copy = copyTrust(record);
		await this.write(TRUST, (store) => store.put(copy));
	}

	async latestVersion(peerId: string): Promise<number | undefined> {
		const range = IDBKeyRange.bound([peerId, Number.NEGATIVE_INFINITY], [peerId, Number.POSITIVE_INFINITY]);
		const cursor = await this.read<IDBCursorWithValue | null>(CONTACT_KEYS, (store) => store.openCursor(range, "prev"));
		return (cursor?.value as ContactKeyRecord | undefined)?.version;
	}

	async hasSeen(messageId: string): Promise<boolean> {
		const count = await this.read<number>(SEEN, (store) => store.index("id").count(messageId));
		return count > 0;
	}

	async seenNumber(messageId: string): Promise<MessageNumber | undefined> {
		const record = await this.read<SeenRecord | undefined>(SEEN, (store) => store.index("id").get(messageId));
		return record?.number && { ...record.number };
	}

	async getNumbers(key: string): Promise<NumbersRecord | undefined> {
		return this.read<NumbersRecord | undefined>(NUMBERS, (store) => store.get(key));
	}

	async putNumbers(key: string, record: NumbersRecord): Promise<void> {
		const copy = structuredClone(record);
		await this.write(NUMBERS, (store) => store.put(copy, key));
	}

	markSeen(messageId: string, number?: MessageNumber): Promise<void> {
		return this.db.transaction(SEEN, "readwrite", async (tx) => {
			const store = tx.objectStore(SEEN);
			// Re-inserting moves an id to the newest end, as in MemoryKeyStore.
			const existing = await promised(store.index("id").getKey(messageId));
			if (existing !== undefined) store.delete(existing);
			store.add({ id: messageId, ...(number && { number: { ...number } }) } satisfies SeenRecord);
			let excess = (await promised(store.count())) - this.seenLimit;
			if (excess <= 0) return;
			const cursorRequest = store.openCursor();
			cursorRequest.onsuccess = () => {
				const cursor = cursorRequest.result;
				if (!cursor || excess <= 0) return;
				cursor.delete();
				excess--;
				cursor.continue();
			};
		});
	}

	private read<T>(storeName: string, query: (store: IDBObjectStore) => IDBRequest): Promise<T> {
		return this.db.transaction(storeName, "readonly", (tx) => promised(query(tx.objectStore(storeName))) as Promise<T>);
	}

	private async write(storeName: string, change: (store: IDBObjectStore) => IDBRequest): Promise<void> {
		await this.db.transaction(storeName, "readwrite", (tx) => {
			change(tx.objectStore(storeName));
		});
	}
}
