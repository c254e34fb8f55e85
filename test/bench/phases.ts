/**
 * One run of the workload at one N against one relay (ours or the floor): set up the pairs,
 * connect every device, then one sending pair, paced load, saturation and the wake
 * measurement, with the server's memory and CPU read from /proc around them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withServerCores } from "./cpu-split.ts";
import type { HotPathProbe } from "./hot-path-probe.ts";
import type { InspectorSession } from "./inspector.ts";
import type { LoadPool } from "./load-pool.ts";
import { CLIENT_LAG_MS, type LoadCommand, type RelayKind, type RunReport } from "./load-protocol.ts";
import { describeGaps, type MachineGaps, machineGaps } from "./machine-gaps.ts";
import type { BenchOptions } from "./options.ts";
import { cpuMs, mainThreadSchedule, openFileCount, openFileLimit } from "./processes.ts";
import { now } from "./recorder.ts";
import type { KindFigures, SocketMemory, WakeFigures } from "./results.ts";
import {
	type ClientStallReport,
	clientStallReport,
	describeClientStalls,
	describeServerThread,
	describeStalls,
	type ServerThreadReport,
	type StallReport,
	serverThreadReport,
	stallReport,
	timeline,
} from "./stalls.ts";
import { describeTail, figures, flightsOf, type RunFigures, summarize, tailInBlocks } from "./stats.ts";

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
	/**
	 * A session on the worker's inspector for a CPU profile of each paced run (`--trace-stalls`;
	 * the relay only): opened before a size's setup, while the inspector still answers, and
	 * closed after its paced run, so the wake count's own session can attach.
	 */
	profiler: { open(): Promise<InspectorSession | null>; close(): void } | null;
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
 * Pairs set up per command to the load threads: at N = 10,000 the whole setup takes longer
 * than a load thread's command may (load-pool.ts), and each batch logs how far it got.
 */
const SETUP_BATCH = 1000;

/** Register (relay) or create (floor) the devices of `pairs`, a batch at a time; returns the time it took. */
async function setUp(target: Target, pairs: number[], prefix: string): Promise<number> {
	const started = Date.now();
	for (let i = 0; i < pairs.length; i += SETUP_BATCH) {
		await target.pool.onPairs(pairs.slice(i, i + SETUP_BATCH), (own) => ({ op: "addPairs", pairs: own, prefix }));
		const done = Math.min(pairs.length, i + SETUP_BATCH);
		if (done < pairs.length)
			target.log(`${target.kind}: ${done} of ${pairs.length} pairs set up, ${((Date.now() - started) / 1000).toFixed(0)} s`);
	}
	return Date.now() - started;
}

/**
 * Connecting or closing a device wakes its Durable Object, which in local workerd opens three
 * files (its SQLite database, WAL and shared-memory file) until it is evicted 10 s after its
 * last event. N = 1,000 and 2,000 connected in one wave (up to 2,000 objects awake at once,
 * 8,000 files); at N = 10,000 the same wave stopped the runtime dead at ~2,100 objects awake
 * (8,066 files, no CPU used, no connection answered). So large N connect and close in
 * batches, each once the objects of the earlier ones have gone back to sleep far enough;
 * N ≤ 1,000 is one batch, as it always was.
 */
const FILES_PER_OBJECT = 3;
/** Local workerd evicts an object this long after its last event (10 s), with a margin. */
const EVICTED_AFTER_MS = 12_000;
/** Pairs connected or closed at once: up to N = 1,000 all of them, above it this many per batch. */
const ONE_WAVE_PAIRS = 500;
const SOCKET_BATCH = 250;
/** Objects a batch may find awake: the N = 1,000 wave, which the runtime took. */
const AWAKE_OBJECTS_CAP = 1000;
/** How full a batch may make the server's file table, of its limit (`ulimit -n`). */
const FILE_HEADROOM = 0.9;
/** The longest a batch waits for room (evicted objects close their files within ~10 s). */
const ROOM_WAIT_LIMIT_MS = 60_000;

/**
 * Waits until the server `pid` has room for `devices` more woken objects: its files beyond
 * the `baseFiles` it had with no device connected and the `sockets` still open (the objects
 * awake) plus theirs stay under AWAKE_OBJECTS_CAP objects' worth, and its whole file table
 * under FILE_HEADROOM of its limit. Returns how long that took.
 */
