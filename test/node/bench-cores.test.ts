import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { cpuSplit, withServerCores } from "../bench/cpu-split.ts";
import { describeGaps, machineGaps } from "../bench/machine-gaps.ts";
import { parseArgs } from "../bench/options.ts";
import { machineGapsTable } from "../bench/report.ts";
import type { SizeResult } from "../bench/results.ts";

/** The cores a process's main thread may run on, as /proc lists them ("0", "1", "0-1"). */
const allowed = (pid: number): string => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";

describe("the one pair's servers on their own cores", () => {
	it("gives the servers the upper half of the cores and the rest everything else, and nothing on one core", () => {
		expect(cpuSplit(1)).toBeNull();
		expect(cpuSplit(2)).toEqual({ servers: [1], clients: [0] });
		expect(cpuSplit(3)).toEqual({ servers: [2], clients: [0, 1] });
		expect(cpuSplit(8)).toEqual({ servers: [4, 5, 6, 7], clients: [0, 1, 2, 3] });
	});

	it("pins a server and this process apart while the body runs, and gives both every core back", async () => {
		const cores = availableParallelism();
		const server = spawn("sleep", ["30"], { stdio: "ignore" });
		try {
			const pid = server.pid as number;
			const every = cores === 1 ? "0" : `0-${cores - 1}`;
			expect(allowed(pid)).toBe(every);
			const { result, serverCores } = await withServerCores([pid], true, async () => [allowed(pid), allowed(process.pid)]);
			if (cores < 2) {
				expect(serverCores).toBeNull();
			} else {
				const split = cpuSplit(cores);
				expect(serverCores).toEqual(split?.servers);
				const list = (c: number[] | undefined) => (c && c.length > 1 ? `${c[0]}-${c[c.length - 1]}` : String(c?.[0]));
				expect(result).toEqual([list(split?.servers), list(split?.clients)]);
			}
			expect([allowed(pid), allowed(process.pid)]).toEqual([every, every]);
			// Turned off, nothing is touched.
			const off = await withServerCores([pid], false, async () => allowed(pid));
			expect(off).toEqual({ result: every, serverCores: null });
		} finally {
			server.kill();
		}
	});

	it("is off unless --split-cores asks for it", () => {
		expect(parseArgs([])).toMatchObject({ splitCores: false });
		expect(parseArgs(["--split-cores"])).toMatchObject({ splitCores: true });
	});
});

describe("the machine's gaps", () => {
	it("spins one process per core, each on its own, and says how often and how long each core was away", async () => {
		const gaps = await machineGaps(300);
		expect(gaps.probeMs).toBe(300);
		expect(gaps.pinned).toBe(true);
		expect(gaps.cores.map((c) => c.core)).toEqual(Array.from({ length: availableParallelism() }, (_, i) => i));
		for (const c of gaps.cores) {
			expect(c.over02PerSecond).toBeGreaterThanOrEqual(c.over1PerSecond);
			// A gap counted is over 0.2 ms, so none counted means no longest one either.
			if (c.over02PerSecond === 0) expect(c.maxMs).toBe(0);
			else expect(c.maxMs).toBeGreaterThan(0.2);
			expect(c.awayShare).toBeGreaterThanOrEqual(0);
			expect(c.awayShare).toBeLessThan(1);
		}
		expect(describeGaps(gaps)).toMatch(/^machine gaps over 0.3 s: core 0: /);
	});
});

describe("the machine's gaps in the report", () => {
	const core = (n: number, over1: number) => ({
		core: n,
		over02PerSecond: over1 * 3,
		over1PerSecond: over1,
		maxMs: 4.25,
		awayShare: 0.0123,
	});
	const size = (devices: number, gaps: boolean) =>
		({
			devices,
			singlePairMachineGaps: gaps ? { probeMs: 5000, pinned: true, cores: [core(0, 2), core(1, 0.5)] } : null,
			relay: { singlePair: { latencyMs: { p99: 1.5 } } },
			floor: { singlePair: { latencyMs: { p99: 0.75 } } },
		}) as unknown as SizeResult;

	it("has a row per core and N probed, the pair's p99s on the first, and is absent when nothing was probed", () => {
		const t = machineGapsTable([size(10, true), size(100, false)]);
		expect(t?.title).toMatch(/for 5 s/);
		expect(t?.rows).toEqual([
			["10", "0", "2.0", "6.0", "4.25", "1.23%", "1.50 / 0.75"],
			["10", "1", "0.5", "1.5", "4.25", "1.23%", ""],
		]);
		expect(machineGapsTable([size(10, false)])).toBeNull();
	});
});
