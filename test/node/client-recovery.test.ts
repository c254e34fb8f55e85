import { describe, expect, it, vi } from "vitest";
import { errorText, NOT_A_RECOVERY_KEY, RECOVERY_KEY_MISMATCH } from "../../client/app/error-text.ts";
import { BrowserStorage, type PersistentStorageApi } from "../../client/app/features/browser-storage.ts";
import { Notices } from "../../client/app/features/notices.ts";
import {
	needsReminder,
	pickPositions,
	Recovery,
	RecoveryMarks,
	recoveryFileText,
	reminderShown,
	splitWords,
	wrongPositions,
} from "../../client/app/features/recovery.ts";
import type { KeyValueStorage } from "../../client/app/features/start-up-cache.ts";
import { initialState, type RecoveryState } from "../../client/app/store.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { ALICE, deferred, relayId, settle, storeWith } from "./client-fakes.ts";

const WORDS = "abandon ability able about above absent absorb abstract absurd abuse access accident";
const OTHER_WORDS = "zoo zone zero youth young yellow year wrong write wrist wrestle wreck";
const ME = { accountId: ALICE, deviceId: relayId("alice_laptop"), handle: "alice" };

function memoryStorage(entries = new Map<string, string>()): { kv: KeyValueStorage; entries: Map<string, string> } {
	return {
		entries,
		kv: {
			getItem: (key) => entries.get(key) ?? null,
			setItem: (key, value) => void entries.set(key, value),
			removeItem: (key) => void entries.delete(key),
		},
	};
}

/** The recovery feature over a fake SDK client: keys it makes are WORDS, then OTHER_WORDS, and so on. */
function recoveryOf({ hasKey = async () => false, made = [WORDS, OTHER_WORDS], entries = new Map<string, string>() } = {}) {
	const store = storeWith({ me: ME, phase: "ready" });
	const { kv } = memoryStorage(entries);
	const queue = [...made];
	// The key registered with the account: WORDS until this device makes another.
	let registered = WORDS;
	const client = {
		setUpRecovery: vi.fn(async () => {
			registered = queue.shift() ?? WORDS;
			return registered;
		}),
		hasRecoveryKey: vi.fn(hasKey),
		// The relay's registered key, as the SDK compares: here, the words made last.
		checkRecoveryKey: vi.fn(async (words: string) => {
			if (splitWords(words).length !== 12) throw new SdkError("bad_request", "That is not a recovery key.");
			return (await hasKey()) && splitWords(words).join(" ") === registered;
		}),
	};
	const marks = new RecoveryMarks("sm-test", () => kv);
	const recovery = new Recovery(store, client, marks, new Notices(store));
	return { store, client, marks, recovery, entries };
}

const state = (patch: Partial<RecoveryState>): RecoveryState => ({ ...initialState().recovery, ...patch });

describe("the recovery key's words", () => {
	it("splits words however they were typed", () => {
		expect(splitWords("  Abandon\n ABILITY\table  ")).toEqual(["abandon", "ability", "able"]);
		expect(splitWords("")).toEqual([]);
	});

	it("asks for three different positions of twelve, in order", () => {
		for (let seed = 0; seed < 50; seed++) {
			let x = seed;
			const random = () => {
				x = (x * 9301 + 49297) % 233280;
				return x / 233280;
			};
			const positions = pickPositions(12, 3, random);
			expect(positions).toHaveLength(3);
			expect(new Set(positions).size).toBe(3);
			expect(positions).toEqual([...positions].sort((a, b) => a - b));
			for (const p of positions) expect(p >= 1 && p <= 12).toBe(true);
		}
		expect(pickPositions(2, 3)).toHaveLength(2);
	});

	it("checks typed words by position, case and spaces aside, and counts an empty one as wrong", () => {
		expect(wrongPositions(WORDS, [1, 5, 12], ["Abandon", " above ", "ACCIDENT"])).toEqual([]);
		expect(wrongPositions(WORDS, [1, 5, 12], ["abandon", "ability", ""])).toEqual([5, 12]);
		// Two words in one field are not the word.
		expect(wrongPositions(WORDS, [1], ["abandon ability"])).toEqual([1]);
	});

	it("writes a file that says what it is, for which account, with the words numbered", () => {
		const text = recoveryFileText("alice", WORDS, new Date("2026-03-04T10:00:00Z"));
		expect(text).toContain("Account: @alice");
		expect(text).toContain("Made: 2026-03-04");
		expect(text).toContain(" 1. abandon");
		expect(text).toContain("12. accident");
		expect(text.match(/^\s*\d+\. /gm)).toHaveLength(12);
	});

	it("reminds until a key exists that was saved and confirmed, but not while the words are shown or before the relay answered", () => {
		expect(needsReminder(state({ hasKey: true, confirmed: true }))).toBe(false);
		expect(needsReminder(state({ hasKey: true, confirmed: false }))).toBe(true);
		// Confirmed once here, but the relay has no key now (it was never registered, or the relay lost it).
		expect(needsReminder(state({ hasKey: false, confirmed: true }))).toBe(true);
		expect(reminderShown(state({ hasKey: null }))).toBe(false);
		expect(reminderShown(state({ hasKey: null, words: WORDS }))).toBe(true);
		expect(reminderShown(state({ hasKey: true, words: WORDS, showing: true }))).toBe(false);
		expect(reminderShown(state({ making: true, showing: false, hasKey: false }))).toBe(false);
		expect(reminderShown(state({ hasKey: false }))).toBe(true);
		expect(reminderShown(state({ hasKey: true, confirmed: true }))).toBe(false);
	});
});

