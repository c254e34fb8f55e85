/**
 * How much of the time the machine takes away from a process that never yields: one spinning
 * process per core reads the clock in a tight loop, and every gap between two reads longer
 * than GAP_MS is time its core was given to something else — the kernel, another process,
 * or, on a VM, the hypervisor. Run just before the one sending pair with nothing else of the
 * benchmark running, it says how often this machine holds up any process for a millisecond
 * or more, which sets the pair's slowest 1 % on the relay and on the floor alike
 * (docs/benchmarks.md, "What sets the one pair's tail"). It measures before the pair, not
 * during: a spinning process keeps the cores from going idle, which itself changed the
 * figures it would explain.
 */
import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A gap counted at all: ten times a clock read's usual spacing under load, well under a message's flight. */
const GAP_MS = 0.2;

export interface CoreGaps {
	core: number;
	/** Gaps over 0.2 ms, and over 1 ms, per second. */
	over02PerSecond: number;
	over1PerSecond: number;
	maxMs: number;
	/** Share of the probe's time the core was away in those gaps. */
	awayShare: number;
}

export interface MachineGaps {
	probeMs: number;
	/** True if each spinner was held to its core (`taskset`); false if the kernel could move them. */
	pinned: boolean;
	cores: CoreGaps[];
}

/** The spinner, as a script for `node -e`: spins for argv[1] ms and prints its gaps as JSON. */
const SPINNER = `
const ms = Number(process.argv[1]); const gap = ${GAP_MS};
const t0 = process.hrtime.bigint(); let last = t0; let n02 = 0, n1 = 0, max = 0, away = 0;
for (;;) {
	const t = process.hrtime.bigint(); const g = Number(t - last) / 1e6; last = t;
	if (g > gap) { n02++; away += g; if (g > 1) n1++; if (g > max) max = g; }
	if (Number(t - t0) / 1e6 >= ms) break;
}
console.log(JSON.stringify({ n02, n1, max, away }));
`;

/** One spinner per core for `probeMs`, all at once. */
export async function machineGaps(probeMs: number): Promise<MachineGaps> {
	const count = availableParallelism();
	let pinned = true;
	const spin = async (core: number): Promise<CoreGaps> => {
		const args = ["-e", SPINNER, String(probeMs)];
		const out = await run("taskset", ["-c", String(core), process.execPath, ...args]).catch(() => {
			pinned = false;
			return run(process.execPath, args);
		});
		const r = JSON.parse(out.stdout) as { n02: number; n1: number; max: number; away: number };
		const seconds = probeMs / 1000;
		return { core, over02PerSecond: r.n02 / seconds, over1PerSecond: r.n1 / seconds, maxMs: r.max, awayShare: r.away / probeMs };
	};
	const cores = await Promise.all(Array.from({ length: count }, (_, core) => spin(core)));
	return { probeMs, pinned, cores };
}

export function describeGaps(g: MachineGaps): string {
	const each = g.cores.map(
		(c) =>
			`core ${c.core}: ${c.over1PerSecond.toFixed(1)}/s over 1 ms, ${c.over02PerSecond.toFixed(1)}/s over 0.2 ms, longest ${c.maxMs.toFixed(1)} ms, away ${(c.awayShare * 100).toFixed(2)} %`,
	);
	return `machine gaps over ${g.probeMs / 1000} s${g.pinned ? "" : " (unpinned)"}: ${each.join("; ")}`;
}
