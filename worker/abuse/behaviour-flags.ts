/**
 * Behavioural signals for admins. Pure checks over what the sender's object
 * already stores; raising a flag never blocks anyone by itself. Thresholds come from
 * wrangler.toml (config.ts `flags`).
 */
export type FlagKind = "contact_burst" | "low_accept_ratio" | "regular_intervals";

export interface FlagRules {
	/** Contact requests to at least this many distinct accounts within burstWindowMs. */
	burstDistinct: number;
	burstWindowMs: number;
	/** At least lowAcceptMinRequests requests, of which under lowAcceptRatio were accepted. */
	lowAcceptMinRequests: number;
	lowAcceptRatio: number;
	/** The last regularSample send gaps vary by under regularMaxVariation of their mean. */
	regularSample: number;
	regularMaxVariation: number;
}

export function isContactBurst(distinctPeersInWindow: number, rules: FlagRules): boolean {
	return distinctPeersInWindow >= rules.burstDistinct;
}

export function isLowAcceptRatio(requested: number, accepted: number, rules: FlagRules): boolean {
	return requested >= rules.lowAcceptMinRequests && accepted / requested < rules.lowAcceptRatio;
}

/** How many send times isMachineRegular needs: one more than the gaps it looks at. */
export const regularTimesNeeded = (rules: FlagRules): number => rules.regularSample + 1;

/**
 * Sends at machine-regular intervals: the last `regularSample` gaps vary (standard deviation
 * over mean) by under `regularMaxVariation`. People type at irregular rhythms; schedulers do not.
 */
export function isMachineRegular(sendTimesAsc: readonly number[], rules: FlagRules): boolean {
	const needed = regularTimesNeeded(rules);
	if (sendTimesAsc.length < needed) return false;
	const times = sendTimesAsc.slice(-needed);
	const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
	const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
	if (mean <= 0) return false;
	const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
	return sd / mean < rules.regularMaxVariation;
}
