/**
 * Looks inside the running worker without changing its code, through wrangler's inspector
 * proxy (Chrome DevTools protocol):
 *
 * - D1 round trips: a never-pausing breakpoint (a condition that records and returns false,
 *   as DevTools' logpoints do) on `_send` of the runtime's D1 client (`cloudflare-internal:d1-api`),
 *   through which every `first/all/run/raw/batch/exec` goes. Each hit is one round trip; the
 *   SQL is kept.
 * - Durable Object SQL statements: the same kind of breakpoint on the first line of
 *   `UserRelay.webSocketMessage` wraps `SqlStorage.prototype.exec` once, in place, with a
 *   counter by statement text, and `setAlarm`, which is billed as one row written.
 * - A CPU profile (V8 sampling profiler), attributed to source modules through the comments
 *   esbuild leaves in wrangler's unminified bundle (`// worker/relay/message-queue.ts`).
 *
 * - Durable Object constructions: the same kind of breakpoint on UserRelay's constructor, to
 *   tell whether a message woke its objects from hibernation.
 *
 * Breakpoints and the wrapper cost time of their own, so the counting runs in its own phase,
 * after every latency measurement (the SQL wrapper stays until the runtime restarts).
 */
import { type CpuProfile, InspectorSession } from "./inspector.ts";

const COUNTER = "__benchProbe";

const INIT = `(globalThis.${COUNTER} ??= { sql: new Map(), d1: new Map(), constructed: 0, names: [], rows: new Map(), cursors: [], d1Rows: new Map(), events: {} })`;

/**
 * A cursor's rowsRead/rowsWritten grow while it is read: they are added to the totals once 32
 * newer statements ran (by then the event that ran it has read it), or when the counts are taken.
 */
const SETTLE_CURSORS = `(probe, keep) => {
	while (probe.cursors.length > keep) {
		const [query, cursor] = probe.cursors.shift();
		const rows = probe.rows.get(query) ?? { read: 0, written: 0 };
		rows.read += cursor.rowsRead;
		rows.written += cursor.rowsWritten;
		probe.rows.set(query, rows);
	}
}`;

/** Evaluated at the first line of an event handler or RPC method: counts the billed request. */
const countEvent = (name: string) =>
	`(((p) => { p.events[${JSON.stringify(name)}] = (p.events[${JSON.stringify(name)}] ?? 0) + 1; })(${INIT}), false)`;

const RECORD_D1 = `(() => {
	const probe = ${INIT};
	const text = String(Array.isArray(query) ? query.join(" ; ") : query);
	probe.d1.set(text, (probe.d1.get(text) ?? 0) + 1);
	return false;
})()`;

/** Evaluated in the constructor's scope: `ctx` is the object's state, and its id carries the name it is addressed by. */
const COUNT_CONSTRUCTION = `(${INIT}.constructed++, ${INIT}.names.push(ctx.id.name ?? null), false)`;

