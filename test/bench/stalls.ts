/**
 * What the relay's runtime was doing while its slowest messages were in flight, from a CPU
 * profile of the worker taken over the paced run (`--trace-stalls`).
 *
 * The paced tail at N = 1,000 sits in one or two seconds of a run (`tail` in stats.ts): a
 * stall, not queueing. A stall on the runtime's one thread is either a garbage collection,
 * JavaScript of ours or the runtime's, or native work outside JavaScript. The profile's
 * samples say which, and when: V8 stamps them on the monotonic clock, the same clock the load
 * threads stamp sends and arrivals with (process.hrtime, recorder.ts), so a sample can be
 * placed inside a message's flight without aligning clocks.
 */
import type { CpuProfile } from "./inspector.ts";

export type SampleKind = "gc" | "js" | "program" | "idle";

/** One sample: when it was taken (monotonic ms), how long until the next, what ran. */
export interface Sample {
	at: number;
	ms: number;
	kind: SampleKind;
}

/** V8's names for its pseudo-frames; everything else is a JavaScript function. */
function kindOf(functionName: string): SampleKind {
	if (functionName === "(garbage collector)") return "gc";
	if (functionName === "(idle)") return "idle";
	// `(program)`: the runtime's native code with no JavaScript on the stack; `(root)` likewise.
	if (functionName === "(program)" || functionName === "(root)") return "program";
	return "js";
}

/**
 * The profile's samples in time order, each lasting until the next one but at most twice the
 * sampling interval: workerd takes samples only while a thread holds the isolate, so a longer
 * gap is time the isolate was not running at all (idle, as far as the worker is concerned),
 * and is put in as an idle sample rather than charged to the sample before it.
 */
export function timeline(profile: CpuProfile, intervalMs: number): Sample[] {
	const names = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName]));
	const ids = profile.samples ?? [];
	const deltas = profile.timeDeltas ?? [];
	const stamped: Array<{ at: number; kind: SampleKind }> = [];
	let at = profile.startTime;
	for (let i = 0; i < ids.length; i++) {
		at += deltas[i] ?? 0;
		stamped.push({ at: at / 1000, kind: kindOf(names.get(ids[i] as number) ?? "") });
	}
	const longest = 2 * intervalMs;
	const samples: Sample[] = [];
	for (let i = 0; i < stamped.length; i++) {
		const s = stamped[i] as { at: number; kind: SampleKind };
		const next = stamped[i + 1];
		const gap = next ? next.at - s.at : 0;
		samples.push({ at: s.at, ms: Math.min(gap, longest), kind: s.kind });
		if (gap > longest) samples.push({ at: s.at + longest, ms: gap - longest, kind: "idle" });
	}
	return samples;
}

/** A stretch of consecutive samples of one kind: [start, end) in monotonic ms. */
export interface Stretch {
	start: number;
	end: number;
}

/** Maximal runs of consecutive `kind` samples at least `minMs` long, longest first. */
export function stretches(samples: readonly Sample[], kind: SampleKind, minMs: number): Stretch[] {
	const found: Stretch[] = [];
	let open: Stretch | null = null;
	for (const s of samples) {
		if (s.kind === kind) {
			if (open) open.end = s.at + s.ms;
			else open = { start: s.at, end: s.at + s.ms };
		} else if (open) {
			found.push(open);
			open = null;
		}
	}
	if (open) found.push(open);
	return found.filter((r) => r.end - r.start >= minMs).sort((a, b) => b.end - b.start - (a.end - a.start));
}

/** Time of each kind inside a set of flights (overlaps counted once per flight), ms. */
export type KindMs = Record<SampleKind, number>;

const zero = (): KindMs => ({ gc: 0, js: 0, program: 0, idle: 0 });

/** Sampled time of each kind inside [from, to); the samples are in time order, so the first one is found by bisection. */
function within(samples: readonly Sample[], from: number, to: number, into: KindMs): void {
	let lo = 0;
	let hi = samples.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		const s = samples[mid] as Sample;
		if (s.at + s.ms <= from) lo = mid + 1;
		else hi = mid;
	}
	for (let i = lo; i < samples.length; i++) {
		const s = samples[i] as Sample;
		if (s.at >= to) break;
		into[s.kind] += Math.min(to, s.at + s.ms) - Math.max(from, s.at);
	}
}

const overlaps = (r: Stretch, from: number, to: number) => r.start < to && r.end > from;

export interface FlightShare {
	messages: number;
	/** Summed flight time of these messages, ms. */
	flightMs: number;
	/** Of it, what the runtime's thread was sampled doing. */
	byKind: KindMs;
	/** Messages in flight across at least one collection of `pauseMs` or more. */
	acrossPause: number;
}

