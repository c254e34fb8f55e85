/**
 * Behavioural signals for admins (DESIGN §7). Pure checks over what the sender's object
 * already stores; raising a flag never blocks anyone by itself.
 */
export type FlagKind = "contact_burst" | "low_accept_ratio" | "regular_intervals";

export const CONTACT_BURST_DISTINCT = 10;
export const CONTACT_BURST_WINDOW_MS = 60 * 60 * 1000;
const LOW_ACCEPT_MIN_REQUESTS = 10;
const LOW_ACCEPT_RATIO = 0.2;
const REGULAR_SAMPLE = 10;
const REGULAR_MAX_VARIATION = 0.02;

export function isContactBurst(distinctPeersInWindow: number): boolean {
	return distinctPeersInWindow >= CONTACT_BURST_DISTINCT;
}

export function isLowAcceptRatio(requested: number, accepted: number): boolean {
	return requested >= LOW_ACCEPT_MIN_REQUESTS && accepted / requested < LOW_ACCEPT_RATIO;
}

/**
 * Sends at machine-regular intervals: the last REGULAR_SAMPLE gaps vary by under 2% of
 * their mean. People type at irregular rhythms; schedulers do not.
 */
export function isMachineRegular(sendTimesAsc: readonly number[]): boolean {
	if (sendTimesAsc.length < REGULAR_SAMPLE + 1) return false;
	const times = sendTimesAsc.slice(-(REGULAR_SAMPLE + 1));
	const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
	const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
	if (mean <= 0) return false;
	const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
	return sd / mean < REGULAR_MAX_VARIATION;
}
