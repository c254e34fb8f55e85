import { DAY_MS } from "./send-limits.ts";

/**
 * Reports one account may file in any rolling 24 h (REPORTS_PER_DAY). Each is a D1 write and
 * something an admin may read, so a script must not file thousands; a person deals with a
 * few abusers on a bad day. Pure: the reporter's object counts its recent reports.
 *
 * `oldestCounted`: when the `perDay`-th newest report was made; its leaving the window frees a
 * slot. Returns null when the report may go ahead, or how long until it may.
 */
export function reportRetryAfter(inDay: number, oldestCounted: number | undefined, now: number, perDay: number): number | null {
	if (inDay < perDay) return null;
	return Math.max(1, (oldestCounted ?? now) + DAY_MS - now);
}
