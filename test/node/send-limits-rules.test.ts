import { describe, expect, it } from "vitest";
import { checkSendLimits, DAY_MS, dailyQuota, type LimitRules, type LimitVerdict, quotaLeft } from "../../worker/abuse/send-limits.ts";

// wrangler.toml's defaults: 1 send per 10 s, 20 a day untrusted, 200 trusted, verified unlimited.
const QUOTAS = { untrusted: 20, trusted: 200 };
const WINDOW = 10_000;
const untrusted: LimitRules = { rateCount: 1, rateWindowMs: WINDOW, quota: 20 };
const trusted: LimitRules = { rateCount: 1, rateWindowMs: WINDOW, quota: 200 };
const verified: LimitRules = { rateCount: 1, rateWindowMs: WINDOW, quota: null };

const T0 = 1_700_000_000_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * The verdict for an account whose sends happened at `sendTimes`, counted the way the relay
 * counts them (sent-messages.ts `countSends`: a send is in a window when it is strictly
 * later than `now - window`; `nthNewestTime`: the n-th newest of all stored sends).
 */
function verdictAfter(sendTimes: readonly number[], now: number, rules: LimitRules): LimitVerdict {
	const newestFirst = [...sendTimes].sort((a, b) => b - a);
	const counts = {
		inRateWindow: sendTimes.filter((t) => t > now - rules.rateWindowMs).length,
		inDay: sendTimes.filter((t) => t > now - DAY_MS).length,
	};
	return checkSendLimits(counts, (n) => newestFirst[n - 1], now, rules);
}

/** `count` sends, `gap` apart, the first at `first`. */
const spaced = (first: number, count: number, gap: number) => Array.from({ length: count }, (_, i) => first + i * gap);

describe("dailyQuota", () => {
	it("gives an untrusted account the untrusted quota and a trusted one the trusted quota", () => {
		expect(dailyQuota("untrusted", QUOTAS)).toBe(20);
		expect(dailyQuota("trusted", QUOTAS)).toBe(200);
	});

	it("gives a verified account no daily quota at all", () => {
		expect(dailyQuota("verified", QUOTAS)).toBeNull();
	});
});

describe("quotaLeft", () => {
	it("is the quota minus the sends of the rolling day", () => {
		expect(quotaLeft(0, 20)).toBe(20);
		expect(quotaLeft(7, 20)).toBe(13);
		expect(quotaLeft(20, 20)).toBe(0);
	});

	it("never goes below zero, even when more sends were counted than the quota now allows", () => {
		expect(quotaLeft(150, 20)).toBe(0);
	});

	it("is null (unlimited) when there is no quota, however much was sent", () => {
		expect(quotaLeft(0, null)).toBeNull();
		expect(quotaLeft(1_000_000, null)).toBeNull();
	});
});

