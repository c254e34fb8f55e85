/**
 * One run of the workload at one N against one relay (ours or the floor): set up the pairs,
 * connect every device, then one sending pair, paced load, saturation and the wake
 * measurement, with the server's memory and CPU read from /proc around them.
 */
import type { HotPathProbe } from "./hot-path-probe.ts";
import type { LoadPool } from "./load-pool.ts";
import type { RelayKind, RunReport } from "./load-protocol.ts";
import type { BenchOptions } from "./options.ts";
import { cpuMs } from "./processes.ts";
import type { KindFigures, WakeFigures } from "./results.ts";
import { figures, type RunFigures, summarize } from "./stats.ts";

export interface Target {
	kind: RelayKind;
	pool: LoadPool;
	/** The server process whose memory and CPU are read. */
	pid: number;
	rss(): number | null;
	/** Called before each memory reading (the floor collects its garbage; workerd offers no such thing). */
	beforeMemory?: () => Promise<void>;
	/**
	 * Attaches to the worker's inspector to count Durable Object constructions (the relay only).
	 * Attached only around the wake messages: a DevTools session makes the runtime report every
	 * request and console call to it, which is overhead no other figure should carry.
	 */
	probe: (() => Promise<HotPathProbe | null>) | null;
	log(line: string): void;
}

export interface PairPlan {
	all: number[];
	load: number[];
	wakeBothIdle: number[];
	wakeRecipientIdle: number[];
	/** One more both-idle pair whose message is sent with the inspector attached, to count the objects it woke. */
	wakeCounted: number[];
}

