import { describe, expect, it } from "vitest";
import { describeTail, percentile, summarize, tailInBlocks, tailTiming } from "../bench/stats.ts";

describe("the benchmark's statistics", () => {
	it("takes nearest-rank percentiles", () => {
		const values = Array.from({ length: 100 }, (_, i) => i + 1);
		expect(percentile(values, 50)).toBe(50);
		expect(percentile(values, 99)).toBe(99);
		expect(summarize(values)).toMatchObject({ count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
	});

	it("finds the second a stall sent its slow messages in", () => {
		// 1,000 messages over 10 s at 1 ms, but those sent in second 6 took 40–49 ms.
		const timed = Array.from({ length: 1000 }, (_, i): [number, number] => {
			const at = 5_000 + i * 10;
			return [at, Math.floor(i / 100) === 6 ? 40 + (i % 10) : 1];
		});
		const tail = tailTiming(timed);
		// p99 is the 990th of 1,000: the 48 ms ones, so the 48s and the 49s count.
		expect(tail.atLeastMs).toBe(48);
		expect(tail.seconds).toEqual([[6, 20, 49]]);
		expect(describeTail(tail)).toBe("20 of the 20 at or over p99 sent in second 6, 1 seconds with any");
	});

	it("places a one-pair tail in its blocks: the first message after the other side's block, or later", () => {
		// Ten blocks of 100 messages 1 ms apart, sent in any order: each block's first took 5 ms, and one late message 7 ms.
		const blocks = Array.from({ length: 10 }, (_, b) =>
			Array.from({ length: 100 }, (_, i): [number, number] => [b * 1000 + i, i === 0 ? 5 : b === 3 && i === 50 ? 7 : 1]).reverse(),
		);
		expect(tailInBlocks(blocks, 5)).toEqual({ atLeastMs: 5, first: 10, second: 0, thirdToTenth: 0, later: 1 });
		expect(tailInBlocks(blocks, 6)).toEqual({ atLeastMs: 6, first: 0, second: 0, thirdToTenth: 0, later: 1 });
	});

	it("spreads a tail of steady queueing over the seconds", () => {
		const timed = Array.from({ length: 400 }, (_, i): [number, number] => [i * 10, i % 50 === 49 ? 9 : 1]);
		const tail = tailTiming(timed);
		expect(tail.seconds.map(([s]) => s)).toEqual([0, 1, 2, 3]);
		expect(tail.seconds.every(([, n, worst]) => n === 2 && worst === 9)).toBe(true);
	});

	it("times a saturated run's quarter of a million messages", () => {
		const timed = Array.from({ length: 250_000 }, (_, i): [number, number] => [i / 50, i === 200_000 ? 30 : 1 + (i % 2)]);
		const tail = tailTiming(timed);
		expect(tail.atLeastMs).toBe(2);
		expect(tail.seconds).toHaveLength(5);
		// Half of each second are 2 ms, and the one 30 ms message (an even one) joins them in second 4.
		expect(tail.seconds[4]).toEqual([4, 25_001, 30]);
	});

	it("says so when a run has nothing to time", () => {
		const tail = tailTiming([]);
		expect(tail.seconds).toEqual([]);
		expect(describeTail(tail)).toBe("no tail");
	});
});