async function roomFor(pid: number, devices: number, sockets: number, baseFiles: number): Promise<number> {
	const limit = openFileLimit(pid) ?? Number.POSITIVE_INFINITY;
	const needed = devices * (FILES_PER_OBJECT + 1);
	return untilFiles(pid, (open) => {
		const awakeFiles = Math.max(0, open - sockets - baseFiles);
		return awakeFiles + devices * FILES_PER_OBJECT <= AWAKE_OBJECTS_CAP * FILES_PER_OBJECT && open + needed <= limit * FILE_HEADROOM;
	});
}

/**
 * Polls the server's open files until `enough(open)` holds, its file table cannot be read, or
 * ROOM_WAIT_LIMIT_MS passed (evicted objects close their files within ~10 s); returns how long that took.
 */
async function untilFiles(pid: number, enough: (open: number) => boolean): Promise<number> {
	const started = Date.now();
	while (Date.now() - started < ROOM_WAIT_LIMIT_MS) {
		const open = openFileCount(pid);
		if (open === null || enough(open)) break;
		await sleep(250);
	}
	return Date.now() - started;
}

/**
 * Runs `command` on `pairs` a batch at a time, each once the server has room for it (see
 * roomFor); `socketsBefore(i)` is how many sockets are open before the batch at pair index i.
 * Returns the time spent waiting for room.
 */
async function inSocketBatches(
	pool: LoadPool,
	server: { pid: number; baseFiles: number } | null,
	pairs: number[],
	command: (own: number[]) => LoadCommand,
	socketsBefore: (i: number) => number,
	pauseMs = 0,
): Promise<number> {
	if (pairs.length <= ONE_WAVE_PAIRS) {
		await pool.onPairs(pairs, command);
		return 0;
	}
	let waited = 0;
	for (let i = 0; i < pairs.length; i += SOCKET_BATCH) {
		const batch = pairs.slice(i, i + SOCKET_BATCH);
		if (server) waited += await roomFor(server.pid, batch.length * 2, socketsBefore(i), server.baseFiles);
		await pool.onPairs(batch, command);
		if (pauseMs > 0 && i + SOCKET_BATCH < pairs.length) await sleep(pauseMs);
	}
	return waited;
}

/** A server's process and the files it had open before any device of the phase connected. */
export type ServerFiles = { pid: number; baseFiles: number } | null;

/**
 * Closes every device of `pairs`, in batches when there are many: a closed socket wakes its
 * Durable Object (webSocketClose). The pause lets the server take a batch's closes before
 * the room for the next is judged.
 */
export async function closeAll(pool: LoadPool, server: ServerFiles, pairs: number[]): Promise<void> {
	const devices = pairs.length * 2;
	await inSocketBatches(
		pool,
		server,
		pairs,
		(own) => ({ op: "disconnect", pairs: own }),
		(i) => devices - i * 2,
		1000,
	);
	await pool.all({ op: "disconnect" });
}

/**
 * Resident memory before and after the N sockets connected, and the time connecting them
 * took, including any wait for room in the server's file table (`waitedMs`).
 */
async function connectMeasured(
	pool: LoadPool,
	pid: number | null,
	pairs: number[],
	rss: () => number | null,
	beforeMemory?: () => Promise<void>,
): Promise<{ connectMs: number; waitedMs: number; connectedAt: number; memory: SocketMemory; server: ServerFiles }> {
	await sleep(SETTLE_MS);
	await beforeMemory?.();
	const rssBefore = rss() ?? 0;
	const baseFiles = pid === null ? null : openFileCount(pid);
	const server = pid === null || baseFiles === null ? null : { pid, baseFiles };
	const t = Date.now();
	const waitedMs = await inSocketBatches(
		pool,
		server,
		pairs,
		(own) => ({ op: "connect", pairs: own }),
		(i) => i * 2,
	);
	const connectedAt = Date.now();
	const connectMs = connectedAt - t;
	await sleep(SETTLE_MS);
	await beforeMemory?.();
	const rssConnected = rss() ?? 0;
	return {
		connectMs,
		waitedMs,
		connectedAt,
		server,
		memory: { rssBefore, rssConnected, perSocketBytes: (rssConnected - rssBefore) / (pairs.length * 2) },
	};
}

