/**
 * `npm run bench -- --compare REF`: the work tree's relay against another commit's, in one
 * run. A change to the relay's hot path moves its CPU per message by a few percent, and two
 * full runs an hour apart differ by more than that on this machine (the same worker measured
 * 1.17 and 1.44 ms per paced message in two runs of 2026-12-07). So both relays run at once,
 * each in its own `wrangler dev`, with the same devices connected, and take turns at the same
 * paced and saturated load (phases.ts runLoad), the order swapped every round; a side is idle
 * (its runtime uses no CPU) while the other is measured. What is compared is the medians of
 * the turns, and the spread of the turns says how much of a difference is noise.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { bundleEntry, ROOT } from "./bundle.ts";
import { relayFrameLength } from "./devices.ts";
import { LoadPool } from "./load-pool.ts";
import type { BenchOptions } from "./options.ts";
import { closeAll, planPairs, prepare, runLoad, type Target, untilQuiet } from "./phases.ts";
import { BENCH_LIMITS, type RelayServer, startRelayServer } from "./relay-server.ts";
import { ms, table } from "./report.ts";

/** How long a turn waits for both runtimes to go quiet (credit flushes, evictions) before it starts. */
const QUIET_LIMIT_MS = 60_000;

export type Side = "tree" | "ref";

/** One side's turn: the paced and the saturated run, as runLoad measured them. */
export interface CompareTurn {
	side: Side;
	round: number;
	pacedP50Ms: number;
	pacedP99Ms: number;
	pacedCpuMs: number;
	saturatedPerSecond: number;
	saturatedCpuMs: number;
	lost: number;
	duplicated: number;
}

type Figure = "pacedP50Ms" | "pacedP99Ms" | "pacedCpuMs" | "saturatedPerSecond" | "saturatedCpuMs";
const FIGURES: readonly Figure[] = ["pacedP50Ms", "pacedP99Ms", "pacedCpuMs", "saturatedPerSecond", "saturatedCpuMs"];

/** A figure over one side's turns. */
export interface Spread {
	median: number;
	min: number;
	max: number;
}

export interface CompareSummary {
	tree: Record<Figure, Spread>;
	ref: Record<Figure, Spread>;
	/** ref's median ÷ the tree's: above 1 the tree needs less CPU, or has the lower latency, than ref — and for msg/s, more. */
	refToTree: Record<Figure, number>;
}

export interface Comparison {
	benchmark: "compare";
	startedAt: string;
	durationMs: number;
	command: string;
	loadAverage: { start: number; end: number };
	tree: { commit: string; changed: boolean };
	ref: { name: string; commit: string };
	devices: number;
	rounds: number;
	turns: CompareTurn[];
	summary: CompareSummary;
	lostTotal: number;
	duplicatedTotal: number;
}

