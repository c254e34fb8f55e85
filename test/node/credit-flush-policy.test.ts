import { describe, expect, it } from "vitest";
import { type FlushPolicy, flushDeferredUntil, flushDueAt } from "../../worker/relay/credits/credit-flush-policy.ts";

const policy: FlushPolicy = { charges: 50, maxAgeMs: 300_000, idleMs: 1000 };
const now = 1_000_000;

describe("flushDueAt", () => {
	it("is nothing when nothing waits", () => {
		expect(flushDueAt({ charges: 0, oldestAt: null, lastSendAt: now }, now, policy)).toBeNull();
	});

	it("waits for the oldest charge's age while fewer than a batch wait", () => {
		expect(flushDueAt({ charges: 49, oldestAt: now - 1000, lastSendAt: now - 5000 }, now, policy)).toBe(now - 1000 + 300_000);
	});

	it("with a batch waiting, flushes at the first pause in sending, at once if the account is already idle", () => {
		expect(flushDueAt({ charges: 50, oldestAt: now - 60_000, lastSendAt: now - 200 }, now, policy)).toBe(now + 800);
		expect(flushDueAt({ charges: 50, oldestAt: now - 60_000, lastSendAt: now - 5000 }, now, policy)).toBe(now);
	});

	it("does not wait for a pause past the oldest charge's age, nor once ten batches wait", () => {
		expect(flushDueAt({ charges: 120, oldestAt: now - 299_900, lastSendAt: now }, now, policy)).toBe(now + 100);
		expect(flushDueAt({ charges: 500, oldestAt: now - 1000, lastSendAt: now }, now, policy)).toBe(now);
	});

	it("lets an alarm write a small journal at once, and holds a batch back only until the pause", () => {
		expect(flushDeferredUntil({ charges: 3, oldestAt: now - 10, lastSendAt: now }, now, policy)).toBeNull();
		expect(flushDeferredUntil({ charges: 60, oldestAt: now - 10, lastSendAt: now - 100 }, now, policy)).toBe(now + 900);
		expect(flushDeferredUntil({ charges: 60, oldestAt: now - 10, lastSendAt: now - 1000 }, now, policy)).toBeNull();
	});

	it("looks ever later while the account keeps sending, never past the oldest charge's age limit", () => {
		const sending = { charges: 60, oldestAt: now - 10_000, lastSendAt: now - 100 };
		// The first look waits for the pause; each later one twice as long as the one before.
		expect(flushDeferredUntil(sending, now, policy, 0)).toBe(now + 900);
		expect([1, 2, 3, 4].map((k) => flushDeferredUntil(sending, now, policy, k))).toEqual([
			now + 2000,
			now + 4000,
			now + 8000,
			now + 16_000,
		]);
		// Capped by the age limit of the oldest charge (charged 10 s ago: due 290 s from now).
		expect(flushDeferredUntil(sending, now, policy, 9)).toBe(now - 10_000 + 300_000);
		expect(flushDeferredUntil(sending, now, policy, 1000)).toBe(now - 10_000 + 300_000);
		// A pause has come, or the age limit: no look is put off, whatever the count.
		expect(flushDeferredUntil({ ...sending, lastSendAt: now - 1000 }, now, policy, 5)).toBeNull();
		expect(flushDeferredUntil({ ...sending, oldestAt: now - 300_000 }, now, policy, 5)).toBeNull();
		expect(flushDeferredUntil({ ...sending, charges: 3 }, now, policy, 5)).toBeNull();
	});
});
