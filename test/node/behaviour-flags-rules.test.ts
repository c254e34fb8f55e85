import { describe, expect, it } from "vitest";
import {
	type FlagRules,
	isContactBurst,
	isLowAcceptRatio,
	isMachineRegular,
	regularTimesNeeded,
} from "../../worker/abuse/behaviour-flags.ts";

// wrangler.toml's defaults: 10 distinct peers an hour; under 20 % of at least 10 requests
// accepted; the last 10 send gaps varying by under 2 % of their mean.
const RULES: FlagRules = {
	burstDistinct: 10,
	burstWindowMs: 60 * 60_000,
	lowAcceptMinRequests: 10,
	lowAcceptRatio: 20 / 100,
	regularSample: 10,
	regularMaxVariation: 2 / 100,
};
const T0 = 1_700_000_000_000;

/** Send times starting at T0 with these gaps between them. */
function timesWithGaps(gaps: readonly number[]): number[] {
	const times = [T0];
	for (const gap of gaps) times.push((times[times.length - 1] as number) + gap);
	return times;
}

describe("isContactBurst", () => {
	it("flags requests to 10 distinct accounts within the window, and not to 9", () => {
		expect(isContactBurst(9, RULES)).toBe(false);
		expect(isContactBurst(10, RULES)).toBe(true);
		expect(isContactBurst(40, RULES)).toBe(true);
	});
});

describe("isLowAcceptRatio", () => {
	it("does not judge an account with fewer than 10 requests, even if none was accepted", () => {
		expect(isLowAcceptRatio(9, 0, RULES)).toBe(false);
		expect(isLowAcceptRatio(0, 0, RULES)).toBe(false);
	});

	it("flags 10 requests of which none or one (10 %) was accepted", () => {
		expect(isLowAcceptRatio(10, 0, RULES)).toBe(true);
		expect(isLowAcceptRatio(10, 1, RULES)).toBe(true);
	});

	it("does not flag exactly 20 % accepted: the ratio must be under the line", () => {
		expect(isLowAcceptRatio(10, 2, RULES)).toBe(false);
		expect(isLowAcceptRatio(100, 20, RULES)).toBe(false);
		expect(isLowAcceptRatio(100, 19, RULES)).toBe(true);
	});
});

describe("isMachineRegular", () => {
	it("needs one more send time than the gaps it looks at", () => {
		expect(regularTimesNeeded(RULES)).toBe(11);
		expect(regularTimesNeeded({ ...RULES, regularSample: 2 })).toBe(3);
	});

	it("flags 11 sends exactly one minute apart", () => {
		expect(isMachineRegular(timesWithGaps(Array(10).fill(60_000)), RULES)).toBe(true);
	});

	it("does not judge 10 sends, however regular: one gap short of the sample", () => {
		expect(isMachineRegular(timesWithGaps(Array(9).fill(60_000)), RULES)).toBe(false);
		expect(isMachineRegular([], RULES)).toBe(false);
	});

	it("does not flag a person's irregular rhythm", () => {
		const human = [4_000, 31_000, 2_500, 90_000, 12_000, 7_000, 45_000, 3_000, 20_000, 61_000];
		expect(isMachineRegular(timesWithGaps(human), RULES)).toBe(false);
	});

	it("draws the line at a spread of 2 % of the mean gap: 1.9 % is flagged, exactly 2 % is not", () => {
		// Gaps alternating mean ± d have a standard deviation of exactly d.
		const alternating = (d: number) => timesWithGaps(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 1000 - d : 1000 + d)));
		expect(isMachineRegular(alternating(19), RULES)).toBe(true);
		expect(isMachineRegular(alternating(20), RULES)).toBe(false);
	});

	it("looks only at the newest 11 sends: a regular run after an irregular past is flagged", () => {
		const times = [...timesWithGaps([5_000, 70_000, 1_000]), ...timesWithGaps(Array(10).fill(30_000)).map((t) => t + 10 * 60_000)];
		expect(isMachineRegular(times, RULES)).toBe(true);
	});

	it("and an irregular gap among the newest ones clears it", () => {
		const gaps = [...Array(9).fill(30_000), 95_000];
		expect(isMachineRegular(timesWithGaps(gaps), RULES)).toBe(false);
	});

	it("does not flag sends that all share one instant (no gap to measure)", () => {
		expect(isMachineRegular(Array(11).fill(T0), RULES)).toBe(false);
	});
});
