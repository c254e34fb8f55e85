import { type DeviceIdentity, type KeyStore, SEEN_IDS_KEPT } from "./key-store.ts";

// The few IndexedDB types this store uses, declared here because client/core is also
// type-checked for Workers and Node, whose libraries have no IndexedDB.
type Key = string | number | Array<string | number>;
interface Req<T> {
	readonly result: T;
	readonly error: unknown;
	onsuccess: (() => void) | null;
	onerror: (() => void) | null;
}
interface OpenReq extends Req<Db> {
	onupgradeneeded: (() => void) | null;
}
interface Cursor {
	readonly value: unknown;
	delete(): Req<undefined>;
	continue(): void;
}
interface Index {
	count(key: Key): Req<number>;
	getKey(key: Key): Req<Key | undefined>;
}
interface ObjectStore {
	get(key: Key | KeyRange): Req<unknown>;
	put(value: unknown, key?: Key): Req<Key>;
	add(value: unknown): Req<Key>;
	delete(key: Key): Req<undefined>;
	count(): Req<number>;
	openCursor(range?: KeyRange | null, direction?: "next" | "prev"): Req<Cursor | null>;
	index(name: string): Index;
	createIndex(name: string, keyPath: string, options: { unique: boolean }): Index;
}
interface Transaction {
	readonly error: unknown;
	objectStore(name: string): ObjectStore;
	oncomplete: (() => void) | null;
	onerror: (() => void) | null;
	onabort: (() => void) | null;
}
interface Db {
	transaction(store: string, mode: "readonly" | "readwrite"): Transaction;
	createObjectStore(name: string, options?: { keyPath?: string | string[]; autoIncrement?: boolean }): ObjectStore;
	close(): void;
	onversionchange: (() => void) | null;
}
type KeyRange = object;
interface IndexedDbGlobals {
	indexedDB?: { open(name: string, version: number): OpenReq; deleteDatabase(name: string): Req<unknown> };
	IDBKeyRange?: { bound(lower: Key, upper: Key): KeyRange };
}

function browser(): Required<IndexedDbGlobals> {
	const { indexedDB, IDBKeyRange } = globalThis as unknown as IndexedDbGlobals;
	if (!indexedDB || !IDBKeyRange) throw new Error("IndexedDB is not available here.");
	return { indexedDB, IDBKeyRange };
}

const VERSION = 1;
const IDENTITY = "identity";
const CONTACT_KEYS = "contactKeys";
const SEEN = "seen";
/** The identity store holds one record under this key. */
const SELF = "self";

interface ContactKeyRecord {
	peerId: string;
	version: number;
	key: Uint8Array;
}

/** A seen id; the store's auto-incremented primary key orders them oldest first. */
interface SeenRecord {
	id: string;
}

function promised<T>(request: Req<T>): Promise<T> {
	return new Promise((resolve, reject) => {
		request.onsuccess = () => resolve(request.result);
		request.onerror = () => reject(request.error);
	});
}

function committed(tx: Transaction): Promise<void> {
	return new Promise((resolve, reject) => {
		tx.oncomplete = () => resolve();
		tx.onerror = () => reject(tx.error);
		tx.onabort = () => reject(tx.error ?? new Error("The IndexedDB transaction was aborted."));
	});
}

function openDatabase(name: string): Promise<Db> {
	const request = browser().indexedDB.open(name, VERSION);
	request.onupgradeneeded = () => {
		const db = request.result;
		db.createObjectStore(IDENTITY);
		db.createObjectStore(CONTACT_KEYS, { keyPath: ["peerId", "version"] });
		db.createObjectStore(SEEN, { autoIncrement: true }).createIndex("id", "id", { unique: true });
	};
	return promised(request);
}

const copyIdentity = (identity: DeviceIdentity): DeviceIdentity => ({
	seed: identity.seed.slice(),
	publicKey: identity.publicKey.slice(),
	accountId: identity.accountId,
	deviceId: identity.deviceId,
	handle: identity.handle,
});

/**
 * A KeyStore in the browser's IndexedDB, one database per device profile (the web app and
 * the widget use different names). Each method is one transaction on one object store.
 * The keys are as safe as the origin's storage: other origins (a page embedding the widget
 * included) cannot read it.
 */
export class IndexedDbKeyStore implements KeyStore {
	private db: Promise<Db> | null = null;

	constructor(
		readonly name: string,
		private readonly seenLimit = SEEN_IDS_KEPT,
	) {}

	/** Delete every key of this profile: used when the device is removed from its account. */
	async destroy(): Promise<void> {
		const db = await this.db?.catch(() => null);
		db?.close();
		this.db = null;
		await promised(browser().indexedDB.deleteDatabase(this.name));
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

	async putContactKey(peerId: string, version: number, key: Uint8Array): Promise<void> {
		const record: ContactKeyRecord = { peerId, version, key: key.slice() };
		await this.write(CONTACT_KEYS, (store) => store.put(record));
	}

	async latestVersion(peerId: string): Promise<number | undefined> {
		const range = browser().IDBKeyRange.bound([peerId, Number.NEGATIVE_INFINITY], [peerId, Number.POSITIVE_INFINITY]);
		const cursor = await this.read<Cursor | null>(CONTACT_KEYS, (store) => store.openCursor(range, "prev"));
		return (cursor?.value as ContactKeyRecord | undefined)?.version;
	}

	async hasSeen(messageId: string): Promise<boolean> {
		const count = await this.read<number>(SEEN, (store) => store.index("id").count(messageId));
		return count > 0;
	}

	async markSeen(messageId: string): Promise<void> {
		const db = await this.database();
		const tx = db.transaction(SEEN, "readwrite");
		const store = tx.objectStore(SEEN);
		// Re-inserting moves an id to the newest end, as in MemoryKeyStore.
		const existing = await promised(store.index("id").getKey(messageId));
		if (existing !== undefined) store.delete(existing);
		store.add({ id: messageId } satisfies SeenRecord);
		const excess = (await promised(store.count())) - this.seenLimit;
		if (excess > 0) {
			let left = excess;
			const cursorRequest = store.openCursor();
			cursorRequest.onsuccess = () => {
				const cursor = cursorRequest.result;
				if (!cursor || left <= 0) return;
				cursor.delete();
				left--;
				cursor.continue();
			};
		}
		await committed(tx);
	}

	private database(): Promise<Db> {
		if (!this.db) {
			const opening = openDatabase(this.name);
			this.db = opening;
			opening.then(
				(db) => {
					// Another tab upgrading or deleting the database: let it, and reopen on next use.
					db.onversionchange = () => {
						db.close();
						if (this.db === opening) this.db = null;
					};
				},
				() => {
					if (this.db === opening) this.db = null;
				},
			);
		}
		return this.db;
	}

	private async read<T>(storeName: string, query: (store: ObjectStore) => Req<unknown>): Promise<T> {
		const db = await this.database();
		return promised(query(db.transaction(storeName, "readonly").objectStore(storeName))) as Promise<T>;
	}

	private async write(storeName: string, change: (store: ObjectStore) => Req<unknown>): Promise<void> {
		const db = await this.database();
		const tx = db.transaction(storeName, "readwrite");
		change(tx.objectStore(storeName));
		await committed(tx);
	}
}
