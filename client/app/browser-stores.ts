import type { KeyValueStorage } from "./features/start-up-cache.ts";

/**
 * Where a device profile keeps its keys, history and small settings: the page's own
 * IndexedDB and localStorage, or those of a Storage Access handle (the widget in a browser
 * that blocks storage in embedded sites, once the visitor allowed it: its first-party storage,
 * reached through `document.requestStorageAccess({ indexedDB: true, localStorage: true })`).
 * Getters, read on use, so that nothing touches a global before it is needed (nor in Node).
 */
export interface BrowserStores {
	indexedDB: () => IDBFactory;
	localStorage: () => KeyValueStorage;
}

/** The page's own storage: what the web app always uses, and the widget wherever the browser lets it. */
export const PAGE_STORES: BrowserStores = {
	indexedDB: () => indexedDB,
	localStorage: () => localStorage,
};
