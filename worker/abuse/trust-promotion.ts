export interface TrustHistory {
	createdAt: number;
	messagesSent: number;
	everSuspended: boolean;
	reportsAgainst: number;
}

/** Untrusted → trusted on account age and a clean history; verified is only ever given by an admin. */
export function earnsTrust(history: TrustHistory, now: number, rules: { minAgeMs: number; minMessages: number }): boolean {
	return (
		now - history.createdAt >= rules.minAgeMs &&
		history.messagesSent >= rules.minMessages &&
		!history.everSuspended &&
		history.reportsAgainst === 0
	);
}