const WRAP_SQL = `(() => {
	const probe = ${INIT};
	probe.events.webSocketMessage = (probe.events.webSocketMessage ?? 0) + 1;
	if (probe.wrapped || !this || !this.ctx) return false;
	const settle = ${SETTLE_CURSORS};
	const proto = Object.getPrototypeOf(this.ctx.storage.sql);
	const exec = proto.exec;
	proto.exec = function (query, ...bindings) {
		probe.sql.set(query, (probe.sql.get(query) ?? 0) + 1);
		const cursor = exec.call(this, query, ...bindings);
		probe.cursors.push([query, cursor]);
		settle(probe, 32);
		return cursor;
	};
	// D1's rows as its results' meta reports them (what D1 bills): the credit flush is a batch.
	const addMeta = (text, results) => {
		const rows = probe.d1Rows.get(text) ?? { read: 0, written: 0 };
		for (const r of Array.isArray(results) ? results : [results]) {
			rows.read += Number(r?.meta?.rows_read ?? 0);
			rows.written += Number(r?.meta?.rows_written ?? 0);
		}
		probe.d1Rows.set(text, rows);
		return results;
	};
	const textOf = (statement) => String(statement?.statement ?? "?");
	const db = this.env && this.env.DB;
	if (db) {
		const dbProto = Object.getPrototypeOf(db);
		const batch = dbProto.batch;
		dbProto.batch = async function (statements, ...rest) {
			return addMeta(statements.map(textOf).join(" ; "), await batch.call(this, statements, ...rest));
		};
		const stmtProto = Object.getPrototypeOf(db.prepare("SELECT 1"));
		for (const name of ["run", "all"]) {
			const method = stmtProto[name];
			stmtProto[name] = async function (...args) { return addMeta(textOf(this), await method.apply(this, args)); };
		}
	}
	// Cloudflare bills each setAlarm() as one row written; the SQL cursors do not see it.
	const storageProto = Object.getPrototypeOf(this.ctx.storage);
	const setAlarm = storageProto.setAlarm;
	storageProto.setAlarm = function (...args) {
		const rows = probe.rows.get(${JSON.stringify("setAlarm() (billed as a row written)")}) ?? { read: 0, written: 0 };
		rows.written += 1;
		probe.rows.set(${JSON.stringify("setAlarm() (billed as a row written)")}, rows);
		return setAlarm.apply(this, args);
	};
	probe.wrapped = true;
	return false;
})()`;

/** The UserRelay methods that are billed requests on the message path, besides WebSocket frames. */
const COUNTED_METHODS = ["async fetch(request) {", "async alarm() {", "deliver(item) {", "receipt(frame) {"] as const;

export interface ProbeCounts {
	/** Round trips to D1 by SQL (a batch is one round trip; its statements joined with " ; "). */
	d1: Record<string, number>;
	/** Durable Object SQL statements by text. */
	sql: Record<string, number>;
	/** Rows read and written by statement text, as the SQL cursor reports them (what is billed). */
	rows: Record<string, { read: number; written: number }>;
	/** D1 rows by SQL (a batch's statements joined with " ; "), from the meta of its results. */
	d1Rows: Record<string, { read: number; written: number }>;
	/** Billed events by kind: WebSocket frames received, fetches, alarms, RPC calls (deliver, receipt). */
	events: Record<string, number>;
}

export interface ModuleTime {
	module: string;
	ms: number;
	share: number;
}

export interface FunctionTime {
	fn: string;
	module: string;
	ms: number;
	share: number;
}

export interface ProfileSummary {
	/** Wall time the profile covers. */
	totalMs: number;
	/** Time the worker's thread was idle. */
	idleMs: number;
	byModule: ModuleTime[];
	byFunction: FunctionTime[];
}

const RELAY_CLASS = "var UserRelay = class extends DurableObject";

export class HotPathProbe {
	private bundle: { scriptId: string; source: string } | null = null;
	private d1Client: { scriptId: string; source: string } | null = null;

	private constructor(private readonly session: InspectorSession) {}

	static async attach(workerInspectorPort: number): Promise<HotPathProbe> {
		return new HotPathProbe(await InspectorSession.open(workerInspectorPort));
	}

	private async findScripts(): Promise<{ bundle: { scriptId: string; source: string }; d1: { scriptId: string; source: string } }> {
		if (!this.bundle || !this.d1Client) {
			for (const [scriptId, { url, source }] of await this.session.scriptSources()) {
				if (url === "cloudflare-internal:d1-api") this.d1Client = { scriptId, source };
				if (source.includes(RELAY_CLASS)) this.bundle = { scriptId, source };
			}
		}
		if (!this.bundle) throw new Error("cannot find the worker bundle with the UserRelay class");
		if (!this.d1Client) throw new Error("cannot find the runtime's D1 client");
		return { bundle: this.bundle, d1: this.d1Client };
	}

