import { describe, expect, it } from "vitest";
import type { KeyValueStorage } from "../../client/app/features/start-up-cache.ts";
import {
	earlierStorage,
	handleStores,
	type IdbOpener,
	indexedDbOpens,
	keyValueWorks,
	type ProbedStores,
	requestStorage,
	STORAGE_TYPES,
	type StorageAccessDocument,
	type StorageAccessEnv,
	storageAccessSupported,
	storesUsable,
} from "../../client/widget/storage-access.ts";
import { type StorageAsk, storageAskText } from "../../client/widget/storage-access-text.ts";

/**
 * The Storage Access decisions against stand-ins for the browser's document and storage
 * objects (Node has neither); real Chromium runs them in test/e2e/widget.test.ts.
 */

class MemoryStorage implements KeyValueStorage {
	readonly items = new Map<string, string>();
	getItem(key: string): string | null {
		return this.items.get(key) ?? null;
	}
	setItem(key: string, value: string): void {
		this.items.set(key, value);
	}
	removeItem(key: string): void {
		this.items.delete(key);
	}
}

/** Stands for an IDBFactory by identity only: `usable` below decides what works. */
const factory = (name: string) => ({ name }) as unknown as IdbOpener;
const stores = (name: string): ProbedStores => {
	const idb = factory(name);
	const kv = new MemoryStorage();
	return { indexedDB: () => idb, localStorage: () => kv };
};
const nameOf = (s: ProbedStores) => (s.indexedDB() as unknown as { name: string }).name;

/** A handle of the extended form: its own first-party storage. */
const handle = (name: string) => ({ indexedDB: factory(name), localStorage: new MemoryStorage() });

interface Scenario {
	/** What each requestStorageAccess call does, in order: resolve with a value, or reject. */
	answers?: Array<{ resolve: unknown } | "reject">;
	has?: boolean | "throws";
	permission?: string | "throws";
	/** The names of the stores that open. */
	working?: string[];
	noApi?: boolean;
}

function env(scenario: Scenario) {
	const calls: unknown[][] = [];
	const answers = [...(scenario.answers ?? [])];
	const document: StorageAccessDocument = scenario.noApi
		? {}
		: {
				hasStorageAccess: async () => {
					if (scenario.has === "throws") throw new DOMException("gone", "InvalidStateError");
					return scenario.has ?? false;
				},
				async requestStorageAccess(...args: unknown[]) {
					calls.push(args);
					const answer = answers.shift() ?? "reject";
					if (answer === "reject") throw new DOMException("requestStorageAccess not allowed", "NotAllowedError");
					return answer.resolve;
				},
			};
	const probed: string[] = [];
	const page = stores("page");
	const accessEnv: StorageAccessEnv<ProbedStores> = {
		document,
		permissions: {
			query: async ({ name }) => {
				expect(name).toBe("storage-access");
				if (scenario.permission === "throws") throw new TypeError("unknown permission");
				return { state: scenario.permission ?? "prompt" };
			},
		},
		page,
		fromHandle: (h) => handleStores<IdbOpener>(h),
		usable: async (s) => {
			probed.push(nameOf(s));
			return (scenario.working ?? []).includes(nameOf(s));
		},
	};
	return { accessEnv, calls, probed, page };
}

describe("asking for storage access from the visitor's click", () => {
	it("takes the extended form's handle when its storage opens, asking once for IndexedDB and localStorage", async () => {
		const { accessEnv, calls, probed } = env({ answers: [{ resolve: handle("first-party") }], working: ["first-party"] });
		const result = await requestStorage(accessEnv);
		expect(result.outcome).toBe("granted");
		if (result.outcome !== "granted") return;
		expect(nameOf(result.stores)).toBe("first-party");
		expect(calls).toEqual([[STORAGE_TYPES]]);
		expect(STORAGE_TYPES).toEqual({ indexedDB: true, localStorage: true });
		expect(probed).toEqual(["first-party"]);
	});

	it("says refused when the browser or the visitor says no, and looks at no storage", async () => {
		const { accessEnv, calls, probed } = env({ answers: ["reject"], working: ["page"] });
		expect(await requestStorage(accessEnv)).toEqual({ outcome: "refused" });
		expect(calls).toHaveLength(1);
		expect(probed).toEqual([]);
	});

	it("says unsupported without the Storage Access API", async () => {
		const { accessEnv } = env({ noApi: true, working: ["page"] });
		expect(storageAccessSupported(accessEnv.document)).toBe(false);
		expect(await requestStorage(accessEnv)).toEqual({ outcome: "unsupported" });
	});

	it("where the argument is ignored (no extended form), checks the page's own storage again after the grant", async () => {
		const opened = env({ answers: [{ resolve: undefined }], working: ["page"] });
		const result = await requestStorage(opened.accessEnv);
		expect(result.outcome === "granted" && result.stores).toBe(opened.page);
		expect(opened.calls).toHaveLength(1);

		const closed = env({ answers: [{ resolve: undefined }], working: [] });
		expect(await requestStorage(closed.accessEnv)).toEqual({ outcome: "unusable" });
		expect(closed.probed).toEqual(["page"]);
	});

	it("when the handle's storage stays closed, falls back to the plain request and the page's storage", async () => {
		// A browser whose grant opens the document's own storage (as Firefox's does).
		const firefoxLike = env({ answers: [{ resolve: handle("first-party") }, { resolve: undefined }], working: ["page"] });
		const result = await requestStorage(firefoxLike.accessEnv);
		expect(result.outcome === "granted" && nameOf(result.stores)).toBe("page");
		expect(firefoxLike.calls).toEqual([[STORAGE_TYPES], []]);
		expect(firefoxLike.probed).toEqual(["first-party", "page"]);

		// Chromium 156 with third-party cookies blocked by the setting: granted, and nothing opens.
		const chromiumHere = env({ answers: [{ resolve: handle("first-party") }, { resolve: undefined }], working: [] });
		expect(await requestStorage(chromiumHere.accessEnv)).toEqual({ outcome: "unusable" });

		const plainRefused = env({ answers: [{ resolve: handle("first-party") }, "reject"], working: ["page"] });
		expect(await requestStorage(plainRefused.accessEnv)).toEqual({ outcome: "unusable" });
		expect(plainRefused.probed).toEqual(["first-party"]);
	});

	it("takes as a handle only an object with both kinds of storage", () => {
		for (const notAHandle of [undefined, null, 3, "handle", {}, { indexedDB: factory("x") }, { localStorage: new MemoryStorage() }]) {
			expect(handleStores(notAHandle)).toBeNull();
		}
		expect(handleStores(handle("x"))).not.toBeNull();
	});
});

