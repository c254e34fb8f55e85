/** The shape of bench-results/*.json: every figure of a run. */
import type { ApprovalBenchResult } from "./approval-bench.ts";
import type { Cost, MessageUsage } from "./cost.ts";
import type { CryptoRow } from "./crypto-bench.ts";
import type { ProfileSummary } from "./hot-path-probe.ts";
import type { MachineGaps } from "./machine-gaps.ts";
import type { BenchOptions } from "./options.ts";
import type { ClientStallReport, ServerThreadReport, StallReport } from "./stalls.ts";
import type { LatencySummary, RunFigures } from "./stats.ts";

export interface MachineInfo {
	cpus: number;
	cpuModel: string;
	memoryGiB: number;
	node: string;
	platform: string;
	/** 1-minute load average when the run started and ended: other work on the machine skews every figure. */
	loadAverageStart: number;
	loadAverageEnd: number;
}

export interface WakeFigures {
	/** How long the pairs had been idle (no frame, no request) before their message. */
	idleMs: number;
	latencyMs: LatencySummary;
	/**
	 * Durable Object instances the runtime constructed for one more message of this kind, sent
	 * on its own idle pair with a breakpoint on UserRelay's constructor counting (2 when both
	 * sides woke from hibernation); not part of latencyMs, which is measured with no debugger
	 * attached. Null for the floor, for the recipient-idle group, or without the inspector.
	 */
	objectsConstructed: number | null;
	lost: number;
}

export interface SocketMemory {
	/** Resident memory of the server process before and after the N sockets connected (read 1 s after the last), bytes. */
	rssBefore: number;
	rssConnected: number;
	/** (rssConnected − rssBefore) / N */
	perSocketBytes: number;
}

export interface KindFigures {
	/** Registering the accounts and making them contacts (relay) — setup, not measured traffic. */
	setupMs: number;
	connectMs: number;
	/** One pair, one message at a time: pure delivery latency. */
	singlePair: RunFigures;
	/** Every sending device at a Poisson rate; `pacedRate` messages per second in total. */
	paced: RunFigures;
	/** Every sending device keeps messages in flight: the most the relay delivers per second. */
	saturated: RunFigures;
	/** First message to a pair idle long enough for its Durable Objects to be evicted (hibernated). */
	wakeBothIdle: WakeFigures;
	/** The same with the sender's object woken first over HTTP, so only the recipient's wakes. */
	wakeRecipientIdle: WakeFigures;
	memory: SocketMemory;
	/**
	 * Server CPU time per delivered message during the paced and the saturated runs, and
	 * during the one sending pair's run (messages back to back, one in flight), ms.
	 */
	cpuMsPerMessage: { paced: number; saturated: number; singlePair: number };
	/** What the runtime's thread did while the paced run's slowest messages were in flight; null unless `--trace-stalls`. */
	pacedStalls: StallReport | null;
	/** The load threads' own stalls while the paced run's messages were in flight; null unless `--trace-stalls`. */
	pacedClientStalls: ClientStallReport | null;
	/** How the server's main thread spent the paced run's flights; null unless `--trace-threads`. */
	pacedServerThread: ServerThreadReport | null;
}

export interface Ratios {
	singlePair: { p50: number; p90: number; p99: number; max: number };
	paced: { p50: number; p90: number; p99: number; max: number };
	/** floor / relay: how many times more the floor delivers per second. */
	saturatedThroughput: number;
	perSocketMemory: number;
	wakeBothIdleP50: number;
	cpuPerMessage: number;
}

/** A workerd yardstick at one N: the relay's workloads, and how it compares with the floor and the relay. */
export interface YardstickFigures {
	singlePair: RunFigures;
	/** Connecting the N devices, and the yardstick's workerd memory around it, read as for the relay. */
	connectMs: number;
	memory: SocketMemory;
	/**
	 * The yardstick's workerd CPU per delivered message over the one sending pair's run, ms:
	 * for the chat, what the runtime itself spends on a message in, one SQLite insert and a
	 * message out.
	 */
	cpuMsPerMessage: number | null;
	/** The paced and the saturated run, and the workerd CPU each cost per message, ms. */
	load: { paced: RunFigures; saturated: RunFigures; cpuMsPerMessage: { paced: number; saturated: number } };
	/** yardstick / floor, one sending pair */
	toFloor: { p50: number; p90: number; p99: number; max: number };
	/** relay / yardstick, one sending pair */
	relayTo: { p50: number; p90: number; p99: number; max: number };
	/** floor ÷ yardstick saturated messages a second, and relay ÷ yardstick CPU per paced message. */
	loadRatios: { saturatedFloorTo: number; relayCpuPaced: number };
}

export interface SizeResult {
	devices: number;
	pairs: { load: number; wakeBothIdle: number; wakeRecipientIdle: number };
	/** The one sending pair ran on the relay and the floor in this many alternating blocks each. */
	singlePairBlocks: number;
	/** The cores the servers had to themselves for the one sending pair (cpu-split.ts); null if it ran on every core. */
	singlePairServerCores: number[] | null;
	/** The machine's gaps just before the one sending pair (machine-gaps.ts); null if not probed. */
	singlePairMachineGaps: MachineGaps | null;
	relay: KindFigures;
	floor: KindFigures;
	/** relay / floor for each figure. */
	ratio: Ratios;
	/**
	 * The one-object chat (one-object-chat.ts: one Durable Object, each message written to its
	 * storage, the floor's protocol) with the same N connected and the same workloads; null
	 * when the run skips it.
	 */
	oneObjectChat: YardstickFigures | null;
	/**
	 * The minimal per-user relay (minimal-relay.ts: one object per user, the relay's three
	 * events and one row a message, nothing else of ours), the same way; null when skipped.
	 */
	minimalRelay: YardstickFigures | null;
	/** The relay again with its runtime's state on this machine's disk (options.diskSizes), against the same floor figures. */
	onDisk: { relay: KindFigures; ratio: Ratios } | null;
}

