import type { TrustLevel } from "../db/accounts.ts";

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface LimitRules {
	rateCount: number;
	rateWindowMs: number;
	/** Sends allowed in any rolling 24 h; null is unlimited. */
	quota: number | null;
}

export type LimitVerdict = { ok: true } | { ok: false; code: "rate_limited" | "quota_exceeded"; retryAfterMs: number };

export function dailyQuota(trust: TrustLevel, quotas: { untrusted: number; trusted: number }): number | null {
	if (trust === "verified") return null;
	return trust === "trusted" ? quotas.trusted : quotas.untrusted;
}

/** How many sends fall in each window, the count of the rate window and of the rolling day. */
export interface SendCounts {
	inRateWindow: number;
	/** Sends in the rolling day; only counted when there is a daily quota (otherwise nothing reads it). */
	inDay: number;
}

/**
 * Sliding-window verdict over the account's recent sends. Pure: the caller counts the sends
 * in storage, so this needs no timer and keeps nothing in memory, which is what lets the
 * Durable Object hibernate between messages. Only a refusal needs a send time, the one whose
 * leaving the window frees a slot (`nthNewest(n)`: the n-th newest send, 1-based); counting
 * instead of reading the day's times keeps a verdict one index range count however high the
 * limits are set.
 */
export function checkSendLimits(
	counts: SendCounts,
	nthNewest: (n: number) => number | undefined,
	now: number,
	rules: LimitRules,
): LimitVerdict {
	if (counts.inRateWindow >= rules.rateCount) {
		const oldestCounted = nthNewest(rules.rateCount) ?? now;
		return { ok: false, code: "rate_limited", retryAfterMs: Math.max(1, oldestCounted + rules.rateWindowMs - now) };
	}
	if (rules.quota !== null && counts.inDay >= rules.quota) {
		const oldestCounted = nthNewest(rules.quota) ?? now;
		return { ok: false, code: "quota_exceeded", retryAfterMs: Math.max(1, oldestCounted + DAY_MS - now) };
	}
	return { ok: true };
}

/**
 * When the account may send again after a send, given the counts with that send in them: the
 * later of the rate window's and the quota's freeing, or null when the next may go at once.
 * The client waits until then instead of writing a send the relay would refuse (each refusal
 * counts toward a suspension). `nthNewest` is read only for a limit that is reached.
 */
export function nextSendTime(
	after: SendCounts,
	nthNewest: (n: number) => number | undefined,
	now: number,
	rules: LimitRules,
): number | null {
	let at = 0;
	if (after.inRateWindow >= rules.rateCount) at = (nthNewest(rules.rateCount) ?? now) + rules.rateWindowMs;
	if (rules.quota !== null && after.inDay >= rules.quota) at = Math.max(at, (nthNewest(rules.quota) ?? now) + DAY_MS);
	return at > now ? at : null;
}

/** Sends left in the rolling day, or null when unlimited. */
export function quotaLeft(inDay: number, quota: number | null): number | null {
	return quota === null ? null : Math.max(0, quota - inDay);
}
