/** What the benchmark's main thread and its load threads (load-worker.ts) say to each other. */
import type { Samples } from "./recorder.ts";

export type RelayKind = "relay" | "floor";

/** A load thread's event loop held up this long or longer is a client stall (`traceClient`). */
export const CLIENT_LAG_MS = 5;

export interface LoadWorkerData {
	kind: RelayKind;
	/** The relay's base URL (http://…) or the floor's WebSocket URL (ws://…). */
	url: string;
	textBytes: number;
	/** Length of the relay's `send` frame, which the floor's frames match. */
	frameLength: number;
	/** Concurrent registrations and connections per thread. */
	concurrency: number;
	/** Floor clients ack each message they get (`{"ack": id}`), as the minimal per-user relay expects. */
	acks?: boolean;
}

/** Pairs are numbered across all threads; each thread holds the pairs assigned to it. */
export type LoadCommand =
	| { op: "addPairs"; pairs: number[]; prefix: string }
	| { op: "connect"; pairs: number[] }
	/** Close the connected devices of `pairs` (all of them without), for good. */
	| { op: "disconnect"; pairs?: number[] }
	/** One message at a time from the first device of `pair` to the second, each after the previous arrived (and was confirmed). */
	| { op: "sequential"; pair: number; count: number; gapMs: number; timeoutMs: number }
	/** Every device of `pairs` sends to its peer at Poisson-distributed times, `ratePerDevice` a second. */
	| { op: "paced"; pairs: number[]; ratePerDevice: number; durationMs: number; drainMs: number; traceClient?: boolean }
	/** Every device of `pairs` keeps `window` messages on their way to its peer. */
	| { op: "saturate"; pairs: number[]; window: number; durationMs: number; drainMs: number }
	/** One message per pair, pair after pair. */
	| { op: "wake"; pairs: number[]; timeoutMs: number }
	/** An HTTP request answered by the Durable Object of the pair's first device, which wakes it without messaging anyone. */
	| { op: "touch"; pair: number }
	/** Every device of these pairs reads its credit history, which writes its account's waiting charges to D1 first. */
	| { op: "flushCredits"; pairs: number[] }
	| { op: "stop" };

export interface RunReport {
	samples: Samples;
	/** Sends scheduled by the workload (the offered load). */
	scheduled: number;
	/** Wall time of the sending part, ms. */
	elapsedMs: number;
	/** Share of the time this thread's event loop was busy (1 = the client was the bottleneck). */
	clientBusy: number;
	opened: number;
	failed: number;
	undecryptable: number;
	errors: string[];
	/**
	 * With `traceClient`: the times this thread's event loop was held up, as [start, ms, by a
	 * garbage collection] on the monotonic clock of the send and arrival times. A message whose
	 * arrival came in one was stamped late by the client, not delayed by the server.
	 */
	clientStalls?: Array<[number, number, boolean]>;
}

export type LoadReply = { ok: true; report?: RunReport; ms: number } | { ok: false; error: string };
