import { afterEach, beforeEach, vi } from "vitest";

/**
 * For every test of the file, `Date` stands still until moved (the relay reads time only
 * through `Date.now()`), so a limit's edge is hit exactly, never by sleeping. Returns
 * `advance(ms)`.
 */
export function useFakeClock(): (ms: number) => void {
	beforeEach(() => {
		vi.useFakeTimers({ toFake: ["Date"] });
	});
	afterEach(() => {
		vi.useRealTimers();
	});
	return (ms) => vi.setSystemTime(Date.now() + ms);
}