/** Pairs [first, first + devices/2): wake pairs at the end, the rest carry the load. */
export function planPairs(first: number, devices: number, wakePairs: number): PairPlan {
	const count = devices / 2;
	const all = Array.from({ length: count }, (_, i) => first + i);
	const wake = Math.min(wakePairs, Math.floor(count / 4));
	const counted = wake > 0 ? 1 : 0;
	const idle = 2 * wake + counted;
	return {
		all,
		load: all.slice(0, count - idle),
		wakeRecipientIdle: all.slice(count - idle, count - idle + wake),
		wakeBothIdle: all.slice(count - idle + wake, count - counted),
		wakeCounted: all.slice(count - counted),
	};
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const SETTLE_MS = 1000;

/**
 * One message per idle pair, pair after pair. With `touchSender`, the sender's object is woken
 * first by an HTTP request, so only the recipient's wakes for the message. No debugger is
 * attached: a DevTools session with a breakpoint slows the runtime down (it tripled these figures).
 */
async function wake(target: Target, pairs: number[], touchSender: boolean, idleMs: number, timeoutMs: number): Promise<WakeFigures> {
	const reports: RunReport[] = [];
	for (const pair of pairs) {
		if (touchSender) await target.pool.onPair(pair, { op: "touch", pair });
		reports.push(await target.pool.measurePair(pair, { op: "wake", pairs: [pair], timeoutMs }));
	}
	const f = figures(reports, target.kind);
	return { idleMs, latencyMs: f.latencyMs, objectsConstructed: null, lost: f.lost };
}

/**
 * Proof that the idle pairs' objects were really evicted: the same message on one more idle
 * pair, with a breakpoint counting UserRelay constructions (2 when both objects woke).
 * Counting is a bonus: an inspector that does not answer costs the count, not the run.
 */
async function countWakes(target: Target, pairs: number[], timeoutMs: number): Promise<{ constructed: number | null; lost: number }> {
	const probe = target.kind === "relay" && target.probe ? await target.probe() : null;
	let constructed: number | null = null;
	let lost = 0;
	try {
		if (probe) await probe.watchConstructions();
		for (const pair of pairs) {
			const before = probe ? await probe.constructions() : 0;
			const report = await target.pool.measurePair(pair, { op: "wake", pairs: [pair], timeoutMs });
			lost += figures([report], target.kind).lost;
			if (probe) constructed = (constructed ?? 0) + (await probe.constructions()) - before;
		}
		if (probe) await probe.stopWatching();
	} catch (err) {
		target.log(`constructions not counted: ${err instanceof Error ? err.message : String(err)}`);
		constructed = null;
	} finally {
		probe?.close();
	}
	return { constructed, lost };
}

export async function runPhase(target: Target, opts: BenchOptions, plan: PairPlan, prefix: string): Promise<KindFigures> {
	const { pool, kind } = target;
	const devices = plan.all.length * 2;
	let t = Date.now();
	await pool.onPairs(plan.all, (own) => ({ op: "addPairs", pairs: own, prefix }));
	const setupMs = Date.now() - t;
	target.log(`${kind} N=${devices}: ${plan.all.length} pairs set up in ${(setupMs / 1000).toFixed(1)} s`);

	await sleep(SETTLE_MS);
	await target.beforeMemory?.();
	const rssBefore = target.rss() ?? 0;
	t = Date.now();
	await pool.onPairs(plan.all, (own) => ({ op: "connect", pairs: own }));
	const connectMs = Date.now() - t;
	// The wake pairs are idle from here on.
	const idleSince = Date.now();
	await sleep(SETTLE_MS);
	await target.beforeMemory?.();
	const rssConnected = target.rss() ?? 0;
	target.log(`${kind} N=${devices}: connected in ${(connectMs / 1000).toFixed(1)} s`);

	const first = plan.load[0] as number;
	const singlePair = figures(
		[await pool.measurePair(first, { op: "sequential", pair: first, count: opts.sequentialCount, gapMs: 0, timeoutMs: opts.drainMs })],
		kind,
	);

	const senders = plan.load.length * 2;
	let cpu = cpuMs(target.pid) ?? 0;
	const paced = figures(
		await pool.onPairs(plan.load, (own) => ({
			op: "paced",
			pairs: own,
			ratePerDevice: Math.min(opts.pacedPerDevice, opts.pacedRate / senders),
			durationMs: opts.pacedMs,
			drainMs: opts.drainMs,
		})),
		kind,
	);
	const pacedCpu = (cpuMs(target.pid) ?? 0) - cpu;

	// At most saturateInFlight senders with one message each, so a large N measures the most the
	// relay delivers with N sockets open rather than how long a queue of N messages takes.
	const saturating = plan.load.slice(0, Math.max(1, Math.floor(opts.saturateInFlight / 2)));
	cpu = cpuMs(target.pid) ?? 0;
	const saturated = figures(
		await pool.onPairs(saturating, (own) => ({
			op: "saturate",
			pairs: own,
			window: Math.max(1, Math.ceil(opts.saturateInFlight / (saturating.length * 2))),
			durationMs: opts.saturateMs,
			drainMs: opts.drainMs,
		})),
		kind,
	);
	const saturatedCpu = (cpuMs(target.pid) ?? 0) - cpu;
	target.log(
		`${kind} N=${devices}: paced p50 ${paced.latencyMs.p50.toFixed(2)} ms p99 ${paced.latencyMs.p99.toFixed(2)} ms, ` +
			`saturated ${saturated.deliveredPerSecond.toFixed(0)} msg/s`,
	);

	const loadEnded = Date.now();
	const quietMs = kind === "relay" ? opts.wakeQuietMs : 0;
	await sleep(Math.max(0, opts.wakeIdleMs - (Date.now() - idleSince), quietMs - (Date.now() - loadEnded)));
	const idleMs = Date.now() - idleSince;
	const wakeBothIdle = await wake(target, plan.wakeBothIdle, false, idleMs, opts.drainMs);
	const wakeRecipientIdle = await wake(target, plan.wakeRecipientIdle, true, Date.now() - idleSince, opts.drainMs);
	const counted = await countWakes(target, plan.wakeCounted, opts.drainMs);
	wakeBothIdle.objectsConstructed = counted.constructed;
	wakeBothIdle.lost += counted.lost;

	await pool.all({ op: "disconnect" });
	return {
		setupMs,
		connectMs,
		singlePair,
		paced,
		saturated,
		wakeBothIdle,
		wakeRecipientIdle,
		memory: { rssBefore, rssConnected, perSocketBytes: (rssConnected - rssBefore) / devices },
		cpuMsPerMessage: {
			paced: pacedCpu / Math.max(1, paced.delivered),
			saturated: saturatedCpu / Math.max(1, saturated.delivered),
		},
	};
}

/**
 * Only the one-sending-pair workload, with all N devices connected: for the one-object chat,
 * whose single object holds every socket, so only a single pair compares like with like.
 */
export async function runSinglePair(
	pool: LoadPool,
	kind: RelayKind,
	opts: BenchOptions,
	plan: PairPlan,
	prefix: string,
): Promise<RunFigures> {
	await pool.onPairs(plan.all, (own) => ({ op: "addPairs", pairs: own, prefix }));
	await pool.onPairs(plan.all, (own) => ({ op: "connect", pairs: own }));
	await sleep(SETTLE_MS);
	const first = plan.load[0] as number;
	const report = await pool.measurePair(first, {
		op: "sequential",
		pair: first,
		count: opts.sequentialCount,
		gapMs: 0,
		timeoutMs: opts.drainMs,
	});
	await pool.all({ op: "disconnect" });
	return figures([report], kind);
}

/** An empty figure set, for a wake group with no pairs. */
export const noWake = (idleMs: number): WakeFigures => ({ idleMs, latencyMs: summarize([]), objectsConstructed: null, lost: 0 });
