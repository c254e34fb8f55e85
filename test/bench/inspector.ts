/**
 * A minimal Chrome DevTools protocol client for workerd's inspector, which `wrangler dev`
 * opens for every worker of the runtime (ours is `core:user:<name>`, local D1 is `d1:db`).
 * Used for CPU profiles and V8's precise coverage (exact call counts per function).
 */
import WebSocket from "ws";

interface Target {
	id: string;
	webSocketDebuggerUrl: string;
}

export interface ProfileNode {
	id: number;
	callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
	hitCount?: number;
	children?: number[];
}

export interface CpuProfile {
	nodes: ProfileNode[];
	startTime: number;
	endTime: number;
	samples?: number[];
	timeDeltas?: number[];
}

export interface FunctionCoverage {
	functionName: string;
	ranges: Array<{ startOffset: number; endOffset: number; count: number }>;
}

export interface ScriptCoverage {
	scriptId: string;
	url: string;
	functions: FunctionCoverage[];
}

const CALL_TIMEOUT_MS = 20_000;

export class InspectorSession {
	private nextId = 1;
	private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
	/** Scripts the target has parsed (sent after Debugger.enable). */
	readonly scripts = new Map<string, string>();
	/** Execution contexts of the target (sent after Runtime.enable). */
	readonly contexts: number[] = [];

	private constructor(private readonly socket: WebSocket) {
		socket.on("message", (data) => {
			const message = JSON.parse(data.toString()) as {
				id?: number;
				result?: unknown;
				error?: { message: string };
				method?: string;
				params?: { scriptId: string; url: string; context?: { id: number } };
			};
			if (message.method === "Debugger.scriptParsed" && message.params) this.scripts.set(message.params.scriptId, message.params.url);
			if (message.method === "Runtime.executionContextCreated" && message.params?.context) this.contexts.push(message.params.context.id);
			if (message.id === undefined) return;
			const waiter = this.pending.get(message.id);
			this.pending.delete(message.id);
			if (message.error) waiter?.reject(new Error(message.error.message));
			else waiter?.resolve(message.result);
		});
		socket.on("close", () => {
			for (const waiter of this.pending.values()) waiter.reject(new Error("inspector closed"));
			this.pending.clear();
		});
	}

	/** Attach to the worker whose inspector id is `targetId`, or to the first target if none is named. */
	static async open(port: number, targetId?: string): Promise<InspectorSession> {
		const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(5000) });
		const targets = (await response.json()) as Target[];
		const target = targetId === undefined ? targets[0] : targets.find((t) => t.id === targetId);
		if (!target) throw new Error(`no inspector target ${targetId} (have ${targets.map((t) => t.id).join(", ")})`);
		const socket = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				socket.terminate();
				reject(new Error("the inspector did not accept the connection in time"));
			}, CALL_TIMEOUT_MS);
			socket.once("open", () => {
				clearTimeout(timer);
				resolve();
			});
			socket.once("error", (err) => {
				clearTimeout(timer);
				reject(err);
			});
		});
		return new InspectorSession(socket);
	}

	/** One protocol call; a target that does not answer within CALL_TIMEOUT_MS fails it. */
	call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
		const id = this.nextId++;
		return new Promise<T>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.pending.delete(id);
				reject(new Error(`inspector call ${method} timed out`));
			}, CALL_TIMEOUT_MS);
			this.pending.set(id, {
				resolve: (v) => {
					clearTimeout(timer);
					resolve(v as T);
				},
				reject: (e) => {
					clearTimeout(timer);
					reject(e);
				},
			});
			this.socket.send(JSON.stringify({ id, method, params }));
		});
	}

	/** Start counting calls of every function (and reset the counters). */
	async startCallCounts(): Promise<void> {
		await this.call("Profiler.enable");
		await this.call("Profiler.startPreciseCoverage", { callCount: true, detailed: false });
		await this.takeCallCounts();
	}

	/** Calls per function since the last take; counting goes on. */
	async takeCallCounts(): Promise<ScriptCoverage[]> {
		return (await this.call<{ result: ScriptCoverage[] }>("Profiler.takePreciseCoverage")).result;
	}

	async stopCallCounts(): Promise<void> {
		await this.call("Profiler.stopPreciseCoverage");
	}

	async startProfile(samplingIntervalUs = 200): Promise<void> {
		await this.call("Profiler.enable");
		await this.call("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
		await this.call("Profiler.start");
	}

	async stopProfile(): Promise<CpuProfile> {
		return (await this.call<{ profile: CpuProfile }>("Profiler.stop")).profile;
	}

	/** The source of every script the target has loaded, by script id. */
	async scriptSources(): Promise<Map<string, { url: string; source: string }>> {
		await this.call("Debugger.enable");
		const sources = new Map<string, { url: string; source: string }>();
		for (const [scriptId, url] of this.scripts) {
			try {
				const { scriptSource } = await this.call<{ scriptSource: string }>("Debugger.getScriptSource", { scriptId });
				sources.set(scriptId, { url, source: scriptSource });
			} catch {
				// Internal scripts may refuse.
			}
		}
		await this.call("Debugger.disable");
		return sources;
	}

	close(): void {
		this.socket.close();
	}
}
