/** What a benchmark run does: the full run of `npm run bench`, the smoke run of `npm run bench:smoke`. */
import path from "node:path";
import { ROOT } from "./bundle.ts";
import type { StateOn } from "./relay-server.ts";

export interface BenchOptions {
	name: "full" | "smoke" | "growth";
	/** Connected devices per run; each is one account, paired with another as contacts. */
	sizes: number[];
	/** Text per message; the relay's sealed frame is ~4/3 of it plus ~250 characters of header. */
	textBytes: number;
	/** Load threads on the client side. */
	threads: number;
	/** Concurrent registrations and connections per load thread. */
	concurrency: number;
	/** One sending pair: messages, one at a time. */
	sequentialCount: number;
	/**
	 * The one sending pair runs on the relay and on the floor in alternating blocks of this
	 * many messages, both connected, so that both see the machine in the same minute.
	 */
	singlePairBlock: number;
	/**
	 * The least time after the relay's load before the floor's devices connect and the blocks
	 * start; then they wait for the load's objects to be evicted (phases.ts, `settle`): the load
	 * kept every object awake and workerd evicts them 10 s later, a burst of work neither side's
	 * blocks should share. 0 (the smoke run) waits for nothing.
	 */
	singlePairSettleMs: number;
	/**
	 * `--split-cores`: run the one sending pair with the servers on their own cores and the load
	 * threads on the others (cpu-split.ts). Off by default: on this VM it made the floor's tail
	 * worse and the relay's no steadier (docs/benchmarks.md, "What sets the one pair's tail").
	 */
	splitCores: boolean;
	/** How long the machine's gaps are probed before each one sending pair (machine-gaps.ts); 0: not probed. */
	gapProbeMs: number;
	/**
	 * Paced load: every sending device sends at Poisson-distributed times, `pacedPerDevice` a
	 * second but no more than `pacedRate` in total. At N = 1,000 that is 0.1 a second each: the
	 * production rate limit (1 message per 10 s), with every user sending as fast as allowed.
	 */
	pacedRate: number;
	pacedPerDevice: number;
	/**
	 * 20 s: at N = 1,000 the p99 of 8 s (800 messages) swung between 4.5 and 16 ms from run to
	 * run, set by one or two bursts of a few ms of other work on the runtime's thread (the
	 * objects evicted 10 s after the connection wave, a garbage collection); 2,000 messages
	 * make the tail a figure of the relay rather than of when a burst fell.
	 */
	pacedMs: number;
	/** Saturation: messages kept in flight in total, by at most this many sending devices. */
	saturateInFlight: number;
	saturateMs: number;
	/** Pairs kept idle for the wake measurement, per kind (both sides idle / recipient idle). */
	wakePairs: number;
	/** How long the wake pairs stay idle first; workerd evicts an idle Durable Object after 10 s. */
	wakeIdleMs: number;
	/**
	 * How long after the load the relay's wake messages wait: the load pairs' objects are evicted
	 * 10 s after their last message and their credits flushed to D1 after a 1 s pause, a burst
	 * of work on the runtime's one thread; the wake figure is the wake alone (the paced figure
	 * is the one that includes wakes under load).
	 */
	wakeQuietMs: number;
	/** How long to wait for stragglers after a run. */
	drainMs: number;
	/** Time per crypto row. */
	cryptoBudgetMs: number;
	/** Count SQL statements and D1 round trips per message and take a CPU profile of the worker. */
	probe: boolean;
	/**
	 * Take a CPU profile of the relay's worker over each paced run and say what its thread was
	 * doing while the slowest messages were in flight (stalls.ts). Off by default: the profiler
	 * costs the runtime CPU, so the run's other figures are not comparable with a plain run.
	 */
	traceStalls: boolean;
	/**
	 * Record, during each paced run, when the load threads' own event loops were held up (a
	 * collection in the client, or its core given to another process), and how the server's
	 * main thread spent each message's flight (on a CPU, waiting for one, asleep): to tell a
	 * tail the clients stamped late, or the machine's CPUs held up, from one the server made.
	 * Cheap (a 2 ms timer per load thread, a 10 ms one reading /proc); `--trace-stalls` turns
	 * it on too.
	 */
	traceThreads: boolean;
	/** Pairs the probe loads. */
	probePairs: number;
	/**
	 * How long the probe keeps counting after its run: long enough for the batches due at the
	 * first pause in sending (CREDIT_FLUSH_CHARGES); a last batch smaller than that waits
	 * CREDIT_FLUSH_SECONDS (300) and is not counted.
	 */
	probeFlushWaitMs: number;
	/**
	 * Where the relay's runtime keeps its state: "ram" (/dev/shm) for every figure, since local
	 * workerd's fsyncs on this disk stall all objects at once and production has no such disk
	 * (see relay-server.ts); the sizes in `diskSizes` run once more with the state on disk.
	 */
	stateOn: StateOn;
	diskSizes: number[];
	/** Also run the one-object chat (issue 8's second yardstick) at every N: the one sending pair, paced and saturated. */
	oneObjectChat: boolean;
	/** Also run the minimal per-user relay (minimal-relay.ts) at every N, the same way. */
	minimalRelay: boolean;
	/** Contacts whose keys a device approval re-wraps, timed in Chromium (0: skip). */
	approvalContacts: number;
	/** Also time one sending pair through wrangler's dev proxy. */
	proxyCheck: boolean;
	/**
	 * Report how memory per socket, the paced p99 and the time to connect every device grow
	 * from the smallest size to the largest (the "Growth" table), the one-object chat's memory
	 * per socket beside ours.
	 */
	growth: boolean;
	/**
	 * `--compare REF`: instead of the full run, the work tree's relay against REF's (any commit),
	 * both started at once and measured in turns (compare.ts); null for every other run.
	 */
	compare: string | null;
	/** Turns each side of a comparison gets. */
	rounds: number;
	/** The run stops itself if it has not finished by then. */
	hardLimitMs: number;
	outDir: string;
}