describe("checkSendLimits: the rate window", () => {
	it("lets the first send of an account through", () => {
		expect(verdictAfter([], T0, untrusted)).toEqual({ ok: true });
	});

	it("refuses a second send 3 s after the first as rate_limited, retrying when the first leaves the window 7 s later", () => {
		expect(verdictAfter([T0], T0 + 3 * SECOND, untrusted)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 7 * SECOND });
	});

	it("refuses a send in the same millisecond as the previous one with a whole window to wait", () => {
		expect(verdictAfter([T0], T0, untrusted)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: WINDOW });
	});

	it("lets a send through exactly at the window edge, 10 s after the previous one", () => {
		expect(verdictAfter([T0], T0 + WINDOW, untrusted)).toEqual({ ok: true });
	});

	it("still refuses one millisecond before the window edge, with 1 ms to wait", () => {
		expect(verdictAfter([T0], T0 + WINDOW - 1, untrusted)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 1 });
	});

	it("counts the sends of the account, not of one device: the verdict reads only the account's counts", () => {
		// Two devices' sends land in the same account history; the second device is refused.
		const phone = T0;
		const laptop = T0 + 2 * SECOND;
		expect(verdictAfter([phone], laptop, untrusted)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 8 * SECOND });
	});

	describe("with 3 sends allowed per 10 s", () => {
		const three: LimitRules = { rateCount: 3, rateWindowMs: WINDOW, quota: null };

		it("lets the 2nd and 3rd sends inside the window through", () => {
			expect(verdictAfter([T0], T0 + 1 * SECOND, three)).toEqual({ ok: true });
			expect(verdictAfter([T0, T0 + 1 * SECOND], T0 + 2 * SECOND, three)).toEqual({ ok: true });
		});

		it("refuses the 4th, retrying when the oldest of the three leaves the window, not the newest", () => {
			const sends = [T0, T0 + 2 * SECOND, T0 + 4 * SECOND];
			expect(verdictAfter(sends, T0 + 5 * SECOND, three)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 5 * SECOND });
		});

		it("ignores sends that already left the window when naming the one to wait for", () => {
			const sends = [T0 - 30 * SECOND, T0 - 20 * SECOND, T0, T0 + 2 * SECOND, T0 + 4 * SECOND];
			expect(verdictAfter(sends, T0 + 5 * SECOND, three)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 5 * SECOND });
		});

		it("lets a send through the moment the oldest of the three reaches the window edge", () => {
			const sends = [T0, T0 + 2 * SECOND, T0 + 4 * SECOND];
			expect(verdictAfter(sends, T0 + WINDOW, three)).toEqual({ ok: true });
		});
	});
});

describe("checkSendLimits: the daily quota", () => {
	// 20 sends one minute apart: well clear of the rate window, and the 20th fills the day.
	const day = spaced(T0, 20, MINUTE);
	const last = day[19] as number;

	it("lets the 20th send of the day through for an untrusted account", () => {
		expect(verdictAfter(day.slice(0, 19), last, untrusted)).toEqual({ ok: true });
	});

	it("refuses the 21st as quota_exceeded, retrying when the oldest send of the day is 24 h old", () => {
		const now = last + HOUR;
		expect(verdictAfter(day, now, untrusted)).toEqual({ ok: false, code: "quota_exceeded", retryAfterMs: T0 + DAY_MS - now });
	});

	it("lets a send through exactly 24 h after the oldest send of the day, and refuses 1 ms earlier", () => {
		expect(verdictAfter(day, T0 + DAY_MS, untrusted)).toEqual({ ok: true });
		expect(verdictAfter(day, T0 + DAY_MS - 1, untrusted)).toEqual({ ok: false, code: "quota_exceeded", retryAfterMs: 1 });
	});

	it("names the oldest send still inside the day, not one that already aged out of it", () => {
		const history = [T0 - DAY_MS - HOUR, T0 - DAY_MS, ...day];
		const now = last + HOUR;
		expect(verdictAfter(history, now, untrusted)).toEqual({ ok: false, code: "quota_exceeded", retryAfterMs: T0 + DAY_MS - now });
	});

	it("gives a trusted account 200 sends a day: the 200th passes, the 201st is refused", () => {
		const sends = spaced(T0, 200, MINUTE);
		const lastTrusted = sends[199] as number;
		expect(verdictAfter(sends.slice(0, 199), lastTrusted, trusted)).toEqual({ ok: true });
		expect(verdictAfter(sends, lastTrusted + MINUTE, trusted)).toEqual({
			ok: false,
			code: "quota_exceeded",
			retryAfterMs: T0 + DAY_MS - (lastTrusted + MINUTE),
		});
	});

	it("does not stop a trusted account at the untrusted quota", () => {
		expect(verdictAfter(day, last + HOUR, trusted)).toEqual({ ok: true });
	});

	it("never refuses a verified account for the day, however many it sent", () => {
		expect(checkSendLimits({ inRateWindow: 0, inDay: 1_000_000 }, () => T0, T0 + HOUR, verified)).toEqual({ ok: true });
		expect(verdictAfter(spaced(T0, 5000, 11 * SECOND), T0 + 5000 * 11 * SECOND, verified)).toEqual({ ok: true });
	});

	it("still holds a verified account to the rate window", () => {
		expect(verdictAfter([T0], T0 + 4 * SECOND, verified)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 6 * SECOND });
	});
});

