/**
 * What 1,000,000 delivered text messages cost on Cloudflare's Workers Paid price list
 * (cloudflare-prices.json, dated and sourced), from what the benchmark counted per message:
 * Durable Object requests (RPC calls, fetches, alarms, and incoming WebSocket messages at
 * their 20:1 ratio), SQLite rows read and written as the SQL cursor reports them, D1 rows
 * from its results' meta, and duration. Pure: the counting is in hot-path-probe.ts.
 *
 * Duration cannot be read from the local runtime (it does not bill), so it is an upper bound:
 * every billed event of a message is taken to last as long as the message's whole trip (the
 * paced p50, send → recipient's socket), at the object's billed 128 MB. An object that waits
 * for nothing is not billed (hibernation-eligible), whatever the runtime does with it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./bundle.ts";

export interface PriceList {
	asOf: string;
	plan: string;
	currency: string;
	sources: Record<string, string>;
	workers: { requestsPerMillion: number; cpuMsPerMillion: number };
	durableObjects: {
		requestsPerMillion: number;
		incomingWebSocketMessagesPerRequest: number;
		gbSecondsPerMillion: number;
		memoryGb: number;
		rowsReadPerMillion: number;
		rowsWrittenPerMillion: number;
		storageGbMonth: number;
	};
	d1: { rowsReadPerMillion: number; rowsWrittenPerMillion: number; storageGbMonth: number };
	r2: { classAPerMillion: number; classBPerMillion: number; storageGbMonth: number };
}

export const loadPrices = (): PriceList =>
	JSON.parse(readFileSync(path.join(ROOT, "test/bench/cloudflare-prices.json"), "utf8")) as PriceList;

/** Billable units per delivered message. */
export interface MessageUsage {
	/** WebSocket frames the objects received (the send and the ack). */
	webSocketMessagesIn: number;
	/** Other billed Durable Object requests: RPC calls, fetches, alarms. */
	requests: number;
	/** Billed events (frames in + requests), for the duration bound. */
	events: number;
	/** Upper bound of one event's wall time, ms. */
	eventMs: number;
	rowsRead: number;
	rowsWritten: number;
	d1RowsRead: number;
	d1RowsWritten: number;
	/** Worker (not object) requests per message: 0 on an open WebSocket. */
	workerRequests: number;
	r2ClassA: number;
	r2ClassB: number;
}

export interface CostLine {
	item: string;
	/** Units per message, as counted. */
	perMessage: number;
	/** USD for 1,000,000 messages. */
	perMillion: number;
}

export interface Cost {
	lines: CostLine[];
	/** USD for 1,000,000 delivered messages. */
	perMillion: number;
}

export function costPerMillion(u: MessageUsage, p: PriceList): Cost {
	const durationGbS = u.events * (u.eventMs / 1000) * p.durableObjects.memoryGb;
	const lines: CostLine[] = [
		{
			item: "DO requests: incoming WebSocket messages (20:1)",
			perMessage: u.webSocketMessagesIn,
			perMillion: (u.webSocketMessagesIn / p.durableObjects.incomingWebSocketMessagesPerRequest) * p.durableObjects.requestsPerMillion,
		},
		{
			item: "DO requests: RPC calls, fetches, alarms",
			perMessage: u.requests,
			perMillion: u.requests * p.durableObjects.requestsPerMillion,
		},
		{ item: "DO duration, GB-s (upper bound)", perMessage: durationGbS, perMillion: durationGbS * p.durableObjects.gbSecondsPerMillion },
		{
			item: "DO SQLite rows written (each setAlarm() is one)",
			perMessage: u.rowsWritten,
			perMillion: u.rowsWritten * p.durableObjects.rowsWrittenPerMillion,
		},
		{ item: "DO SQLite rows read", perMessage: u.rowsRead, perMillion: u.rowsRead * p.durableObjects.rowsReadPerMillion },
		{ item: "D1 rows written", perMessage: u.d1RowsWritten, perMillion: u.d1RowsWritten * p.d1.rowsWrittenPerMillion },
		{ item: "D1 rows read", perMessage: u.d1RowsRead, perMillion: u.d1RowsRead * p.d1.rowsReadPerMillion },
		{ item: "Worker requests", perMessage: u.workerRequests, perMillion: u.workerRequests * p.workers.requestsPerMillion },
		{ item: "R2 class A operations", perMessage: u.r2ClassA, perMillion: u.r2ClassA * p.r2.classAPerMillion },
		{ item: "R2 class B operations", perMessage: u.r2ClassB, perMillion: u.r2ClassB * p.r2.classBPerMillion },
	];
	// USD per million units × units per message = USD per million messages.
	return { lines, perMillion: lines.reduce((a, l) => a + l.perMillion, 0) };
}
