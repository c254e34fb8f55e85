/**
 * Storage for the widget in a browser that blocks storage in embedded sites (Chromium with
 * third-party cookies blocked, private windows): the Storage Access API lets the visitor allow
 * it for this one embedding. Where the browser supports the extended form (Chromium's "Storage
 * Access API beyond cookies"), the grant comes as a handle whose `indexedDB` and `localStorage`
 * are our origin's first-party storage, the same the chat window uses; elsewhere the plain
 * grant may open the page's own storage, which is then checked again. A grant is believed only
 * once the storage it names has opened: browsers differ in what a grant unlocks.
 *
 * The browser's objects come in as narrow interfaces (and the stores as a type parameter, the
 * app's BrowserStores in the widget), so the decisions run in Node too.
 */
import type { KeyValueStorage } from "../app/features/start-up-cache.ts";

/** The types the widget asks for: its keys and history (IndexedDB) and its settings (localStorage). */
export const STORAGE_TYPES = { indexedDB: true, localStorage: true } as const;

/**
 * How long a granted handle's IndexedDB open may take before its storage counts as closed: a
 * handle whose storage the browser still refuses can leave the open unanswered for good
 * (Chromium 156 with third-party cookies blocked by the user's setting does, having dropped
 * the handle's connection); a working one opens at once.
 */
export const HANDLE_PROBE_TIMEOUT_MS = 5000;

/** The part of `document` this uses; either method may be missing (no Storage Access API). */
export interface StorageAccessDocument {
	hasStorageAccess?(): Promise<boolean>;
	requestStorageAccess?(types?: typeof STORAGE_TYPES): Promise<unknown>;
}

/** The part of `navigator.permissions` this uses. */
export interface PermissionQuery {
	query(descriptor: { name: "storage-access" }): Promise<{ state: string }>;
}

export interface StorageAccessEnv<S> {
	document: StorageAccessDocument;
	permissions?: PermissionQuery;
	/** The page's own storage. */
	page: S;
	/** The storage of what `requestStorageAccess(STORAGE_TYPES)` resolved with, if it is a handle (see handleStores). */
	fromHandle(handle: unknown): S | null;
	/** Whether the keys and settings can be kept in these stores. */
	usable(stores: S): Promise<boolean>;
}

/**
 * What asking gave. `refused`: the browser or the visitor said no. `unsupported`: no Storage
 * Access API. `unusable`: granted, but the storage stayed closed all the same.
 */
export type StorageAccessResult<S> = { outcome: "granted"; stores: S } | { outcome: "refused" | "unsupported" | "unusable" };

export function storageAccessSupported(doc: StorageAccessDocument): boolean {
	return typeof doc.requestStorageAccess === "function";
}

/**
 * Ask for storage access. From a click in the iframe (the browser wants a user gesture unless
 * access was granted before, and may show a prompt).
 */
export async function requestStorage<S>(env: StorageAccessEnv<S>): Promise<StorageAccessResult<S>> {
	const request = env.document.requestStorageAccess;
	if (typeof request !== "function") return { outcome: "unsupported" };
	let handle: unknown;
	try {
		// Called at once, within the click: the gesture is what lets the browser ask.
		handle = await request.call(env.document, STORAGE_TYPES);
	} catch {
		return { outcome: "refused" };
	}
	const fromHandle = env.fromHandle(handle);
	if (fromHandle && (await env.usable(fromHandle))) return { outcome: "granted", stores: fromHandle };
	if (fromHandle) {
		// The handle's storage stayed closed: the document's own grant may open the page's storage.
		try {
			await request.call(env.document);
		} catch {
			return { outcome: "unusable" };
		}
	}
	// Without the extended form the argument was ignored: the same grant, of the page's storage.
	return (await env.usable(env.page)) ? { outcome: "granted", stores: env.page } : { outcome: "unusable" };
}

/**
 * On load, without a click: storage granted on an earlier visit (the document has access, or
 * the permission says granted). Asking again then needs no gesture and shows no prompt; the
 * stores, or null where there is nothing granted to take (the widget then waits for a click).
 */
export async function earlierStorage<S>(env: StorageAccessEnv<S>): Promise<S | null> {
	if (!storageAccessSupported(env.document)) return null;
	const has = await env.document.hasStorageAccess?.().catch(() => false);
	if (!has) {
		const state = await env.permissions?.query({ name: "storage-access" }).then(
			(status) => status.state,
			() => "unknown",
		);
		if (state !== "granted") return null;
	}
	const result = await requestStorage(env);
	return result.outcome === "granted" ? result.stores : null;
}

/**
 * A handle's storage, if it has both kinds the widget asked for (the extended form), as
 * getters: a handle's getters throw where access is denied. `F`: its IndexedDB type.
 */
export function handleStores<F>(handle: unknown): { indexedDB: () => F; localStorage: () => KeyValueStorage } | null {
	if (typeof handle !== "object" || handle === null || !("indexedDB" in handle) || !("localStorage" in handle)) return null;
	const from = handle as { readonly indexedDB: F; readonly localStorage: KeyValueStorage };
	return { indexedDB: () => from.indexedDB, localStorage: () => from.localStorage };
}

/**
 * The part of IndexedDB the probe uses (an IDBFactory is one). Handlers take `never`, so that
 * the DOM's handler types fit and this module needs no DOM types.
 */
export interface IdbOpener {
	open(name: string): {
		readonly result: { close(): void };
		onsuccess: ((this: never, ev: never) => unknown) | null;
		onerror: ((this: never, ev: never) => unknown) | null;
		onblocked: ((this: never, ev: never) => unknown) | null;
	};
	deleteDatabase(name: string): unknown;
}

export interface ProbedStores {
	indexedDB: () => IdbOpener;
	localStorage: () => KeyValueStorage;
}

/**
 * Whether an IndexedDB database can be opened in `factory`: false if the open fails, throws,
 * or is not answered within `timeoutMs` (null: waits as long as it takes, for the page's own).
 */
export function indexedDbOpens(factory: () => IdbOpener, timeoutMs: number | null): Promise<boolean> {
	return new Promise((resolve) => {
		const timer = timeoutMs === null ? undefined : setTimeout(() => resolve(false), timeoutMs);
		const settle = (ok: boolean) => {
			clearTimeout(timer);
			resolve(ok);
		};
		try {
			const idb = factory();
			const request = idb.open("sm-storage-probe");
			request.onsuccess = () => {
				request.result.close();
				idb.deleteDatabase("sm-storage-probe");
				settle(true);
			};
			request.onerror = () => settle(false);
			request.onblocked = () => settle(true);
		} catch {
			settle(false);
		}
	});
}

/** Whether localStorage can be read and written (it throws where the browser blocks it). */
export function keyValueWorks(storage: () => KeyValueStorage): boolean {
	try {
		const store = storage();
		store.setItem("sm-storage-probe", "1");
		store.removeItem("sm-storage-probe");
		return true;
	} catch {
		return false;
	}
}

/** Both kinds of storage work: localStorage first, as it fails at once where access is denied. */
export async function storesUsable(stores: ProbedStores, timeoutMs: number | null): Promise<boolean> {
	return keyValueWorks(stores.localStorage) && (await indexedDbOpens(stores.indexedDB, timeoutMs));
}
