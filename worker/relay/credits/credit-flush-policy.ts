/**
 * When the credit journal goes to D1 (D1 is kept off the message path). A flush
 * costs a D1 round trip and runtime CPU while it runs, which delays the next messages of
 * everyone the runtime serves; so it waits for a pause in the account's sending, unless it
 * has waited long enough or the journal has grown large.
 */
export interface FlushPolicy {
	/** Charges that make a flush due at the next pause. */
	charges: number;
	/** The oldest charge never waits longer than this. */
	maxAgeMs: number;
	/** A pause in sending this long counts as one. */
	idleMs: number;
}

/** Charges that make a flush due at once, pause or not: one batch's worth. */
export const flushAtOnce = (policy: FlushPolicy): number => policy.charges * 10;

export interface JournalState {
	/** Settled charges waiting for D1. */
	charges: number;
	/** When the oldest of them was made, or null when none waits. */
	oldestAt: number | null;
	/** When the account last sent, or null. */
	lastSendAt: number | null;
}

/** When to flush: `now` or earlier means at once; null means nothing waits. */
export function flushDueAt(journal: JournalState, now: number, policy: FlushPolicy): number | null {
	if (journal.charges === 0 || journal.oldestAt === null) return null;
	const byAge = journal.oldestAt + policy.maxAgeMs;
	if (journal.charges >= flushAtOnce(policy)) return now;
	if (journal.charges < policy.charges) return byAge;
	const atPause = (journal.lastSendAt ?? 0) + policy.idleMs;
	return Math.min(byAge, Math.max(atPause, now));
}

/**
 * An alarm that finds charges waiting writes them (a few charges cost little, and the alarm
 * is running anyway), unless a batch waits for a pause in sending that has not come yet:
 * then it returns when to look again. `deferrals` counts the looks in a row that found the
 * account still sending: each waits twice as long as the one before (2, 4, 8 … × idleMs),
 * because an account that never pauses would otherwise cost an alarm and a `setAlarm()`
 * (a row written, as billed) every idleMs. It never waits past the oldest charge's age limit,
 * and a flush at a later look is no worse: the pause it waits for has come by then.
 */
export function flushDeferredUntil(journal: JournalState, now: number, policy: FlushPolicy, deferrals = 0): number | null {
	if (journal.charges < policy.charges || journal.oldestAt === null) return null;
	const due = flushDueAt(journal, now, policy);
	if (due === null || due <= now) return null;
	if (deferrals === 0) return due;
	const backoff = now + policy.idleMs * 2 ** Math.min(deferrals, 30);
	return Math.min(journal.oldestAt + policy.maxAgeMs, Math.max(due, backoff));
}