describe("storage allowed on an earlier visit", () => {
	it("goes inline without a click when the document already has access or the permission is granted", async () => {
		for (const scenario of [{ has: true }, { has: false, permission: "granted" }, { has: "throws" as const, permission: "granted" }]) {
			const { accessEnv, calls } = env({ ...scenario, answers: [{ resolve: handle("first-party") }], working: ["first-party"] });
			const found = await earlierStorage(accessEnv);
			expect(found && nameOf(found)).toBe("first-party");
			expect(calls).toEqual([[STORAGE_TYPES]]);
		}
	});

	it("asks nothing (so no request without a gesture) when the permission is not granted or cannot be read", async () => {
		for (const permission of ["prompt", "denied", "throws"]) {
			const { accessEnv, calls } = env({ has: false, permission, answers: [{ resolve: handle("first-party") }], working: ["first-party"] });
			expect(await earlierStorage(accessEnv)).toBeNull();
			expect(calls).toEqual([]);
		}
		const { accessEnv } = env({ noApi: true, working: ["page"] });
		expect(await earlierStorage(accessEnv)).toBeNull();
	});

	it("waits for a click when the earlier grant no longer opens any storage", async () => {
		const { accessEnv } = env({ has: true, answers: [{ resolve: handle("first-party") }, { resolve: undefined }], working: [] });
		expect(await earlierStorage(accessEnv)).toBeNull();
	});
});

describe("the storage probes", () => {
	it("count localStorage as working only when it can be written", () => {
		expect(keyValueWorks(() => new MemoryStorage())).toBe(true);
		const denied = () => {
			throw new DOMException("Access is denied for this document.", "SecurityError");
		};
		expect(keyValueWorks(denied)).toBe(false);
		const full: KeyValueStorage = {
			getItem: () => null,
			setItem: () => {
				throw new DOMException("full", "QuotaExceededError");
			},
			removeItem: () => {},
		};
		expect(keyValueWorks(() => full)).toBe(false);
	});

	it("count IndexedDB as closed when opening throws, fails, or is never answered", async () => {
		const throwing = () => {
			throw new DOMException("denied", "SecurityError");
		};
		expect(await indexedDbOpens(throwing, 1000)).toBe(false);

		/** An open request whose outcome the test fires (or never does). */
		type Handlers = { onsuccess?: () => void; onerror?: () => void; result?: { close(): void } };
		const openWith = (fire: (request: Handlers) => void) => () =>
			({
				open: () => {
					const request: Handlers = {};
					setTimeout(() => fire(request), 0);
					return request;
				},
				deleteDatabase: () => ({}),
			}) as unknown as IdbOpener;
		const failing = openWith((r) => r.onerror?.());
		expect(await indexedDbOpens(failing, 1000)).toBe(false);
		const unanswered = openWith(() => {});
		const started = Date.now();
		expect(await indexedDbOpens(unanswered, 50)).toBe(false);
		expect(Date.now() - started).toBeGreaterThanOrEqual(45);

		let closed = false;
		const opening = openWith((r) => {
			r.result = {
				close: () => {
					closed = true;
				},
			};
			r.onsuccess?.();
		});
		expect(await indexedDbOpens(opening, 1000)).toBe(true);
		expect(closed).toBe(true);
		// Both kinds must work; a denied localStorage fails before IndexedDB is tried.
		let tried = false;
		const lsDenied: ProbedStores = {
			indexedDB: () => {
				tried = true;
				return opening();
			},
			localStorage: () => {
				throw new DOMException("Access is denied for this document.", "SecurityError");
			},
		};
		expect(await storesUsable(lsDenied, 1000)).toBe(false);
		expect(tried).toBe(false);
		expect(await storesUsable({ indexedDB: opening, localStorage: () => new MemoryStorage() }, null)).toBe(true);
	});
});

describe("what the widget without storage says", () => {
	it("has a sentence for each state, the first naming what the browser keeps from embedded chats", () => {
		const states: StorageAsk[] = ["not asked", "asking", "refused", "unusable", "unsupported"];
		const texts = states.map(storageAskText);
		expect(new Set(texts).size).toBe(states.length);
		expect(storageAskText("not asked")).toContain("does not let chats embedded in other sites keep their keys");
		for (const outcome of ["refused", "unusable", "unsupported"] as const) expect(storageAskText(outcome)).toContain("window of its own");
	});
});