export interface StallReport {
	/** Sampling interval asked of the profiler, µs. */
	samplingUs: number;
	/** A collection this long or longer counts as a pause. */
	pauseMs: number;
	/** The run's p99: the tail is the messages at or over it. */
	atLeastMs: number;
	tail: FlightShare;
	all: FlightShare;
	/** Over the whole profile: the thread's time by kind, ms. */
	runByKind: KindMs;
	/** The longest collections: [second of the run they began in, ms], at most ten. */
	longestPauses: Array<[number, number]>;
	/** [second of the run, ms collecting, ms busy (not idle)] for every second. */
	perSecond: Array<[number, number, number]>;
}

/**
 * Where the flights of the messages at or over p99 spent their time, beside all messages'
 * flights: if the tail is set by collections, its flights hold far more collecting than the
 * average flight, and most of them cross a pause.
 */
export function stallReport(
	samples: readonly Sample[],
	flights: ReadonlyArray<readonly [sentAt: number, latencyMs: number]>,
	atLeastMs: number,
	opts: { samplingUs: number; pauseMs: number },
): StallReport {
	const pauses = stretches(samples, "gc", opts.pauseMs);
	const share = (chosen: ReadonlyArray<readonly [number, number]>): FlightShare => {
		const byKind = zero();
		let flightMs = 0;
		let acrossPause = 0;
		for (const [sentAt, ms] of chosen) {
			flightMs += ms;
			within(samples, sentAt, sentAt + ms, byKind);
			if (pauses.some((p) => overlaps(p, sentAt, sentAt + ms))) acrossPause++;
		}
		return { messages: chosen.length, flightMs, byKind, acrossPause };
	};
	const first = flights.reduce((a, [at]) => Math.min(a, at), Number.POSITIVE_INFINITY);
	const origin = Number.isFinite(first) ? first : (samples[0]?.at ?? 0);
	const second = (at: number) => Math.floor((at - origin) / 1000);
	const runByKind = zero();
	const bySecond = new Map<number, [number, number]>();
	for (const s of samples) {
		runByKind[s.kind] += s.ms;
		const key = second(s.at);
		const [gc, busy] = bySecond.get(key) ?? [0, 0];
		bySecond.set(key, [gc + (s.kind === "gc" ? s.ms : 0), busy + (s.kind === "idle" ? 0 : s.ms)]);
	}
	return {
		...opts,
		atLeastMs,
		tail: share(flights.filter(([, ms]) => ms >= atLeastMs)),
		all: share(flights),
		runByKind,
		longestPauses: pauses.slice(0, 10).map((p) => [second(p.start), p.end - p.start]),
		perSecond: [...bySecond].sort(([a], [b]) => a - b).map(([s, [gc, busy]]) => [s, gc, busy]),
	};
}

/** "19 of 20 at or over p99 crossed a collection of ≥ 10 ms (4% of all); collecting 31% of their flights, 2% of all flights; longest 63 ms in second 12". */
export function describeStalls(r: StallReport): string {
	const pct = (n: number, of: number) => `${of > 0 ? ((100 * n) / of).toFixed(0) : "0"}%`;
	const longest = r.longestPauses[0];
	return (
		`${r.tail.acrossPause} of ${r.tail.messages} at or over p99 crossed a collection of ≥ ${r.pauseMs} ms ` +
		`(${pct(r.all.acrossPause, r.all.messages)} of all); collecting ${pct(r.tail.byKind.gc, r.tail.flightMs)} of their flights, ` +
		`${pct(r.all.byKind.gc, r.all.flightMs)} of all flights; ` +
		(longest ? `longest ${longest[1].toFixed(0)} ms in second ${longest[0]}` : "no pause")
	);
}

/** How the messages of a set fared against their client thread's own stalls. */
export interface ClientShare {
	messages: number;
	/** In flight across a stall of the thread that stamped their arrival. */
	acrossStall: number;
	/** Of those, across one a garbage collection of that thread explains. */
	acrossCollection: number;
}

/**
 * The load threads' side (`clientStalls` of each thread's report): the relay's clients are
 * the real SDK, which seals, opens and acks every message, while the floor's only write and
 * read frames. A thread whose event loop is held up (its own collection, or the OS giving its
 * core to another process) stamps every arrival that came meanwhile late, so a tail set that
 * way is the client's, not the server's.
 */
export interface ClientStallReport {
	/** A stall is the event loop held up at least this long. */
	lagMs: number;
	tail: ClientShare;
	all: ClientShare;
	/** Stalls of all threads, summed, ms. */
	stalledMs: number;
	/** The longest: [second of the run, ms, a collection's], at most ten. */
	longest: Array<[number, number, boolean]>;
}