export const FULL: BenchOptions = {
	name: "full",
	sizes: [10, 100, 1000],
	textBytes: 100,
	threads: 2,
	concurrency: 12,
	sequentialCount: 1000,
	singlePairBlock: 100,
	singlePairSettleMs: 12_000,
	splitCores: false,
	gapProbeMs: 5000,
	pacedRate: 100,
	pacedPerDevice: 5,
	pacedMs: 20_000,
	saturateInFlight: 64,
	saturateMs: 4000,
	wakePairs: 2,
	wakeIdleMs: 15_000,
	wakeQuietMs: 13_000,
	drainMs: 20_000,
	cryptoBudgetMs: 300,
	probe: true,
	traceStalls: false,
	traceThreads: false,
	probePairs: 10,
	probeFlushWaitMs: 6000,
	stateOn: "ram",
	diskSizes: [1000],
	oneObjectChat: true,
	minimalRelay: true,
	approvalContacts: 1000,
	proxyCheck: true,
	growth: false,
	compare: null,
	rounds: 3,
	hardLimitMs: 20 * 60_000,
	outDir: path.join(ROOT, "bench-results"),
};

/** Small and quick, for CI: proves the benchmark still runs end to end. No N = 1,000, no real hibernation wait. */
export const SMOKE: BenchOptions = {
	...FULL,
	name: "smoke",
	sizes: [10],
	threads: 1,
	sequentialCount: 20,
	singlePairBlock: 10,
	singlePairSettleMs: 0,
	gapProbeMs: 300,
	// 2 s, not 1: a yardstick's CPU is read in clock ticks (10 ms), and 1 s of its paced messages
	// (25 at N = 10) sometimes cost less than one, which left its CPU ratio undefined.
	pacedMs: 2000,
	saturateMs: 1000,
	wakePairs: 1,
	wakeIdleMs: 0,
	wakeQuietMs: 0,
	drainMs: 10_000,
	cryptoBudgetMs: 20,
	probePairs: 3,
	probeFlushWaitMs: 0,
	approvalContacts: 50,
	// Keeps the on-disk comparison working; at N = 10 it costs one more wrangler start.
	diskSizes: [10],
	proxyCheck: true,
	outDir: path.join(ROOT, "bench-results", "smoke"),
};

/**
 * The growth point: N = 100, 1,000 and 10,000, to see how each figure grows with the number of
 * connected devices. Not part of the full run: setting up 5,000 pairs through the SDK alone
 * takes minutes. No disk runs (the growth is measured with the state in RAM, like every
 * other figure), and more concurrent registrations, since setup is most of the run.
 */
export const GROWTH: BenchOptions = {
	...FULL,
	name: "growth",
	sizes: [100, 1000, 10_000],
	diskSizes: [],
	concurrency: 24,
	// One object per user at N = 10,000 would need the relay's batched connect (phases.ts) to
	// keep the runtime's open files in bounds; the growth run's yardstick is the one-object chat.
	minimalRelay: false,
	growth: true,
	hardLimitMs: 60 * 60_000,
	outDir: path.join(ROOT, "bench-results", "growth"),
};

