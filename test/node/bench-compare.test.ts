import { describe, expect, it } from "vitest";
import { type CompareTurn, comparisonTable, summarizeTurns } from "../bench/compare.ts";
import { parseArgs } from "../bench/options.ts";

const turn = (side: CompareTurn["side"], round: number, pacedCpuMs: number, saturatedPerSecond: number): CompareTurn => ({
	side,
	round,
	pacedP50Ms: 1,
	pacedP99Ms: 4 + round,
	pacedCpuMs,
	saturatedPerSecond,
	saturatedCpuMs: 1000 / saturatedPerSecond,
	lost: 0,
	duplicated: 0,
});

describe("the benchmark's comparison of two commits", () => {
	it("compares each side's median turn, so one noisy turn moves neither side", () => {
		const turns = [
			turn("tree", 0, 1.2, 2600),
			turn("ref", 0, 1.4, 2000),
			turn("ref", 1, 1.3, 2100),
			turn("tree", 1, 3.0, 2500), // a turn that met a stall
			turn("tree", 2, 1.1, 2700),
			turn("ref", 2, 1.5, 1900),
		];
		const s = summarizeTurns(turns);
		expect(s.tree.pacedCpuMs).toEqual({ median: 1.2, min: 1.1, max: 3.0 });
		expect(s.ref.pacedCpuMs.median).toBe(1.4);
		expect(s.refToTree.pacedCpuMs).toBeCloseTo(1.4 / 1.2);
		expect(s.refToTree.saturatedPerSecond).toBeCloseTo(2000 / 2600);
		// An even number of turns takes the mean of the middle two.
		expect(summarizeTurns(turns.slice(0, 4)).tree.pacedCpuMs.median).toBeCloseTo(2.1);
	});

	it("prints the medians with their range and ref ÷ tree", () => {
		const turns = [turn("tree", 0, 1.2, 2600), turn("ref", 0, 1.5, 2000)];
		const text = comparisonTable({
			benchmark: "compare",
			startedAt: "2026-12-07T19:00:00.000Z",
			durationMs: 1,
			command: "npm run bench -- --compare HEAD~1",
			loadAverage: { start: 0.5, end: 0.7 },
			tree: { commit: "d1910c2aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", changed: false },
			ref: { name: "HEAD~1", commit: "bccaa85aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
			devices: 100,
			rounds: 1,
			turns,
			summary: summarizeTurns(turns),
			lostTotal: 0,
			duplicatedTotal: 0,
		});
		expect(text).toContain("tree d1910c2");
		expect(text).toContain("HEAD~1 bccaa85");
		expect(text).toMatch(/server CPU ms per paced message\s+1\.20 \(1\.20–1\.20\)\s+1\.50 \(1\.50–1\.50\)\s+1\.25×/);
		expect(text).toMatch(/saturated msg\/s\s+2,600 \(2,600–2,600\)\s+2,000 \(2,000–2,000\)\s+0\.77×/);
	});

	it("runs at N = 100 into bench-results/compare unless told otherwise", () => {
		const opts = parseArgs(["--compare", "HEAD~1"]);
		if (opts === "help") throw new Error("unexpected help");
		expect(opts).toMatchObject({ compare: "HEAD~1", rounds: 3, sizes: [100] });
		expect(opts.outDir).toMatch(/bench-results\/compare$/);
		const told = parseArgs(["--compare", "main", "--sizes", "10", "--rounds", "5", "--out", "/tmp/x"]);
		expect(told).toMatchObject({ compare: "main", rounds: 5, sizes: [10], outDir: "/tmp/x" });
		expect(() => parseArgs(["--compare", "main", "--growth"])).toThrow(/one size/);
		expect(parseArgs([])).toMatchObject({ compare: null });
	});
});