export function clientStallReport(
	threads: ReadonlyArray<{ flights: ReadonlyArray<readonly [number, number]>; stalls: ReadonlyArray<readonly [number, number, boolean]> }>,
	atLeastMs: number,
	lagMs: number,
): ClientStallReport {
	const tail: ClientShare = { messages: 0, acrossStall: 0, acrossCollection: 0 };
	const all: ClientShare = { messages: 0, acrossStall: 0, acrossCollection: 0 };
	let first = Number.POSITIVE_INFINITY;
	for (const t of threads) for (const [at] of t.flights) first = Math.min(first, at);
	const found: Array<[number, number, boolean]> = [];
	let stalledMs = 0;
	for (const { flights, stalls } of threads) {
		for (const [start, ms, gc] of stalls) {
			stalledMs += ms;
			found.push([Math.floor((start - first) / 1000), ms, gc]);
		}
		for (const [sentAt, ms] of flights) {
			const crossed = stalls.filter(([start, d]) => start < sentAt + ms && start + d > sentAt);
			for (const share of ms >= atLeastMs ? [tail, all] : [all]) {
				share.messages++;
				if (crossed.length > 0) share.acrossStall++;
				if (crossed.some(([, , gc]) => gc)) share.acrossCollection++;
			}
		}
	}
	return { lagMs, tail, all, stalledMs, longest: found.sort((a, b) => b[1] - a[1]).slice(0, 10) };
}

/** "14 of 20 at or over p99 arrived in a stall of their client thread (9 a collection's; 3% of all); longest 80 ms". */
export function describeClientStalls(r: ClientStallReport): string {
	const pct = r.all.messages > 0 ? ((100 * r.all.acrossStall) / r.all.messages).toFixed(0) : "0";
	const longest = r.longest[0];
	return (
		`${r.tail.acrossStall} of ${r.tail.messages} at or over p99 were in flight across a stall of ≥ ${r.lagMs} ms of their client thread ` +
		`(${r.tail.acrossCollection} a collection's; ${pct}% of all messages); ` +
		(longest ? `longest ${longest[1].toFixed(0)} ms in second ${longest[0]}${longest[2] ? " (a collection)" : ""}` : "none")
	);
}

/** Cumulative counters of the server's main thread: [at (monotonic ms), ms on a CPU, ms runnable but waiting for one]. */
export type ScheduleSeries = ReadonlyArray<readonly [number, number, number]>;

export interface ThreadShare {
	messages: number;
	flightMs: number;
	/** Of the flights, the server's main thread on a CPU, and runnable but waiting for one; the rest it slept. */
	onCpuMs: number;
	waitingMs: number;
}

/**
 * How the server's main thread spent the flights of the tail and of all messages. On a CPU:
 * the server's own work (its isolates, local D1, the runtime); waiting for a CPU: the machine
 * was busy with other processes (the load threads, wrangler's proxy); asleep: the server
 * had nothing to do, so the message was elsewhere — in the kernel, or in a client.
 */
export interface ServerThreadReport {
	sampleMs: number;
	tail: ThreadShare;
	all: ThreadShare;
}

/** A cumulative counter at `at`, linear between the samples around it (clamped to the series). */
function counterAt(series: ScheduleSeries, at: number, column: 1 | 2): number {
	let lo = 0;
	let hi = series.length - 1;
	if (hi < 0) return 0;
	const first = series[0] as readonly [number, number, number];
	const last = series[hi] as readonly [number, number, number];
	if (at <= first[0]) return first[column];
	if (at >= last[0]) return last[column];
	while (hi - lo > 1) {
		const mid = (lo + hi) >> 1;
		if ((series[mid] as readonly [number, number, number])[0] <= at) lo = mid;
		else hi = mid;
	}
	const a = series[lo] as readonly [number, number, number];
	const b = series[hi] as readonly [number, number, number];
	return a[column] + ((b[column] - a[column]) * (at - a[0])) / Math.max(1e-9, b[0] - a[0]);
}

export function serverThreadReport(
	series: ScheduleSeries,
	flights: ReadonlyArray<readonly [number, number]>,
	atLeastMs: number,
	sampleMs: number,
): ServerThreadReport {
	const share = (chosen: ReadonlyArray<readonly [number, number]>): ThreadShare => {
		const s: ThreadShare = { messages: chosen.length, flightMs: 0, onCpuMs: 0, waitingMs: 0 };
		for (const [sentAt, ms] of chosen) {
			s.flightMs += ms;
			s.onCpuMs += counterAt(series, sentAt + ms, 1) - counterAt(series, sentAt, 1);
			s.waitingMs += counterAt(series, sentAt + ms, 2) - counterAt(series, sentAt, 2);
		}
		return s;
	};
	return { sampleMs, tail: share(flights.filter(([, ms]) => ms >= atLeastMs)), all: share(flights) };
}

/** "the server's main thread, over the flights of the 20 at or over p99: 12% on a CPU, 71% waiting for one (all: 20%, 3%)". */
export function describeServerThread(r: ServerThreadReport): string {
	const pct = (n: number, of: number) => `${of > 0 ? ((100 * n) / of).toFixed(0) : "0"}%`;
	return (
		`the server's main thread, over the flights of the ${r.tail.messages} at or over p99: ${pct(r.tail.onCpuMs, r.tail.flightMs)} on a CPU, ` +
		`${pct(r.tail.waitingMs, r.tail.flightMs)} waiting for one (all messages: ${pct(r.all.onCpuMs, r.all.flightMs)}, ${pct(r.all.waitingMs, r.all.flightMs)})`
	);
}