export const USAGE = `npm run bench [-- options]      full run (N = 10, 100, 1000)
npm run bench:smoke             quick run for CI (N = 10); the same as --smoke
npm run bench -- --growth       growth run: N = 100, 1000, 10000 and how memory per socket, paced
                                p99 and the time to connect all grow (~25 min; no disk runs)

  --sizes 10,100,1000     connected devices per run (even numbers)
  --rate 100              paced load, messages per second in total (at most 5 per device)
  --paced-ms 20000        paced run length
  --saturate-ms 4000      saturation run length
  --single-pair-block 100 one sending pair: messages per block, relay and floor alternating (1000 in all)
  --no-gap-probe          skip the 5 s of spinning, one process per core, that measures how often
                          the machine holds a process up before each one sending pair
  --split-cores           run the one sending pair with the servers on their own cores (half of
                          them) and the load threads and everything else on the rest
  --threads 2             client load threads
  --concurrency 12        registrations and connections in flight per load thread (--growth: 24)
  --state ram             where the relay's runtime keeps its state: ram (/dev/shm) or disk
  --disk-sizes 1000       sizes run again with the state on disk, for comparison ("none": skip)
  --no-chat               skip the one-object chat
  --no-minimal            skip the minimal per-user relay
  --no-probe              skip the SQL/D1 counts and the CPU profile
  --no-approval           skip timing a device approval (1,000 contact keys re-wrapped) in Chromium
  --trace-stalls          profile the relay's worker over each paced run and the one sending pair:
                          what ran while the slowest messages were in flight (adds the profiler's cost);
                          also --trace-threads
  --trace-threads         record the load threads' stalls and the runtime's main thread's
                          scheduling in each paced run (cheap)
  --compare REF           only the relay: the work tree's against REF's (a commit, a branch),
                          both running, paced and saturated load in turns at the first --sizes
                          (default 100); results in bench-results/compare/
  --rounds 3              turns each side gets in --compare
  --probe-pairs 10        pairs the probe loads (at the paced rate)
  --out DIR               where latest.json, .svg, .md and a dated copy of the JSON go (default bench-results/)
  --help, -h              this text`;

/** Options from the command line on top of a preset. */
export function parseArgs(argv: string[]): BenchOptions | "help" {
	if (argv.includes("--smoke") && argv.includes("--growth")) throw new Error("--smoke and --growth are two different runs: pick one");
	let opts: BenchOptions = argv.includes("--smoke") ? { ...SMOKE } : argv.includes("--growth") ? { ...GROWTH } : { ...FULL };
	let sizesGiven = false;
	let outGiven = false;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		const value = () => {
			const next = argv[++i];
			if (next === undefined) throw new Error(`${arg} needs a value`);
			return next;
		};
		const count = () => {
			const n = Number(value());
			if (!Number.isFinite(n) || n <= 0) throw new Error(`${arg} needs a positive number`);
			return n;
		};
		switch (arg) {
			case "--smoke":
			case "--growth":
				break;
			case "--help":
			case "-h":
				return "help";
			case "--sizes":
				opts = { ...opts, sizes: value().split(",").map(Number) };
				sizesGiven = true;
				if (opts.sizes.some((n) => !Number.isInteger(n) || n < 2 || n % 2 !== 0)) throw new Error("--sizes takes even numbers ≥ 2");
				break;
			case "--rate":
				opts = { ...opts, pacedRate: count() };
				break;
			case "--paced-ms":
				opts = { ...opts, pacedMs: count() };
				break;
			case "--saturate-ms":
				opts = { ...opts, saturateMs: count() };
				break;
			case "--single-pair-block":
				opts = { ...opts, singlePairBlock: Math.round(count()) };
				break;
			case "--threads":
				opts = { ...opts, threads: Math.round(count()) };
				break;
			case "--concurrency":
				opts = { ...opts, concurrency: Math.round(count()) };
				break;
			case "--state": {
				const where = value();
				if (where !== "ram" && where !== "disk") throw new Error("--state takes ram or disk");
				opts = { ...opts, stateOn: where };
				break;
			}
			case "--disk-sizes": {
				const list = value();
				opts = { ...opts, diskSizes: list === "none" ? [] : list.split(",").map(Number) };
				if (opts.diskSizes.some((n) => !Number.isInteger(n) || n < 2 || n % 2 !== 0))
					throw new Error("--disk-sizes takes even numbers ≥ 2");
				break;
			}
			case "--no-chat":
				opts = { ...opts, oneObjectChat: false };
				break;
			case "--no-minimal":
				opts = { ...opts, minimalRelay: false };
				break;
			case "--no-probe":
				opts = { ...opts, probe: false };
				break;
			case "--no-gap-probe":
				opts = { ...opts, gapProbeMs: 0 };
				break;
			case "--split-cores":
				opts = { ...opts, splitCores: true };
				break;
			case "--trace-stalls":
				opts = { ...opts, traceStalls: true, traceThreads: true };
				break;
			case "--trace-threads":
				opts = { ...opts, traceThreads: true };
				break;
			case "--no-approval":
				opts = { ...opts, approvalContacts: 0 };
				break;
			case "--probe-pairs":
				opts = { ...opts, probePairs: Math.round(count()) };
				break;
			case "--out":
				opts = { ...opts, outDir: path.resolve(value()) };
				outGiven = true;
				break;
			case "--compare":
				opts = { ...opts, compare: value() };
				break;
			case "--rounds":
				opts = { ...opts, rounds: Math.round(count()) };
				break;
			default:
				throw new Error(`unknown option ${arg}\n${USAGE}`);
		}
	}
	if (opts.compare !== null) {
		if (opts.growth) throw new Error("--compare runs one size, not the growth run");
		if (!sizesGiven) opts = { ...opts, sizes: [100] };
		if (!outGiven) opts = { ...opts, outDir: path.join(ROOT, "bench-results", "compare") };
	}
	return opts;
}