describe("setting up the recovery key", () => {
	it("shows the screen at once while the key is made, then its words; the account then has a key not yet confirmed", async () => {
		const making = deferred<string>();
		const app = recoveryOf();
		app.client.setUpRecovery.mockImplementationOnce(() => making.promise);
		const done = app.recovery.setUp();
		expect(app.store.state.recovery).toMatchObject({ showing: true, making: true, words: null });
		making.resolve(WORDS);
		await done;
		expect(app.store.state.recovery).toEqual({ hasKey: true, confirmed: false, words: WORDS, showing: true, making: false });
		expect(reminderShown(app.store.state.recovery)).toBe(false);
	});

	it("makes one key for two quick asks", async () => {
		const app = recoveryOf();
		await Promise.all([app.recovery.setUp(), app.recovery.setUp()]);
		expect(app.client.setUpRecovery).toHaveBeenCalledTimes(1);
	});

	it("confirms only when the three words typed back are right, then forgets the words and keeps the mark per account", async () => {
		const app = recoveryOf();
		await app.recovery.setUp();
		expect(app.recovery.confirm([2, 7, 11], ["ability", "absorb", "wrong"])).toEqual([11]);
		expect(app.store.state.recovery).toMatchObject({ confirmed: false, words: WORDS, showing: true });
		expect(app.marks.confirmed(ALICE)).toBe(false);

		expect(app.recovery.confirm([2, 7, 11], ["ability", "ABSORB", " access"])).toEqual([]);
		expect(app.store.state.recovery).toEqual({ hasKey: true, confirmed: true, words: null, showing: false, making: false });
		expect(app.entries.get(`sm-test:recovery-confirmed:${ALICE}`)).toBe("1");
		expect(app.marks.confirmed(relayId("someone_else"))).toBe(false);
	});

	it("lets the person put it off: the words stay in memory to be shown again, and the reminder shows", async () => {
		const app = recoveryOf();
		await app.recovery.setUp();
		app.recovery.later();
		expect(app.store.state.recovery).toMatchObject({ showing: false, words: WORDS, confirmed: false });
		expect(reminderShown(app.store.state.recovery)).toBe(true);
		app.recovery.show();
		expect(app.store.state.recovery.showing).toBe(true);
	});

	it("makes a new key on request: the confirmation of the old one no longer counts, the new words are confirmed the same way", async () => {
		const app = recoveryOf({ hasKey: async () => true });
		await app.recovery.setUp();
		app.recovery.confirm([1, 2, 3], ["abandon", "ability", "able"]);
		expect(app.marks.confirmed(ALICE)).toBe(true);

		await app.recovery.setUp();
		expect(app.store.state.recovery).toMatchObject({ words: OTHER_WORDS, confirmed: false, showing: true });
		expect(app.marks.confirmed(ALICE)).toBe(false);
		// The old words are no answer any more.
		expect(app.recovery.confirm([1, 2, 3], ["abandon", "ability", "able"])).toEqual([1, 2, 3]);
		expect(app.recovery.confirm([1, 2, 3], ["zoo", "zone", "zero"])).toEqual([]);
		expect(app.marks.confirmed(ALICE)).toBe(true);
	});

	it("leaves the screen when the key could not be made, and throws for the caller to say why", async () => {
		const app = recoveryOf();
		app.client.setUpRecovery.mockRejectedValueOnce(new SdkError("network", "offline"));
		await expect(app.recovery.setUp()).rejects.toMatchObject({ code: "network" });
		expect(app.store.state.recovery).toMatchObject({ showing: false, making: false, words: null });
	});
});