function median(sorted: readonly number[]): number {
	const n = sorted.length;
	if (n === 0) return Number.NaN;
	const mid = Math.floor(n / 2);
	return n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function spread(values: readonly number[]): Spread {
	const sorted = [...values].sort((a, b) => a - b);
	return { median: median(sorted), min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN };
}

export function summarizeTurns(turns: readonly CompareTurn[]): CompareSummary {
	const of = (side: Side) =>
		Object.fromEntries(FIGURES.map((f) => [f, spread(turns.filter((t) => t.side === side).map((t) => t[f]))])) as Record<Figure, Spread>;
	const tree = of("tree");
	const ref = of("ref");
	const refToTree = Object.fromEntries(FIGURES.map((f) => [f, ref[f].median / tree[f].median])) as Record<Figure, number>;
	return { tree, ref, refToTree };
}

/** The comparison as a terminal table: each figure's median and range for both sides, and ref ÷ tree. */
export function comparisonTable(c: Comparison): string {
	const label: Record<Figure, string> = {
		pacedP50Ms: "paced p50 ms",
		pacedP99Ms: "paced p99 ms",
		pacedCpuMs: "server CPU ms per paced message",
		saturatedPerSecond: "saturated msg/s",
		saturatedCpuMs: "server CPU ms per saturated message",
	};
	const cell = (f: Figure, s: Spread) => {
		const v = (x: number) => (f === "saturatedPerSecond" ? Math.round(x).toLocaleString("en-US") : ms(x));
		return `${v(s.median)} (${v(s.min)}–${v(s.max)})`;
	};
	// Two decimals: the differences a comparison is for are a few percent.
	const ratio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
	const rows = FIGURES.map((f) => [label[f], cell(f, c.summary.tree[f]), cell(f, c.summary.ref[f]), ratio(c.summary.refToTree[f])]);
	const short = c.ref.commit.slice(0, 7);
	const refName = c.ref.name.startsWith(short) ? short : `${c.ref.name} ${short}`;
	const treeName = `tree ${c.tree.commit.slice(0, 7)}${c.tree.changed ? "+" : ""}`;
	return table([`N = ${c.devices.toLocaleString("en-US")}`, treeName, refName, "ref ÷ tree"], rows);
}

const git = (...args: string[]) => execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8" }).trim();

/** REF's tree, extracted into a fresh directory (no .git, no node_modules: relay-server.ts links this checkout's). */
function exportCommit(commit: string): string {
	const dir = mkdtempSync(path.join(tmpdir(), "sm-bench-ref-"));
	execFileSync("sh", ["-c", `git -C "$0" archive --format=tar "$1" | tar -x -C "$2"`, ROOT, commit, dir]);
	return dir;
}

export async function runComparison(opts: BenchOptions, log: (line: string) => void): Promise<Comparison> {
	const ref = opts.compare;
	if (ref === null) throw new Error("runComparison needs --compare REF");
	const startedAt = new Date();
	const loadStart = os.loadavg()[0] ?? 0;
	const refCommit = git("rev-parse", "--verify", `${ref}^{commit}`);
	const tree = {
		commit: git("rev-parse", "HEAD"),
		changed: git("status", "--porcelain", "--", "worker", "common", "wrangler.toml", "migrations") !== "",
	};
	const devices = opts.sizes[0] ?? 100;
	const refDir = exportCommit(refCommit);
	const workerScript = await bundleEntry("load-worker");
	const servers: RelayServer[] = [];
	const pools: LoadPool[] = [];
	try {
		log(`starting the work tree's relay and ${ref}'s (${refCommit.slice(0, 7)})…`);
		const [treeRelay, refRelay] = await Promise.all([startRelayServer(opts.stateOn), startRelayServer(opts.stateOn, BENCH_LIMITS, refDir)]);
		servers.push(treeRelay, refRelay);
		const target = (relay: RelayServer, side: Side): Target => {
			const pool = new LoadPool(workerScript, opts.threads, {
				kind: "relay",
				url: relay.directUrl,
				textBytes: opts.textBytes,
				frameLength: relayFrameLength(opts.textBytes),
				concurrency: opts.concurrency,
				acks: false,
			});
			pools.push(pool);
			return {
				kind: "relay",
				pool,
				pid: relay.runtimePid,
				rss: () => relay.rss().runtime,
				probe: null,
				profiler: null,
				log: (line) => log(`${side}: ${line}`),
			};
		};
		const sides: Array<[Side, Target]> = [
			["tree", target(treeRelay, "tree")],
			["ref", target(refRelay, "ref")],
		];
		const plan = planPairs(0, devices, 0);
		const run = Date.now().toString(36);
		const prepared = [];
		for (const [side, t] of sides) prepared.push(await prepare(t, opts, plan, `c${run}${side}_`));
		const turns: CompareTurn[] = [];
		for (let round = 0; round < opts.rounds; round++) {
			for (const [side, t] of round % 2 === 0 ? sides : [...sides].reverse()) {
				await Promise.all(sides.map(([, s]) => untilQuiet(s.pid, QUIET_LIMIT_MS)));
				const load = await runLoad(t, opts, plan);
				const turn: CompareTurn = {
					side,
					round,
					pacedP50Ms: load.paced.latencyMs.p50,
					pacedP99Ms: load.paced.latencyMs.p99,
					pacedCpuMs: load.cpuMsPerMessage.paced,
					saturatedPerSecond: load.saturated.deliveredPerSecond,
					saturatedCpuMs: load.cpuMsPerMessage.saturated,
					lost: load.paced.lost + load.saturated.lost,
					duplicated: load.paced.duplicated + load.saturated.duplicated,
				};
				turns.push(turn);
				log(
					`round ${round + 1} ${side}: paced CPU ${turn.pacedCpuMs.toFixed(2)} ms, p99 ${turn.pacedP99Ms.toFixed(2)} ms; ` +
						`saturated ${turn.saturatedPerSecond.toFixed(0)} msg/s, CPU ${turn.saturatedCpuMs.toFixed(2)} ms`,
				);
			}
		}
		for (const [i, [, t]] of sides.entries()) await closeAll(t.pool, (prepared[i] as (typeof prepared)[number]).server, plan.all);
		return {
			benchmark: "compare",
			startedAt: startedAt.toISOString(),
			durationMs: Date.now() - startedAt.getTime(),
			command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
			loadAverage: { start: loadStart, end: os.loadavg()[0] ?? 0 },
			tree,
			ref: { name: ref, commit: refCommit },
			devices,
			rounds: opts.rounds,
			turns,
			summary: summarizeTurns(turns),
			lostTotal: turns.reduce((n, t) => n + t.lost, 0),
			duplicatedTotal: turns.reduce((n, t) => n + t.duplicated, 0),
		};
	} finally {
		await Promise.all(pools.map((p) => p.stop()));
		await Promise.all(servers.map((s) => s.dispose()));
		rmSync(refDir, { recursive: true, force: true });
	}
}

export function writeComparison(c: Comparison, outDir: string): string {
	mkdirSync(outDir, { recursive: true });
	const file = path.join(outDir, `compare-${c.startedAt.replaceAll(":", "-").replace(".", "-")}.json`);
	writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`);
	return file;
}