	/** A counting breakpoint on the first line after `needle` (a function's opening line). */
	private async breakAfter(script: { scriptId: string; source: string }, needle: string, condition: string, from = 0): Promise<void> {
		const at = script.source.indexOf(needle, from);
		if (at < 0) throw new Error(`cannot find ${needle} in the worker`);
		const lineNumber = script.source.slice(0, at).split("\n").length;
		await this.session.call("Debugger.setBreakpoint", { location: { scriptId: script.scriptId, lineNumber }, condition });
	}

	/** Count Durable Object constructions until stopWatching(); true once counting. */
	async watchConstructions(): Promise<true> {
		const { bundle } = await this.findScripts();
		await this.session.call("Debugger.enable");
		// After `super()`: V8 evaluating a condition on the line of a derived constructor's super() call
		// makes that call run twice ("Super constructor may only be called once").
		await this.breakAfter(bundle, "super(ctx, env);", COUNT_CONSTRUCTION, bundle.source.indexOf(RELAY_CLASS));
		return true;
	}

	async constructions(): Promise<number> {
		return Number(await this.evaluate(`${INIT}.constructed`));
	}

	/** The `ctx.id.name` each counted construction was given (null where the runtime gave none). */
	async constructedNames(): Promise<Array<string | null>> {
		return JSON.parse(String(await this.evaluate(`JSON.stringify(${INIT}.names)`))) as Array<string | null>;
	}

	/** Remove every breakpoint (the SQL wrapper, once installed, stays). */
	async stopWatching(): Promise<void> {
		await this.session.call("Debugger.disable");
	}

