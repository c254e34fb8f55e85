export interface BackoffOptions {
	minDelayMs: number;
	maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minDelayMs: 250, maxDelayMs: 30_000 };

/**
 * Delay before reconnect attempt `attempt` (1-based): the step doubles from minDelayMs up to
 * maxDelayMs and the delay is drawn from its upper half, so clients dropped together by one
 * server restart do not all return in the same instant, yet none retries faster than the minimum.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
	const step = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
	return Math.round(Math.max(opts.minDelayMs, step / 2 + (random() * step) / 2));
}
