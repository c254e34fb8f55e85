import {
	checkSendLimits,
	DAY_MS,
	dailyQuota,
	type LimitRules,
	type LimitVerdict,
	nextSendTime,
	quotaLeft,
	type SendCounts,
} from "../../abuse/send-limits.ts";
import type { RelayHost } from "../host.ts";
import { countSends, nthNewestSendTime } from "../messaging/sent-messages.ts";
import type { CachedAccount } from "./account-cache.ts";

/** The account's sends counted against its rate limit and daily quota (the rules are abuse/send-limits.ts). */
export class SendAllowance {
	constructor(private readonly host: RelayHost) {}

	rules(account: CachedAccount): LimitRules {
		const config = this.host.config();
		return {
			rateCount: config.rateLimit.count,
			rateWindowMs: config.rateLimit.windowMs,
			quota: dailyQuota(account.trust, config.quotaPerDay),
		};
	}

	/**
	 * The account's sends in the rate window and in the rolling day: one indexed count. Without
	 * a daily quota (verified) the day is not counted: nothing compares it, and it can be long.
	 */
	counts(now: number, rules: LimitRules): SendCounts {
		const daySince = rules.quota === null ? now - rules.rateWindowMs : now - Math.max(DAY_MS, rules.rateWindowMs);
		const counts = countSends(this.host.sql, now - rules.rateWindowMs, daySince);
		return { inRateWindow: counts.inShort, inDay: counts.inLong };
	}

	verdict(counts: SendCounts, now: number, rules: LimitRules): LimitVerdict {
		return checkSendLimits(counts, (n) => nthNewestSendTime(this.host.sql, n), now, rules);
	}

	/**
	 * When the account may send again, just after a send at `now` (already recorded) that `after`
	 * counts. The newest send is that one, so the usual limit of one per window reads nothing.
	 */
	nextSendAt(after: SendCounts, now: number, rules: LimitRules): number | null {
		return nextSendTime(after, (n) => (n === 1 ? now : nthNewestSendTime(this.host.sql, n)), now, rules);
	}

	/** Sends left today; `inDay` when the caller has just counted them. */
	quotaLeft(account: CachedAccount, inDay?: number): number | null {
		const rules = this.rules(account);
		return quotaLeft(inDay ?? this.counts(this.host.now(), rules).inDay, rules.quota);
	}
}