	/** Set the counting breakpoints; counting starts with the next D1 call and the next WebSocket frame. */
	async startCounting(): Promise<void> {
		const { bundle, d1 } = await this.findScripts();
		await this.session.call("Debugger.enable");
		await this.breakAfter(d1, "async _send(", RECORD_D1);
		const relayAt = bundle.source.indexOf(RELAY_CLASS);
		await this.breakAfter(bundle, "async webSocketMessage(", WRAP_SQL, relayAt);
		for (const method of COUNTED_METHODS) {
			await this.breakAfter(bundle, method, countEvent(method.replace(/^async /, "").replace(/\(.*$/, "")), relayAt);
		}
		await this.resetCounts();
	}

	async resetCounts(): Promise<void> {
		await this.evaluate(
			`((p) => { (${SETTLE_CURSORS})(p, 0); p.sql.clear(); p.d1.clear(); p.rows.clear(); p.d1Rows.clear(); p.events = {}; return true; })(${INIT})`,
		);
	}

	async counts(): Promise<ProbeCounts> {
		const text = await this.evaluate(
			`((p) => { (${SETTLE_CURSORS})(p, 0); return JSON.stringify({ d1: Object.fromEntries(p.d1), sql: Object.fromEntries(p.sql), rows: Object.fromEntries(p.rows), d1Rows: Object.fromEntries(p.d1Rows), events: p.events }); })(${INIT})`,
		);
		return JSON.parse(String(text)) as ProbeCounts;
	}

	/** Whether the SQL counter is in place (it is installed by the first WebSocket frame after startCounting). */
	async counting(): Promise<boolean> {
		return (await this.evaluate(`Boolean(globalThis.${COUNTER}?.wrapped)`)) === true;
	}

	private samplingIntervalUs = 0;

	async startProfile(samplingIntervalUs: number): Promise<void> {
		this.samplingIntervalUs = samplingIntervalUs;
		await this.session.startProfile(samplingIntervalUs);
	}

	async stopProfile(): Promise<{ profile: CpuProfile; summary: ProfileSummary }> {
		const profile = await this.session.stopProfile();
		const { bundle } = await this.findScripts();
		return { profile, summary: summarizeProfile(profile, bundle, this.samplingIntervalUs / 1000) };
	}

	private async evaluate(expression: string): Promise<unknown> {
		if (this.session.contexts.length === 0) {
			await this.session.call("Runtime.disable");
			await this.session.call("Runtime.enable");
			for (let i = 0; i < 50 && this.session.contexts.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
		}
		const contextId = this.session.contexts.at(-1);
		if (contextId === undefined) throw new Error("the worker has no execution context to evaluate in");
		const { result, exceptionDetails } = await this.session.call<{
			result: { value?: unknown };
			exceptionDetails?: { text: string };
		}>("Runtime.evaluate", { expression, returnByValue: true, contextId });
		if (exceptionDetails) throw new Error(`inspector evaluate failed: ${exceptionDetails.text}`);
		return result.value;
	}

	close(): void {
		this.session.close();
	}
}

/** Module boundaries of an esbuild bundle: `// path/to/module.ts` comment lines. */
function moduleMap(source: string): Array<[number, string]> {
	const marks: Array<[number, string]> = [];
	source.split("\n").forEach((line, i) => {
		const match = /^\/\/ (\S+\.(?:ts|js|mjs))$/.exec(line);
		if (match?.[1]) marks.push([i, match[1]]);
	});
	return marks;
}

function moduleAt(marks: Array<[number, string]>, line: number): string {
	let found = "(bundle)";
	for (const [start, name] of marks) {
		if (start > line) break;
		found = name;
	}
	return found;
}

/**
 * Self time by source module and by function, from the profile's samples. Each sample lasts
 * until the next but at most twice the sampling interval (`intervalMs`): workerd samples only
 * while a thread holds the isolate, so a longer gap is the isolate idle. Until 2026-12-07
 * each sample was charged the whole gap before it, which put an event's idle wait on the
 * first function it ran (`sendNow`, the first statement of an event).
 */
export function summarizeProfile(
	profile: CpuProfile,
	bundle: { scriptId: string; source: string } | null,
	intervalMs: number,
): ProfileSummary {
	const marks = bundle ? moduleMap(bundle.source) : [];
	const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
	const timeByNode = new Map<number, number>();
	const samples = profile.samples ?? [];
	const deltas = profile.timeDeltas ?? [];
	const longest = 2 * intervalMs;
	let unsampledMs = 0;
	for (let i = 0; i < samples.length; i++) {
		const id = samples[i] as number;
		const gap = (deltas[i + 1] ?? 0) / 1000;
		timeByNode.set(id, (timeByNode.get(id) ?? 0) + Math.min(gap, longest));
		unsampledMs += Math.max(0, gap - longest);
	}
	const byModule = new Map<string, number>();
	const byFunction = new Map<string, { fn: string; module: string; ms: number }>();
	let totalMs = unsampledMs;
	let idleMs = unsampledMs;
	for (const [id, ms] of timeByNode) {
		const frame = nodes.get(id)?.callFrame;
		if (!frame) continue;
		totalMs += ms;
		const fn = frame.functionName || "(anonymous)";
		if (fn === "(idle)") {
			idleMs += ms;
			continue;
		}
		let module: string;
		if (bundle && frame.scriptId === bundle.scriptId) module = moduleAt(marks, frame.lineNumber);
		else if (frame.url) module = frame.url;
		// Native code: SQL storage (`exec`, `toArray`…), the garbage collector, `(program)`.
		else module = `(native) ${fn}`;
		byModule.set(module, (byModule.get(module) ?? 0) + ms);
		const key = `${fn}@${module}`;
		const entry = byFunction.get(key) ?? { fn, module, ms: 0 };
		entry.ms += ms;
		byFunction.set(key, entry);
	}
	const busy = Math.max(1e-9, totalMs - idleMs);
	return {
		totalMs,
		idleMs,
		byModule: [...byModule].map(([module, ms]) => ({ module, ms, share: ms / busy })).sort((a, b) => b.ms - a.ms),
		byFunction: [...byFunction.values()].map((f) => ({ ...f, share: f.ms / busy })).sort((a, b) => b.ms - a.ms),
	};
}
