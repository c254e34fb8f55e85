import { describe, expect, it } from "vitest";
import { numbersKey } from "../../client/core/key-store.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { MessageNumbering } from "../../client/core/message-numbering.ts";
import {
	carried,
	type IncomingNumbers,
	NUMBERS_KEPT,
	observeNumber,
	refusedNumber,
	takeNumber,
} from "../../client/core/message-numbers.ts";
import { openMessage, sealMessage } from "../../client/core/message-seal.ts";
import { randomBytes } from "../../common/nacl.ts";

/** Messages n = 1… arriving in this order from one device; what each noticed and filled. */
function arrive(order: number[], start?: IncomingNumbers) {
	let state = start;
	const seen: Array<{ n: number; missingBefore: number; filled: string[] }> = [];
	for (const n of order) {
		const o = observeNumber(state, n, `m${n}`);
		state = o.state;
		seen.push({ n, missingBefore: o.missingBefore, filled: o.filled });
	}
	return { state, seen };
}

describe("message numbers (pure)", () => {
	it("a sending device counts from 1 and carries refused numbers until a message with them is accepted", () => {
		const first = takeNumber(undefined);
		expect(first.sealed).toEqual({ n: 1 });
		const refused = refusedNumber(first.state, 1);
		const second = takeNumber(refused);
		expect(second.sealed).toEqual({ n: 2, refused: [1] });
		expect(takeNumber(carried(second.state, [1])).sealed).toEqual({ n: 3 });
	});

	it("the first message from a device sets where it starts; in order, nothing is missing", () => {
		const { seen, state } = arrive([7, 8, 9]);
		expect(seen.map((s) => s.missingBefore)).toEqual([0, 0, 0]);
		expect(state).toEqual({ high: 9, missing: [] });
	});

	it("a number that never came is missing before the next, and filled when it comes late", () => {
		const { seen, state } = arrive([1, 2, 5, 3, 4]);
		expect(seen.map((s) => s.missingBefore)).toEqual([0, 0, 2, 0, 0]);
		expect(seen[3]?.filled).toEqual([]);
		expect(seen[4]?.filled).toEqual(["m5"]);
		expect(state?.missing).toEqual([]);
	});

	it("refused numbers a message carries are not missing, before it or already noticed", () => {
		const at2 = arrive([1, 2]).state;
		expect(observeNumber(at2, 5, "m5", [3, 4])).toMatchObject({ missingBefore: 0, filled: [] });
		const noticed = observeNumber(at2, 4, "m4");
		expect(noticed.missingBefore).toBe(1);
		expect(observeNumber(noticed.state, 6, "m6", [3])).toMatchObject({ missingBefore: 1, filled: ["m4"] });
	});

	it("a contact's device cannot make a receiver list a billion numbers: the newest are kept, the count is told", () => {
		const o = observeNumber({ high: 1, missing: [] }, 1_000_000_001, "far");
		expect(o.missingBefore).toBe(999_999_999);
		expect(o.state.missing).toHaveLength(NUMBERS_KEPT);
	});

	it("the number travels in the sealed header, strictly checked", () => {
		const key = randomBytes(32);
		const header = {
			id: "a".repeat(22),
			from: "b".repeat(22),
			fromDevice: "c".repeat(22),
			to: "d".repeat(22),
			keyVersion: 1,
			kind: "edit",
			sentAt: 1,
		};
		const routing = { id: header.id, from: header.from, fromDevice: header.fromDevice, to: header.to, keyVersion: 1, kind: "edit" };
		const seq = { n: 4, refused: [2], replaces: { device: "c".repeat(22), n: 3 } };
		const sealed = sealMessage(key, { ...header, seq }, {});
		expect(openMessage(key, routing, sealed.nonce, sealed.box).header.seq).toEqual(seq);
		expect(() => sealMessage(key, { ...header, seq: { n: 0 } }, {})).toThrow(TypeError);
		expect(() => sealMessage(key, { ...header, seq: { n: 1, extra: true } as never }, {})).toThrow(TypeError);
		expect(() => sealMessage(key, { ...header, seq: { n: 1, refused: Array(NUMBERS_KEPT + 1).fill(1) } }, {})).toThrow(TypeError);
	});
});

describe("MessageNumbering (in a KeyStore)", () => {
	const peer = "p".repeat(22);
	const phone = "f".repeat(22);
	const laptop = "l".repeat(22);
	const me = "m".repeat(22);

	it("never gives two sends at once the same number, and keeps counting after a restart", async () => {
		const store = new MemoryKeyStore();
		const numbering = new MessageNumbering(store);
		const numbers = await Promise.all(Array.from({ length: 20 }, () => numbering.take(peer)));
		expect(numbers.map((x) => x.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
		expect((await new MessageNumbering(store).take(peer)).n).toBe(21);
	});

	it("an edit or delete that stands for a queued original accounts for its number, on its own device or another", async () => {
		const store = new MemoryKeyStore();
		const numbering = new MessageNumbering(store);
		const observe = async (fromDevice: string, by: string, seq: Parameters<MessageNumbering["observe"]>[2]) => {
			const plan = await numbering.observe(peer, { by, fromDevice, myDevice: me }, seq);
			await plan.commit();
			return plan;
		};
		await observe(phone, "p1", { n: 1 });
		// The phone's message 2 was swapped for its edit (3) in the queue: nothing missing.
		expect(await observe(phone, "p2", { n: 3, replaces: { device: phone, n: 2 } })).toMatchObject({ missingBefore: 0, filled: [] });
		// The phone's 4 went into a queue and was deleted there; 5 came first and noticed it.
		expect((await observe(phone, "p5", { n: 5 })).missingBefore).toBe(1);
		expect(await observe(phone, "p4", { n: 6, replaces: { device: phone, n: 4 } })).toMatchObject({ missingBefore: 0, filled: ["p5"] });
		// The laptop deletes the phone's 8, which this device never got, while 7 is missing too.
		expect((await observe(laptop, "l1", { n: 1 })).missingBefore).toBe(0);
		expect(await observe(laptop, "p8", { n: 2, replaces: { device: phone, n: 8 } })).toMatchObject({ missingBefore: 1 });
		expect(await store.getNumbers(numbersKey.incoming(peer, phone))).toEqual({ high: 8, missing: [{ n: 7, by: "p8" }] });
		// This device's own numbers are never tracked: its messages do not come back to it.
		await observe(laptop, "mine", { n: 3, replaces: { device: me, n: 40 } });
		expect(await store.getNumbers(numbersKey.incoming(peer, me))).toBeUndefined();
	});
});
