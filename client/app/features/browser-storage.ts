import type { MessengerStore } from "../store.ts";

/** The part of the Storage API (navigator.storage) the app uses; either may be missing. */
export interface PersistentStorageApi {
	persist?(): Promise<boolean>;
	persisted?(): Promise<boolean>;
}

/**
 * Whether the browser promised to keep this site's data (the device's keys and history)
 * rather than clear it when space runs low. Asked for when an account is made or restored on
 * this browser; `persistentStorage` is null where the browser does not say.
 */
export class BrowserStorage {
	constructor(
		private readonly store: MessengerStore,
		private readonly api: () => PersistentStorageApi | undefined,
	) {}

	/** Ask the browser to keep this site's data; it may grant that silently, ask the person, or refuse. */
	async keep(): Promise<void> {
		const api = this.reach();
		if (api?.persist) {
			try {
				this.store.update({ persistentStorage: await api.persist() });
				return;
			} catch {
				// Some browsers refuse from a frame or in private mode: it then says no more than persisted().
			}
		}
		await this.load();
	}

	async load(): Promise<void> {
		const api = this.reach();
		if (!api?.persisted) {
			this.store.update({ persistentStorage: null });
			return;
		}
		try {
			this.store.update({ persistentStorage: await api.persisted() });
		} catch {
			this.store.update({ persistentStorage: null });
		}
	}

	private reach(): PersistentStorageApi | undefined {
		try {
			return this.api();
		} catch {
			return undefined;
		}
	}
}