describe("checkSendLimits: when both limits apply", () => {
	// The day is full and the newest send was 4 s ago.
	const day = [...spaced(T0, 19, MINUTE), T0 + 19 * MINUTE];
	const now = T0 + 19 * MINUTE + 4 * SECOND;

	it("answers rate_limited with the short wait, because the rate window is checked before the quota", () => {
		expect(verdictAfter(day, now, untrusted)).toEqual({ ok: false, code: "rate_limited", retryAfterMs: 6 * SECOND });
	});

	it("answers quota_exceeded with the long wait once the client has waited out the rate window", () => {
		const retry = now + 6 * SECOND;
		expect(verdictAfter(day, retry, untrusted)).toEqual({ ok: false, code: "quota_exceeded", retryAfterMs: T0 + DAY_MS - retry });
	});
});

describe("checkSendLimits: retry-after", () => {
	it("waits a whole window when the history cannot name the send that filled it", () => {
		expect(checkSendLimits({ inRateWindow: 1, inDay: 1 }, () => undefined, T0, untrusted)).toEqual({
			ok: false,
			code: "rate_limited",
			retryAfterMs: WINDOW,
		});
	});

	it("waits a whole day when the history cannot name the send that filled the day", () => {
		expect(checkSendLimits({ inRateWindow: 0, inDay: 20 }, () => undefined, T0, untrusted)).toEqual({
			ok: false,
			code: "quota_exceeded",
			retryAfterMs: DAY_MS,
		});
	});

	it("never asks to wait less than 1 ms, even when the named send is already past the edge", () => {
		// The counts say full, but the send they name is older than the window (read a moment apart).
		expect(checkSendLimits({ inRateWindow: 1, inDay: 1 }, () => T0 - 2 * WINDOW, T0, untrusted)).toEqual({
			ok: false,
			code: "rate_limited",
			retryAfterMs: 1,
		});
		expect(checkSendLimits({ inRateWindow: 0, inDay: 20 }, () => T0 - 2 * DAY_MS, T0, untrusted)).toEqual({
			ok: false,
			code: "quota_exceeded",
			retryAfterMs: 1,
		});
	});

	it("asks for the 1-based n-th newest send: the rate count for the window, the quota for the day", () => {
		const asked: number[] = [];
		const nth = (n: number) => {
			asked.push(n);
			return T0;
		};
		checkSendLimits({ inRateWindow: 3, inDay: 3 }, nth, T0 + SECOND, { rateCount: 3, rateWindowMs: WINDOW, quota: 20 });
		checkSendLimits({ inRateWindow: 0, inDay: 20 }, nth, T0 + SECOND, untrusted);
		expect(asked).toEqual([3, 20]);
	});

	it("lets a sender that always waits exactly the retry-after send 20 times in any rolling day, no more", () => {
		const sent: number[] = [];
		let now = T0;
		while (now < T0 + 3 * DAY_MS) {
			const verdict = verdictAfter(sent, now, untrusted);
			if (verdict.ok) {
				sent.push(now);
				now += 1;
			} else {
				// One millisecond before the retry-after is still too early.
				expect(verdictAfter(sent, now + verdict.retryAfterMs - 1, untrusted).ok).toBe(false);
				now += verdict.retryAfterMs;
			}
		}
		// The first day: 20 sends 10 s apart, then nothing until the first is a day old.
		expect(sent.slice(0, 20)).toEqual(spaced(T0, 20, WINDOW));
		expect(sent[20]).toBe(T0 + DAY_MS);
		for (const t of sent) expect(sent.filter((s) => s > t - DAY_MS && s <= t).length).toBeLessThanOrEqual(20);
		expect(sent.length).toBe(60);
	});
});