/**
 * Waits until the process `pid` has used under a tenth of a core for a second (at most
 * `limitMs`) and returns how long that took. After N sockets closed, workerd wakes their
 * objects for webSocketClose, which at N = 10,000 keeps its thread busy long enough to
 * share the CPUs with whatever runs next.
 */
export async function untilQuiet(pid: number, limitMs: number): Promise<number> {
	const started = Date.now();
	let before = cpuMs(pid);
	while (before !== null && Date.now() - started < limitMs) {
		await sleep(1000);
		const after = cpuMs(pid);
		if (after === null || after - before < 100) break;
		before = after;
	}
	return Date.now() - started;
}

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

/** A target's devices set up and connected, with what that took and its server's memory around it. */
export interface Prepared {
	setupMs: number;
	connectMs: number;
	connectedAt: number;
	memory: SocketMemory;
	server: ServerFiles;
}

/** Sets up and connects every device of `plan` on the target, logging the time and memory it took. */
export async function prepare(target: Target, opts: BenchOptions, plan: PairPlan, prefix: string): Promise<Prepared> {
	const { kind } = target;
	const devices = plan.all.length * 2;
	// The stall trace's session is opened while the inspector still answers (main.ts).
	if (opts.traceStalls) await target.profiler?.open();
	const setupMs = await setUp(target, plan.all, prefix);
	target.log(`${kind} N=${devices}: ${plan.all.length} pairs set up in ${(setupMs / 1000).toFixed(1)} s`);

	// The growth run reads memory per socket across sizes whose setup leaves different numbers of
	// objects awake; waiting for them to be evicted first makes every "before" the same state
	// (and the files the runtime holds with no object awake the base of its connect batches).
	if (opts.growth && kind === "relay") await sleep(EVICTED_AFTER_MS);
	const { connectMs, waitedMs, connectedAt, memory, server } = await connectMeasured(
		target.pool,
		target.pid,
		plan.all,
		target.rss,
		target.beforeMemory,
	);
	target.log(
		`${kind} N=${devices}: connected in ${(connectMs / 1000).toFixed(1)} s` +
			`${waitedMs >= 100 ? ` (${(waitedMs / 1000).toFixed(1)} s of it waiting for room among the server's open files)` : ""}, ` +
			`${(memory.perSocketBytes / 1024).toFixed(1)} KiB RSS per socket, ${openFileCount(target.pid) ?? "?"} files open in the server`,
	);
	return { setupMs, connectMs, connectedAt, memory, server };
}

/** The one sending pair's figures and the server CPU per message it cost. */
export interface SinglePairRun {
	singlePair: RunFigures;
	cpuMsPerMessage: number;
}

/** The first load pair, `count` messages one at a time. */
const sequential = (target: Target, pair: number, count: number, opts: BenchOptions) =>
	target.pool.measurePair(pair, { op: "sequential", pair, count, gapMs: 0, timeoutMs: opts.drainMs });

/** The one sending pair on its own, right after connecting (the runs on disk, which have no floor beside them). */
async function singlePairAlone(target: Target, opts: BenchOptions, plan: PairPlan): Promise<SinglePairRun> {
	const first = plan.load[0] as number;
	const cpu = cpuMs(target.pid) ?? 0;
	const singlePair = figures([await sequential(target, first, opts.sequentialCount, opts)], target.kind);
	return { singlePair, cpuMsPerMessage: ((cpuMs(target.pid) ?? 0) - cpu) / Math.max(1, singlePair.delivered) };
}

/** Objects a settled server may still have awake (their files open), besides its sockets. */
const SETTLED_AWAKE_OBJECTS = 2;

/**
 * Waits until `opts.singlePairSettleMs` after `busyUntil`, then until the load's objects have
 * been evicted — the server's open files back to those it had before its devices connected
 * plus one per socket (with a couple of objects to spare), and no longer falling — and then
 * until the server is quiet. A load keeps every object awake and workerd evicts them 10 s
 * after their last event, ~1,000 of them at N = 1,000, a burst of work on its one thread that
 * what runs next should not share. A fixed 12 s and a quiet second could let the burst come after the quiet second;
 * counting the files makes it certain the evictions are over (13–15 s after the load here).
 */
export async function settle(target: Target, opts: BenchOptions, plan: PairPlan, prepared: Prepared, busyUntil: number): Promise<void> {
	await sleep(Math.max(0, opts.singlePairSettleMs - (Date.now() - busyUntil)));
	// The smoke run (no settle time) proves the run works, not its figures: no wait for evictions.
	const server = opts.singlePairSettleMs > 0 ? prepared.server : null;
	if (server) {
		const sockets = plan.all.length * 2;
		await untilFiles(server.pid, (open) => open - sockets - server.baseFiles <= SETTLED_AWAKE_OBJECTS * FILES_PER_OBJECT);
		await untilFilesStopFalling(server.pid);
	}
	await untilQuiet(target.pid, 60_000);
	target.log(`${target.kind}: settled ${((Date.now() - busyUntil) / 1000).toFixed(1)} s after its load`);
}

/** How long the open files must not fall for the evictions to count as over. */
const FILES_STEADY_MS = 2000;

/**
 * Waits until the server's open files stopped falling for FILES_STEADY_MS. `baseFiles` is read
 * just before the devices connect, when the setup's objects may still be awake (at N = 1,000,
 * 800 files of them), so a count under that base plus the sockets does not by itself mean the
 * load's objects are gone; a count that no longer falls does.
 */
async function untilFilesStopFalling(pid: number): Promise<void> {
	const started = Date.now();
	let lowest = openFileCount(pid) ?? 0;
	let lowestAt = Date.now();
	while (Date.now() - lowestAt < FILES_STEADY_MS && Date.now() - started < ROOM_WAIT_LIMIT_MS) {
		await sleep(250);
		const open = openFileCount(pid);
		if (open === null) return;
		if (open < lowest) {
			lowest = open;
			lowestAt = Date.now();
		}
	}
}

/** Unmeasured messages each pair sends before its blocks, so neither side's figure carries a wake or a cold path. */
const WARM_UP_MESSAGES = 5;

/**
 * The one sending pair on the relay and on the floor, both connected, in alternating blocks
 * of `opts.singlePairBlock` messages (relay, floor, floor, relay, …), so that both sample the
 * machine in the same minute. Run one after the other, 40 s apart, a p99 ratio told more
 * about the machine's luck in each minute than about the relay: in one run of five the
 * floor's p99 came out at 0.41 ms against 2.0–4.3 ms in its other fourteen.
 *
 * It runs after the relay's load, once `settle` let the relay's runtime go quiet, and before
 * the floor's load: so the relay's paced run starts right after its connect as it always did
 * (every object still awake, as in steady sending), and neither side's blocks share the CPU
 * with the evictions that follow a load. The CPU per message is each server's over the whole
 * span: the one not sending idles in the other's blocks.
 */
export async function singlePairInterleaved(
	relay: Target,
	floor: Target,
	opts: BenchOptions,
	plan: PairPlan,
): Promise<{ relay: SinglePairRun; floor: SinglePairRun; blocks: number; serverCores: number[] | null; gaps: MachineGaps | null }> {
	const first = plan.load[0] as number;
	// The machine's own gaps, with nothing of the benchmark running: what holds any process up.
	const gaps = opts.gapProbeMs > 0 ? await machineGaps(opts.gapProbeMs) : null;
	if (gaps) relay.log(describeGaps(gaps));
	for (const t of [relay, floor]) await sequential(t, first, WARM_UP_MESSAGES, opts);
	const trace = await startStallTrace(relay, opts);
	const schedule = opts.traceThreads ? sampleSchedule(relay.pid) : null;
	const reports: Record<RelayKind, RunReport[]> = { relay: [], floor: [] };
	const cpuBefore = { relay: cpuMs(relay.pid) ?? 0, floor: cpuMs(floor.pid) ?? 0 };
	const size = Math.max(1, Math.min(opts.singlePairBlock, opts.sequentialCount));
	let blocks = 0;
	const { serverCores } = await withServerCores([relay.pid, floor.pid], opts.splitCores, async () => {
		for (let done = 0; done < opts.sequentialCount; done += size, blocks++) {
			const count = Math.min(size, opts.sequentialCount - done);
			// ABBA: each side goes first in half the blocks, so neither always follows the other's work.
			const order = blocks % 2 === 0 ? [relay, floor] : [floor, relay];
			for (const t of order) reports[t.kind].push(await sequential(t, first, count, opts));
		}
	});
	const series = schedule?.();
	const measured = { relay: figures(reports.relay, "relay"), floor: figures(reports.floor, "floor") };
	const devices = plan.all.length * 2;
	const name = `single-pair-relay-${devices}`;
	const flights = flightsOf(reports.relay);
	// Every flight of both sides in send order, for looking at when the slow ones came.
	mkdirSync(opts.outDir, { recursive: true });
	writeFileSync(
		path.join(opts.outDir, `single-pair-flights-${devices}.json`),
		JSON.stringify({ relay: flights, floor: flightsOf(reports.floor) }),
	);
	const p99 = measured.relay.latencyMs.p99;
	const stalls = trace && (await stallsOf(trace, relay, opts, flights, p99, name, name));
	relay.profiler?.close();
	// How the runtime's thread spent the tail's flights: on a CPU, or runnable and waiting for one.
	const serverThread = series && series.length > 1 ? serverThreadReport(series, flights, p99, SCHEDULE_SAMPLE_MS) : null;
	if (serverThread) relay.log(`${name}: ${describeServerThread(serverThread)}`);
	const run = (t: Target): SinglePairRun => {
		const inBlocks = tailInBlocks(
			reports[t.kind].map((r) => flightsOf([r])),
			measured[t.kind].latencyMs.p99,
		);
		const singlePair = {
			...measured[t.kind],
			inBlocks,
			...(t.kind === "relay" && stalls && { stalls }),
			...(t.kind === "relay" && serverThread && { serverThread }),
		};
		return { singlePair, cpuMsPerMessage: ((cpuMs(t.pid) ?? 0) - cpuBefore[t.kind]) / Math.max(1, singlePair.delivered) };
	};
	return { relay: run(relay), floor: run(floor), blocks, serverCores, gaps };
}

/** The paced and the saturated run on a connected target, and the server CPU each cost per message. */
export interface LoadFigures {
	paced: RunFigures;
	saturated: RunFigures;
	cpuMsPerMessage: { paced: number; saturated: number };
	/** What the runtime's thread did while the paced run's slowest messages were in flight (`--trace-stalls`). */
	stalls: StallReport | null;
	/** The load threads' own stalls while the paced run's messages were in flight (`--trace-threads`). */
	clientStalls: ClientStallReport | null;
	/** How the server's main thread spent the paced run's flights (`--trace-threads`). */
	serverThread: ServerThreadReport | null;
	endedAt: number;
}

/**
 * One sample a millisecond: a stall of the paced tail lasts 40–150 ms, and a finer interval
 * costs the runtime more of the CPU the run measures.
 */
const STALL_SAMPLING_US = 1000;
/** A collection at least this long is a pause: five times the relay's usual paced p50. */
const STALL_PAUSE_MS = 10;
/** How often the server's main thread's scheduler counters are read. */
const SCHEDULE_SAMPLE_MS = 10;

/** Reads the server's main-thread counters every SCHEDULE_SAMPLE_MS until the returned function is called, which gives the series. */
function sampleSchedule(pid: number): () => Array<[number, number, number]> {
	const series: Array<[number, number, number]> = [];
	const read = () => {
		const s = mainThreadSchedule(pid);
		if (s) series.push([now(), s.runNs / 1e6, s.waitNs / 1e6]);
	};
	read();
	const timer = setInterval(read, SCHEDULE_SAMPLE_MS);
	return () => {
		clearInterval(timer);
		read();
		return series;
	};
}

/** With `--trace-stalls`: the relay's worker profiled from here, to see what ran while its slowest messages were in flight. */
async function startStallTrace(target: Target, opts: BenchOptions): Promise<InspectorSession | null> {
	if (!opts.traceStalls || !target.profiler) return null;
	try {
		const session = await target.profiler.open();
		await session?.startProfile(STALL_SAMPLING_US);
		return session;
	} catch (err) {
		target.log(`${target.kind}: no stall trace (${err instanceof Error ? err.message : String(err)})`);
		return null;
	}
}

/** The trace's profile saved as `file`.cpuprofile (for DevTools) and what ran while the flights at or over `p99` were in flight. */
async function stallsOf(
	session: InspectorSession,
	target: Target,
	opts: BenchOptions,
	flights: ReadonlyArray<readonly [number, number]>,
	p99: number,
	file: string,
	label: string,
): Promise<StallReport | null> {
	try {
		const profile = await session.stopProfile();
		mkdirSync(opts.outDir, { recursive: true });
		writeFileSync(path.join(opts.outDir, `${file}.cpuprofile`), JSON.stringify(profile));
		const stalls = stallReport(timeline(profile, STALL_SAMPLING_US / 1000), flights, p99, {
			samplingUs: STALL_SAMPLING_US,
			pauseMs: STALL_PAUSE_MS,
		});
		target.log(`${label} stalls: ${describeStalls(stalls)}`);
		return stalls;
	} catch (err) {
		target.log(`${label}: no stall trace (${err instanceof Error ? err.message : String(err)})`);
		return null;
	}
}

/** Paced load, then saturation, on a prepared target. */
export async function runLoad(target: Target, opts: BenchOptions, plan: PairPlan): Promise<LoadFigures> {
	const { pool, kind } = target;
	const devices = plan.all.length * 2;
	const senders = plan.load.length * 2;
	const profiler = await startStallTrace(target, opts);
	const schedule = opts.traceThreads ? sampleSchedule(target.pid) : null;
	let cpu = cpuMs(target.pid) ?? 0;
	const pacedReports = await pool.onPairs(plan.load, (own) => ({
		op: "paced",
		pairs: own,
		ratePerDevice: Math.min(opts.pacedPerDevice, opts.pacedRate / senders),
		durationMs: opts.pacedMs,
		drainMs: opts.drainMs,
		...(opts.traceThreads && { traceClient: true }),
	}));
	const pacedCpu = (cpuMs(target.pid) ?? 0) - cpu;
	const paced = figures(pacedReports, kind);
	const flights = opts.traceThreads || profiler ? flightsOf(pacedReports) : [];
	const clientStalls = opts.traceThreads
		? clientStallReport(
				pacedReports.map((r) => ({ flights: flightsOf([r]), stalls: r.clientStalls ?? [] })),
				paced.latencyMs.p99,
				CLIENT_LAG_MS,
			)
		: null;
	if (clientStalls) target.log(`${kind} N=${devices}: paced client stalls: ${describeClientStalls(clientStalls)}`);
	const series = schedule?.();
	const serverThread = series && series.length > 1 ? serverThreadReport(series, flights, paced.latencyMs.p99, SCHEDULE_SAMPLE_MS) : null;
	if (serverThread) target.log(`${kind} N=${devices}: paced: ${describeServerThread(serverThread)}`);
	const stalls =
		profiler &&
		(await stallsOf(profiler, target, opts, flights, paced.latencyMs.p99, `paced-${kind}-${devices}`, `${kind} N=${devices}: paced`));
	target.profiler?.close();

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
			`saturated ${saturated.deliveredPerSecond.toFixed(0)} msg/s; paced tail: ${describeTail(paced.tail)}`,
	);
	return {
		paced,
		saturated,
		cpuMsPerMessage: {
			paced: pacedCpu / Math.max(1, paced.delivered),
			saturated: saturatedCpu / Math.max(1, saturated.delivered),
		},
		stalls,
		clientStalls,
		serverThread,
		endedAt: Date.now(),
	};
}

