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

/** How many recent send times the verdict needs to see, newest first. */
export const lookback = (rules: LimitRules): number => Math.max(rules.rateCount, rules.quota ?? 0);

/**
 * Sliding-window verdict over the account's recent sends (newest first). Pure: the caller
 * reads the times from storage, so this needs no timer and keeps nothing in memory, which
 * is what lets the Durable Object hibernate between messages.
 */
export function checkSendLimits(recentDesc: readonly number[], now: number, rules: LimitRules): LimitVerdict {
	const inRateWindow = recentDesc.filter((t) => t > now - rules.rateWindowMs).length;
	if (inRateWindow >= rules.rateCount) {
		const oldestCounted = recentDesc[rules.rateCount - 1] ?? now;
		return { ok: false, code: "rate_limited", retryAfterMs: Math.max(1, oldestCounted + rules.rateWindowMs - now) };
	}
	if (rules.quota !== null) {
		const inDay = recentDesc.filter((t) => t > now - DAY_MS).length;
		if (inDay >= rules.quota) {
			const oldestCounted = recentDesc[rules.quota - 1] ?? now;
			return { ok: false, code: "quota_exceeded", retryAfterMs: Math.max(1, oldestCounted + DAY_MS - now) };
		}
	}
	return { ok: true };
}

/** Sends left in the rolling day, or null when unlimited. */
export function quotaLeft(recentDesc: readonly number[], now: number, quota: number | null): number | null {
	if (quota === null) return null;
	return Math.max(0, quota - recentDesc.filter((t) => t > now - DAY_MS).length);
}
