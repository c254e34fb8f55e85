/** Percentiles and the figures every run reports, from the samples of the load threads. */
import type { RunReport } from "./load-protocol.ts";
import type { ServerThreadReport, StallReport } from "./stalls.ts";

export interface LatencySummary {
	count: number;
	p50: number;
	p90: number;
	p99: number;
	max: number;
	mean: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
	if (sorted.length === 0) return Number.NaN;
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function summarize(values: readonly number[]): LatencySummary {
	const sorted = [...values].sort((a, b) => a - b);
	const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
	return {
		count: sorted.length,
		p50: percentile(sorted, 50),
		p90: percentile(sorted, 90),
		p99: percentile(sorted, 99),
		max: sorted.at(-1) ?? Number.NaN,
		mean,
	};
}

/**
 * When in a run its slowest messages were sent: those at or above the run's p99, counted by
 * the whole second (from the run's first send) they were sent in, with the slowest of each
 * second. A tail set by queueing behind steady work spreads over the run; one set by a stall
 * (a burst of evictions, alarms or a collection on the runtime's one thread) sits in a
 * second or two.
 */
export interface TailTiming {
	/** The run's p99: the messages counted took at least this long. */
	atLeastMs: number;
	/** [second of the run, messages, slowest ms] for each second that had any, in order. */
	seconds: Array<[number, number, number]>;
}

/** `atLeastMs` is the run's p99; a caller that has it already passes it, to sort the samples once. */
export function tailTiming(
	timed: ReadonlyArray<readonly [sentAt: number, latencyMs: number]>,
	atLeastMs = summarize(timed.map(([, ms]) => ms)).p99,
): TailTiming {
	if (timed.length === 0) return { atLeastMs, seconds: [] };
	// A loop, not Math.min(...): a saturated run has more samples than a call has room for arguments.
	const first = timed.reduce((a, [at]) => Math.min(a, at), Number.POSITIVE_INFINITY);
	const bySecond = new Map<number, [number, number]>();
	for (const [at, ms] of timed) {
		if (ms < atLeastMs) continue;
		const second = Math.floor((at - first) / 1000);
		const [n, worst] = bySecond.get(second) ?? [0, 0];
		bySecond.set(second, [n + 1, Math.max(worst, ms)]);
	}
	const seconds = [...bySecond].sort(([a], [b]) => a - b).map(([second, [n, worst]]): [number, number, number] => [second, n, worst]);
	return { atLeastMs, seconds };
}

/**
 * Where in its block each message at or over the p99 was (the one sending pair runs in
 * blocks, the relay's and the floor's in turns): a tail made of each block's first message
 * is the cost of starting again after the other side's block, not of steady sending.
 */
export interface BlockTail {
	atLeastMs: number;
	/** Messages at or over `atLeastMs` by their place in their block: the first, the second, the third to tenth, later. */
	first: number;
	second: number;
	thirdToTenth: number;
	later: number;
}

/** `blocks`: each block's [sentAt, latencyMs] of its messages, in any order. */
export function tailInBlocks(blocks: ReadonlyArray<ReadonlyArray<readonly [number, number]>>, atLeastMs: number): BlockTail {
	const tail: BlockTail = { atLeastMs, first: 0, second: 0, thirdToTenth: 0, later: 0 };
	for (const block of blocks) {
		const inOrder = [...block].sort(([a], [b]) => a - b);
		inOrder.forEach(([, ms], i) => {
			if (ms < atLeastMs) return;
			if (i === 0) tail.first++;
			else if (i === 1) tail.second++;
			else if (i < 10) tail.thirdToTenth++;
			else tail.later++;
		});
	}
	return tail;
}

/** "12 of the 21 at or over p99 sent in second 12, 4 seconds with any": where most of the tail sits, for the log. */
export function describeTail(tail: TailTiming): string {
	const total = tail.seconds.reduce((a, [, n]) => a + n, 0);
	if (total === 0) return "no tail";
	const [second, n] = tail.seconds.reduce((best, s) => (s[1] > best[1] ? s : best));
	return `${n} of the ${total} at or over p99 sent in second ${second}, ${tail.seconds.length} seconds with any`;
}

export interface RunFigures {
	latencyMs: LatencySummary;
	/** When the messages at or over p99 were sent. */
	tail: TailTiming;
	/** Messages written to a socket. */
	sent: number;
	/** Messages the workload meant to send in its time (the offered load). */
	scheduled: number;
	delivered: number;
	/** Sent and not arrived within the run plus its drain time (`drainMs`): lost, or later than that. */
	lost: number;
	/** Arrived twice, or arrived without having been sent by anyone. */
	duplicated: number;
	/** Messages of an earlier run that arrived during this one (they count as lost there). */
	lateFromEarlierRun: number;
	/** Frames the SDK wrote again (after a reconnect); 0 in a clean run. */
	rewritten: number;
	/** Offered sends per second. */
	offeredPerSecond: number;
	/** Delivered messages per second, from the first send to the last arrival. */
	deliveredPerSecond: number;
	/** Messages the SDK opened and handed to the app (the relay only; equals `delivered` in a clean run). */
	opened: number | null;
	failedSends: number;
	undecryptable: number;
	/** Busiest load thread's event-loop utilisation: near 1 means the client side limited the run. */
	clientBusy: number;
	errors: string[];
	/** The one sending pair in blocks: where in its block each message of the tail was. */
	inBlocks?: BlockTail;
	/** The relay's one sending pair with `--trace-stalls`: what its runtime ran while the slowest messages were in flight. */
	stalls?: StallReport;
	/** The same with `--trace-threads`: how the runtime's main thread spent the slowest messages' flights. */
	serverThread?: ServerThreadReport;
}

/** [sent at, latency] of every message that arrived, on the load threads' monotonic clock. */
export function flightsOf(reports: readonly RunReport[]): Array<[number, number]> {
	const arrivals = new Map<string, number>();
	for (const r of reports) for (const [id, t] of r.samples.arrivals) arrivals.set(id, t);
	const flights: Array<[number, number]> = [];
	for (const r of reports) {
		for (const [id, sentAt] of r.samples.sends) {
			const arrivedAt = arrivals.get(id);
			if (arrivedAt !== undefined) flights.push([sentAt, arrivedAt - sentAt]);
		}
	}
	return flights;
}

export function figures(reports: readonly RunReport[], kind: "relay" | "floor"): RunFigures {
	const sends = new Map<string, number>();
	const arrivals = new Map<string, number>();
	let duplicated = 0;
	let rewritten = 0;
	let late = 0;
	for (const r of reports) {
		for (const [id, t] of r.samples.sends) sends.set(id, t);
		for (const [id, t] of r.samples.arrivals) arrivals.set(id, t);
		duplicated += r.samples.duplicates;
		rewritten += r.samples.rewrites;
		late += r.samples.late;
	}
	const latencies: number[] = [];
	const timed: Array<[number, number]> = [];
	let first = Number.POSITIVE_INFINITY;
	let last = Number.NEGATIVE_INFINITY;
	let lost = 0;
	for (const [id, sentAt] of sends) {
		first = Math.min(first, sentAt);
		const arrivedAt = arrivals.get(id);
		if (arrivedAt === undefined) {
			lost++;
			continue;
		}
		last = Math.max(last, arrivedAt);
		latencies.push(arrivedAt - sentAt);
		timed.push([sentAt, arrivedAt - sentAt]);
	}
	// An arrival nobody sent would be a relay inventing or misrouting messages.
	let unexpected = 0;
	for (const id of arrivals.keys()) if (!sends.has(id)) unexpected++;
	const elapsed = Math.max(...reports.map((r) => r.elapsedMs), 1);
	const errors = reports.flatMap((r) => r.errors);
	if (unexpected > 0) errors.push(`${unexpected} arrivals of messages nobody sent`);
	const latencyMs = summarize(latencies);
	return {
		latencyMs,
		tail: tailTiming(timed, latencyMs.p99),
		sent: sends.size,
		scheduled: reports.reduce((a, r) => a + r.scheduled, 0),
		delivered: latencies.length,
		lost,
		duplicated: duplicated + unexpected,
		lateFromEarlierRun: late,
		rewritten,
		offeredPerSecond: (reports.reduce((a, r) => a + r.scheduled, 0) * 1000) / elapsed,
		deliveredPerSecond: latencies.length > 0 && last > first ? (latencies.length * 1000) / (last - first) : 0,
		opened: kind === "relay" ? reports.reduce((a, r) => a + r.opened, 0) : null,
		failedSends: reports.reduce((a, r) => a + r.failed, 0),
		undecryptable: reports.reduce((a, r) => a + r.undecryptable, 0),
		clientBusy: Math.max(0, ...reports.map((r) => r.clientBusy)),
		errors: errors.slice(0, 20),
	};
}
