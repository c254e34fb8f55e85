import { type Contact, contactList } from "../../../common/protocol/wire.ts";
import type { MessengerStore } from "../store.ts";

/** The part of the Web Storage API the cache uses. */
export interface KeyValueStorage {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

/**
 * What this profile keeps in localStorage to show itself at once on the next start, before
 * (or without) a connection: the contact list, and whether the device was approved. Only a
 * cache: the relay is asked again each time. The storage is reached through a function,
 * each time inside a try, since where a browser blocks storage even touching it throws.
 */
export class StartUpCache {
	constructor(
		private readonly prefix: string,
		private readonly storage: () => KeyValueStorage,
	) {}

	contacts(): Contact[] {
		try {
			const raw = this.storage().getItem(this.key("contacts"));
			return raw ? contactList.parse(JSON.parse(raw), "contacts").contacts : [];
		} catch {
			return [];
		}
	}

	/** Keep the contact list each time the state gets a new one. */
	followContacts(store: MessengerStore): () => void {
		let kept = store.state.contacts;
		return store.subscribe(({ contacts }) => {
			if (contacts === kept) return;
			kept = contacts;
			try {
				this.storage().setItem(this.key("contacts"), JSON.stringify({ contacts }));
			} catch {
				// Storage may be full or disabled; the app then starts without the list and loads it.
			}
		});
	}

	approved(): boolean {
		try {
			return this.storage().getItem(this.key("approved")) === "1";
		} catch {
			return false;
		}
	}

	setApproved(on: boolean): void {
		try {
			if (on) this.storage().setItem(this.key("approved"), "1");
			else this.storage().removeItem(this.key("approved"));
		} catch {
			// Storage may be disabled; the flag only saves a round trip at start.
		}
	}

	/** The device is being erased: nothing of it may be shown again. */
	forget(): void {
		this.setApproved(false);
		try {
			this.storage().removeItem(this.key("contacts"));
		} catch {
			// Nothing stored.
		}
	}

	private key(name: string): string {
		return `${this.prefix}:${name}`;
	}
}