/** The wake measurement on a loaded target, then every device closed; the target's figures. */
export async function finish(
	target: Target,
	opts: BenchOptions,
	plan: PairPlan,
	prepared: Prepared,
	one: SinglePairRun,
	load: LoadFigures,
): Promise<KindFigures> {
	// The wake pairs are idle from the connect on; the relay's wake waits for the load's evictions
	// and credit flushes to pass (wakeQuietMs).
	const idleSince = prepared.connectedAt;
	const quietMs = target.kind === "relay" ? opts.wakeQuietMs : 0;
	await sleep(Math.max(0, opts.wakeIdleMs - (Date.now() - idleSince), quietMs - (Date.now() - load.endedAt)));
	const idleMs = Date.now() - idleSince;
	const wakeBothIdle = await wake(target, plan.wakeBothIdle, false, idleMs, opts.drainMs);
	const wakeRecipientIdle = await wake(target, plan.wakeRecipientIdle, true, Date.now() - idleSince, opts.drainMs);
	const counted = await countWakes(target, plan.wakeCounted, opts.drainMs);
	wakeBothIdle.objectsConstructed = counted.constructed;
	wakeBothIdle.lost += counted.lost;

	await closeAll(target.pool, prepared.server, plan.all);
	return {
		setupMs: prepared.setupMs,
		connectMs: prepared.connectMs,
		singlePair: one.singlePair,
		paced: load.paced,
		saturated: load.saturated,
		wakeBothIdle,
		wakeRecipientIdle,
		memory: prepared.memory,
		cpuMsPerMessage: { ...load.cpuMsPerMessage, singlePair: one.cpuMsPerMessage },
		pacedStalls: load.stalls,
		pacedClientStalls: load.clientStalls,
		pacedServerThread: load.serverThread,
	};
}

