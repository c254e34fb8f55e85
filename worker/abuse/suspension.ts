/** Stands for "until an admin lifts it": later than any real date, still a valid integer. */
export const INDEFINITE = 8_640_000_000_000_000;

/**
 * Escalating: 24 h, then 7 days, then indefinite (durations from wrangler.toml). `level`
 * counts earlier suspensions; past the last configured duration a suspension has no end.
 */
export function nextSuspension(previousLevel: number, now: number, escalationMs: readonly number[]): { level: number; until: number } {
	const duration = escalationMs[previousLevel];
	return { level: previousLevel + 1, until: duration === undefined ? INDEFINITE : now + duration };
}

export function suspensionMessage(until: number): string {
	if (until >= INDEFINITE) return "This account is suspended until an administrator reviews it. You can still read messages.";
	return `This account is suspended until ${new Date(until).toISOString()}. You can still read messages.`;
}