/** One size of the growth run (options.growth). */
export interface GrowthRow {
	devices: number;
	/** Server RSS per connected socket, bytes; `ours` is relay − one-object chat (null without the chat). */
	rssPerSocket: { relay: number; oneObjectChat: number | null; floor: number; ours: number | null };
	pacedP99Ms: { relay: number; floor: number };
	/** Connecting all N devices, ms. */
	connectMs: { relay: number; oneObjectChat: number | null; floor: number };
}

/** How each figure grew from the smallest size to the largest: value at `to` / value at `from`. */
export interface GrowthFactors {
	from: number;
	to: number;
	rssPerSocket: { relay: number; oneObjectChat: number | null; floor: number; ours: number | null };
	pacedP99Ms: { relay: number; floor: number };
	connectMs: { relay: number; oneObjectChat: number | null; floor: number };
}

export interface GrowthResult {
	rows: GrowthRow[];
	factors: GrowthFactors | null;
}

export interface ProbeResult {
	messages: number;
	windowMs: number;
	/** Durable Object SQL statements per delivered message, by statement, most frequent first. */
	sqlPerMessage: Array<{ sql: string; perMessage: number }>;
	sqlStatementsPerMessage: number;
	/** D1 round trips per delivered message, over a window that includes the batched credit flushes. */
	d1RoundTripsPerMessage: number;
	d1: Array<{ sql: string; calls: number }>;
	/** SQLite rows per delivered message by statement (the cursor's own counts), most written first. */
	rowsPerMessage: Array<{ sql: string; read: number; written: number }>;
	rowsReadPerMessage: number;
	rowsWrittenPerMessage: number;
	d1RowsPerMessage: { read: number; written: number };
	/** D1 rows by statement over the whole window, the probe's own ledger reads included (they are left out above). */
	d1RowsBySql: Array<{ sql: string; read: number; written: number }>;
	/** Billed Durable Object events per delivered message, by kind. */
	eventsPerMessage: Record<string, number>;
	/** The counted run's p50, send → recipient's socket: the bound of one event's duration (cost.ts). */
	latencyP50Ms: number;
	profile: ProfileSummary & { byFunction: ProfileSummary["byFunction"] };
	/** The same pairs idle past the runtime's eviction, then one message each: what a message that wakes its objects runs. */
	woken: WokenCounts | null;
}

export interface WokenCounts {
	messages: number;
	/** UserRelay constructions those messages caused (2 a message when both objects had been evicted). */
	objectsConstructed: number;
	sqlPerMessage: Array<{ sql: string; perMessage: number }>;
	sqlStatementsPerMessage: number;
	/** SQLite rows by statement per woken message (the cursors' own counts), most read first. */
	rowsPerMessage: Array<{ sql: string; read: number; written: number }>;
	rowsReadPerMessage: number;
	rowsWrittenPerMessage: number;
}

/** 1,000,000 delivered text messages on the price list, ours beside the one-object chat's. */
export interface CostResult {
	prices: { asOf: string; plan: string; currency: string; sources: Record<string, string> };
	relay: Cost & { usage: MessageUsage };
	oneObjectChat: (Cost & { usage: MessageUsage }) | null;
	/** relay / chat */
	ratio: number;
	/**
	 * The same million messages if each woke both its objects (the probe's woken count): what
	 * an account pays whose messages come minutes apart. Its rows read grow with the sender's
	 * record (every pass over it reads every row); the probe's senders had sent about 200.
	 */
	woken: (Cost & { usage: MessageUsage }) | null;
}

export interface GoalCheck {
	goal: string;
	value: number;
	target: number;
	met: boolean;
}

export interface BenchResult {
	benchmark: "secure-messaging relay vs raw ws relay";
	run: BenchOptions["name"];
	startedAt: string;
	durationMs: number;
	command: string;
	machine: MachineInfo;
	options: BenchOptions;
	server: {
		/** Where the clients connected: the workerd runtime's own socket, past wrangler's dev proxy. */
		relay: string;
		/** Where the relay's runtime kept its state for every figure but `onDisk`. */
		relayState: string;
		floor: string;
		oneObjectChat: string | null;
		minimalRelay: string | null;
		wrangler: string;
		workerd: string;
	};
	sizes: SizeResult[];
	/** One sending pair through wrangler's dev proxy (what `wrangler dev` users see), for comparison. */
	viaDevProxy: { singlePair: RunFigures } | null;
	crypto: CryptoRow[];
	probe: ProbeResult | null;
	cost: CostResult | null;
	/** Approving a device: every contact key re-wrapped for it, in Chromium (options.approvalContacts). */
	approval: ApprovalBenchResult | null;
	/** How the figures grow with N (options.growth: `--growth`); null in other runs. */
	growth: GrowthResult | null;
	goals: GoalCheck[];
	/** Lost or duplicated messages anywhere in the run: must be 0. */
	lostTotal: number;
	duplicatedTotal: number;
}