/** A whole run on one target alone: prepared, its one sending pair right after the connect, then the load. */
export async function runPhase(target: Target, opts: BenchOptions, plan: PairPlan, prefix: string): Promise<KindFigures> {
	const prepared = await prepare(target, opts, plan, prefix);
	const one = await singlePairAlone(target, opts, plan);
	return finish(target, opts, plan, prepared, one, await runLoad(target, opts, plan));
}

/**
 * A workerd yardstick (yardstick-server.ts) with all N devices connected: the one sending pair,
 * `between` (the chat reads its counts there, before the load adds to them), then the paced and
 * the saturated run as the relay's (`runLoad`). Its server's memory is read around connecting
 * as runPhase reads it (`rss`: null skips it). In production the one-object chat's single
 * object would be one machine's thread for every user; here, where one thread runs every
 * object of a runtime, relay and yardstick alike, its load figures are the runtime's own cost
 * of a message.
 */
export async function runYardstick(
	target: Target,
	opts: BenchOptions,
	plan: PairPlan,
	between: () => Promise<void> = async () => {},
): Promise<YardstickRun> {
	const { pool, kind } = target;
	await pool.onPairs(plan.all, (own) => ({ op: "addPairs", pairs: own, prefix: "" }));
	const { connectMs, memory } = await connectMeasured(pool, target.pid, plan.all, target.rss);
	const first = plan.load[0] as number;
	const cpuBefore = cpuMs(target.pid);
	// On its own cores as the relay's and the floor's one pair were, so the ratios compare like with like.
	const { result: report } = await withServerCores([target.pid], opts.splitCores, () =>
		pool.measurePair(first, {
			op: "sequential",
			pair: first,
			count: opts.sequentialCount,
			gapMs: 0,
			timeoutMs: opts.drainMs,
		}),
	);
	const cpuAfter = cpuMs(target.pid);
	const singlePair = figures([report], kind);
	const cpuMsPerMessage = cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / Math.max(1, singlePair.delivered);
	await between();
	const { paced, saturated, cpuMsPerMessage: loadCpu } = await runLoad(target, opts, plan);
	await pool.all({ op: "disconnect" });
	return { singlePair, connectMs, memory, cpuMsPerMessage, load: { paced, saturated, cpuMsPerMessage: loadCpu } };
}

export interface YardstickRun {
	singlePair: RunFigures;
	connectMs: number;
	memory: SocketMemory;
	cpuMsPerMessage: number | null;
	load: { paced: RunFigures; saturated: RunFigures; cpuMsPerMessage: { paced: number; saturated: number } };
}

/** An empty figure set, for a wake group with no pairs. */
export const noWake = (idleMs: number): WakeFigures => ({ idleMs, latencyMs: summarize([]), objectsConstructed: null, lost: 0 });