describe("what the app knows of the recovery key on start", () => {
	it("asks the relay whether there is a key, and this browser whether it was confirmed", async () => {
		const entries = new Map([[`sm-test:recovery-confirmed:${ALICE}`, "1"]]);
		const app = recoveryOf({ hasKey: async () => true, entries });
		await app.recovery.load();
		expect(app.store.state.recovery).toMatchObject({ hasKey: true, confirmed: true });
		expect(reminderShown(app.store.state.recovery)).toBe(false);

		const linked = recoveryOf({ hasKey: async () => true });
		await linked.recovery.load();
		expect(reminderShown(linked.store.state.recovery)).toBe(true);
		// A device linked later: the person types the words they saved on the device that made it.
		expect(await linked.recovery.checkSaved(OTHER_WORDS)).toBe(false);
		expect(linked.store.state.recovery.confirmed).toBe(false);
		await expect(linked.recovery.checkSaved("three short words")).rejects.toMatchObject({ code: "bad_request" });
		expect(await linked.recovery.checkSaved(` ${WORDS.toUpperCase()} `)).toBe(true);
		expect(linked.store.state.recovery.confirmed).toBe(true);
		expect(linked.marks.confirmed(ALICE)).toBe(true);
	});

	it("does not count words as saved for an account that has no recovery key", async () => {
		const app = recoveryOf({ hasKey: async () => false });
		await app.recovery.load();
		expect(await app.recovery.checkSaved(WORDS)).toBe(false);
		expect(app.store.state.recovery.confirmed).toBe(false);
	});

	it("lets an answer from before a new key was made not overwrite it", async () => {
		const answer = deferred<boolean>();
		const app = recoveryOf({ hasKey: () => answer.promise });
		const loading = app.recovery.load();
		await app.recovery.setUp();
		answer.resolve(false);
		await loading;
		expect(app.store.state.recovery).toMatchObject({ hasKey: true, words: WORDS });
	});

	it("reports a recovery key the relay made up, and says so in words", async () => {
		const app = recoveryOf({
			hasKey: async () => {
				throw new SdkError("untrusted", "The restore was refused: the recovery key…", { reason: "device_list" });
			},
		});
		await app.recovery.load();
		expect(app.store.state.recovery.hasKey).toBeNull();
		expect(app.store.state.notices.map((n) => n.text)).toEqual([expect.stringMatching(/^The recovery key the server names/)]);
	});

	it("counts a restored account as confirmed: the person just typed the key", async () => {
		const app = recoveryOf();
		app.recovery.restored(ALICE);
		expect(app.store.state.recovery).toMatchObject({ hasKey: true, confirmed: true });
		expect(app.marks.confirmed(ALICE)).toBe(true);
	});

	it("keeps going where the browser blocks storage", () => {
		const marks = new RecoveryMarks("sm-test", () => {
			throw new DOMException("blocked", "SecurityError");
		});
		expect(marks.confirmed(ALICE)).toBe(false);
		expect(() => marks.set(ALICE, true)).not.toThrow();
	});
});

describe("the storage the browser keeps", () => {
	it("asks for persistent storage and shows the browser's answer", async () => {
		const store = storeWith();
		const api: PersistentStorageApi = { persist: vi.fn(async () => true), persisted: vi.fn(async () => true) };
		await new BrowserStorage(store, () => api).keep();
		expect(api.persist).toHaveBeenCalledTimes(1);
		expect(store.state.persistentStorage).toBe(true);
	});

	it("shows a refusal, and reads the state again on a failed ask", async () => {
		const store = storeWith();
		await new BrowserStorage(store, () => ({ persist: async () => false })).keep();
		expect(store.state.persistentStorage).toBe(false);
		await new BrowserStorage(store, () => ({
			persist: async () => {
				throw new Error("no");
			},
			persisted: async () => false,
		})).keep();
		expect(store.state.persistentStorage).toBe(false);
	});

	it("says nothing where the browser has no such API", async () => {
		const store = storeWith({ persistentStorage: true });
		await new BrowserStorage(store, () => undefined).load();
		expect(store.state.persistentStorage).toBeNull();
		await new BrowserStorage(store, () => ({})).keep();
		expect(store.state.persistentStorage).toBeNull();
		await settle();
	});
});

describe("error texts of recovery", () => {
	const restore = (code: ConstructorParameters<typeof SdkError>[0], message: string, retryAfter?: number) =>
		errorText(new SdkError(code, message, retryAfter === undefined ? {} : { retryAfter }), "restore");

	it("tells words that are no recovery key from a key that does not match", () => {
		expect(
			restore("bad_request", "That is not a recovery key: a recovery key is 12 words from the recovery word list, in their order."),
		).toBe(NOT_A_RECOVERY_KEY);
		expect(restore("unauthorized", "The recovery key does not match this account.")).toBe(RECOVERY_KEY_MISMATCH);
		expect(RECOVERY_KEY_MISMATCH).toMatch(/^The recovery key does not match this account\./);
		// A handle that is not one still gets the handle's rules.
		expect(restore("bad_request", "handle: too short")).toBe("A handle is 3 to 32 letters (a–z), digits or underscores.");
	});

	it("says when to try again after too many wrong keys, and what a failed check means", () => {
		expect(restore("rate_limited", "Too many recovery attempts.", 30 * 60_000)).toMatch(
			/^Too many restores were tried lately, for this account or from this network, .* try again in 30 min/,
		);
		expect(restore("rate_limited", "Too many recovery attempts.")).toMatch(/try again in an hour\.$/);
		expect(restore("untrusted", "The restore was refused: …")).toMatch(
			/^The account's key backup or its device list failed a security check/,
		);
		expect(restore("too_many_devices", "full")).toMatch(/^This account has no room for another device/);
		// Outside a restore, a 401 still means this device could not sign in.
		expect(errorText(new SdkError("unauthorized", "x"))).toMatch(/^This device could not sign in/);
	});
});
