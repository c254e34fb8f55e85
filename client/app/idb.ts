/** Promise wrappers over the IndexedDB calls the app's stores use. */

export function promised<T>(request: IDBRequest<T>): Promise<T> {
	return new Promise((resolve, reject) => {
		request.onsuccess = () => resolve(request.result);
		request.onerror = () => reject(request.error);
	});
}

export function committed(tx: IDBTransaction): Promise<void> {
	return new Promise((resolve, reject) => {
		tx.oncomplete = () => resolve();
		tx.onerror = () => reject(tx.error);
		tx.onabort = () => reject(tx.error ?? new DOMException("The transaction was aborted.", "AbortError"));
	});
}

/**
 * A database opened on first use and re-opened after another tab upgraded or deleted it
 * (this connection steps aside instead of blocking that tab).
 */
export class Database {
	private db: Promise<IDBDatabase> | null = null;

	constructor(
		readonly name: string,
		private readonly version: number,
		/** `tx`: the upgrade's own transaction, to rewrite records already stored. */
		private readonly upgrade: (db: IDBDatabase, oldVersion: number, tx: IDBTransaction) => void,
		/** Read on use, not here: the page's own by default, or a Storage Access handle's (see browser-stores.ts). */
		private readonly factory: () => IDBFactory = () => indexedDB,
	) {}

	/** One transaction; resolves with what `work` returned once it has committed. */
	async transaction<T>(stores: string | string[], mode: IDBTransactionMode, work: (tx: IDBTransaction) => T | Promise<T>): Promise<T> {
		const db = await this.open();
		const tx = db.transaction(stores, mode);
		const done = committed(tx);
		// Observed at once, so an abort while `work` is still running is not reported as unhandled.
		done.catch(() => {});
		const result = await work(tx);
		await done;
		return result;
	}

	async destroy(): Promise<void> {
		const db = await this.db?.catch(() => null);
		db?.close();
		this.db = null;
		await promised(this.factory().deleteDatabase(this.name));
	}

	private open(): Promise<IDBDatabase> {
		if (!this.db) {
			const request = this.factory().open(this.name, this.version);
			request.onupgradeneeded = (event) => this.upgrade(request.result, event.oldVersion, request.transaction as IDBTransaction);
			const opening = promised(request);
			this.db = opening;
			opening.then(
				(db) => {
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
}
