export interface TrustHistory {
	createdAt: number;
	messagesSent: number;
	/** The end of the account's suspension, if it has one; one that ended holds nothing back. */
	suspendedUntil: number | null;
	/**
	 * An admin holds the account back: a review of reports waits for their decision, or they
	 * decided (confirmed an escalation, or set the account's trust level themselves).
	 */
	heldByAdmin: boolean;
}

/**
 * Untrusted → trusted on account age and sending, unless the account is suspended right now
 * or an admin holds it back; verified is only ever given by an admin. Reports by themselves
 * never hold promotion back: anyone can report anyone (only some reports weigh anything, see
 * report-weight.ts), and a rule that one report bars trust for good would let any stranger
 * keep any account on the untrusted quota.
 */
export function earnsTrust(history: TrustHistory, now: number, rules: { minAgeMs: number; minMessages: number }): boolean {
	return (
		now - history.createdAt >= rules.minAgeMs &&
		history.messagesSent >= rules.minMessages &&
		(history.suspendedUntil === null || history.suspendedUntil <= now) &&
		!history.heldByAdmin
	);
}
