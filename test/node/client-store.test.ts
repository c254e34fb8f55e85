import { describe, expect, it } from "vitest";
import { type KeyValueStorage, StartUpCache } from "../../client/app/features/start-up-cache.ts";
import { initialState, Store } from "../../client/app/store.ts";
import { ALICE, BOB, contactOf, storeWith } from "./client-fakes.ts";

class MemoryStorage implements KeyValueStorage {
	readonly items = new Map<string, string>();
	writes = 0;
	getItem(key: string): string | null {
		return this.items.get(key) ?? null;
	}
	setItem(key: string, value: string): void {
		this.writes++;
		this.items.set(key, value);
	}
	removeItem(key: string): void {
		this.items.delete(key);
	}
}

describe("the store", () => {
	it("replaces the state with a new object on each update and tells every listener, in the order they subscribed", () => {
		const store = new Store(initialState());
		const before = store.state;
		const heard: string[] = [];
		store.subscribe((state) => heard.push(`first:${state.phase}`));
		store.subscribe((state) => heard.push(`second:${state.phase}`));
		store.update({ phase: "ready" });
		expect(heard).toEqual(["first:ready", "second:ready"]);
		expect(store.state).not.toBe(before);
		expect(before.phase).toBe("loading");
		expect(store.state).toEqual({ ...before, phase: "ready" });
	});

	it("tells a listener nothing more once it unsubscribed", () => {
		const store = new Store(initialState());
		const heard: string[] = [];
		const unsubscribe = store.subscribe((state) => heard.push(state.connection));
		store.update({ connection: "connecting" });
		unsubscribe();
		store.update({ connection: "online" });
		expect(heard).toEqual(["connecting"]);
	});
});

describe("the start-up cache", () => {
	it("keeps the contact list each time the state gets a new one, and not on other changes", () => {
		const storage = new MemoryStorage();
		const store = storeWith();
		new StartUpCache("sm-test", () => storage).followContacts(store);
		store.update({ phase: "ready", connection: "online" });
		expect(storage.writes).toBe(0);
		const contacts = [contactOf(ALICE, "accepted")];
		store.update({ contacts });
		store.update({ contacts });
		expect(storage.writes).toBe(1);
		expect(new StartUpCache("sm-test", () => storage).contacts()).toEqual(contacts);
	});

	it("starts a device once approved as approved, and forgetting it leaves neither the flag nor the contact list", () => {
		const storage = new MemoryStorage();
		const cache = new StartUpCache("sm-test", () => storage);
		expect(cache.approved()).toBe(false);
		cache.setApproved(true);
		const store = storeWith();
		cache.followContacts(store);
		store.update({ contacts: [contactOf(BOB, "incoming")] });
		expect(new StartUpCache("sm-test", () => storage).approved()).toBe(true);
		cache.forget();
		expect(cache.approved()).toBe(false);
		expect(cache.contacts()).toEqual([]);
		expect(storage.items.size).toBe(0);
	});

	it("keeps each profile's entries apart", () => {
		const storage = new MemoryStorage();
		new StartUpCache("sm-app-history", () => storage).setApproved(true);
		expect(new StartUpCache("sm-widget-history", () => storage).approved()).toBe(false);
	});

	it("reads a damaged or foreign list as no contacts", () => {
		const storage = new MemoryStorage();
		storage.setItem("sm-test:contacts", JSON.stringify({ contacts: [{ accountId: "not an id" }] }));
		expect(new StartUpCache("sm-test", () => storage).contacts()).toEqual([]);
		storage.setItem("sm-test:contacts", "{");
		expect(new StartUpCache("sm-test", () => storage).contacts()).toEqual([]);
	});

	it("carries on where the browser blocks storage, as if nothing were kept", () => {
		const blocked = (): KeyValueStorage => {
			throw new Error("SecurityError: access to storage is denied");
		};
		const cache = new StartUpCache("sm-test", blocked);
		const store = storeWith();
		cache.followContacts(store);
		expect(() => store.update({ contacts: [contactOf(ALICE, "accepted")] })).not.toThrow();
		expect(() => cache.setApproved(true)).not.toThrow();
		expect(() => cache.forget()).not.toThrow();
		expect(cache.approved()).toBe(false);
		expect(cache.contacts()).toEqual([]);
		expect(store.state.contacts).toHaveLength(1);
	});
});
