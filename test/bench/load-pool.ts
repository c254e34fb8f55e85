/**
 * The main thread's side of the load threads: starts them on the bundled load-worker, hands
 * out pairs round-robin, and runs a command on every thread at once.
 */
import { Worker } from "node:worker_threads";
import type { LoadCommand, LoadReply, LoadWorkerData, RunReport } from "./load-protocol.ts";

const COMMAND_TIMEOUT_MS = 5 * 60_000;

class LoadThread {
	private readonly worker: Worker;
	private pending: { resolve: (reply: LoadReply) => void; reject: (err: Error) => void } | null = null;
	private exited = false;

	constructor(script: string, data: LoadWorkerData) {
		this.worker = new Worker(script, { workerData: data });
		this.worker.on("message", (reply: LoadReply) => {
			const pending = this.pending;
			this.pending = null;
			pending?.resolve(reply);
		});
		this.worker.on("error", (err) => this.fail(err));
		this.worker.on("exit", (code) => {
			this.exited = true;
			this.fail(new Error(`load thread exited with code ${code}`));
		});
	}

	private fail(err: Error): void {
		const pending = this.pending;
		this.pending = null;
		pending?.reject(err);
	}

	async call(command: LoadCommand): Promise<{ report?: RunReport; ms: number }> {
		if (this.exited) throw new Error("load thread is gone");
		if (this.pending) throw new Error("load thread is busy");
		const reply = await new Promise<LoadReply>((resolve, reject) => {
			// Every operation bounds its own waits; this only keeps a wedged thread from hanging the run.
			const timer = setTimeout(
				() => this.fail(new Error(`load thread: ${command.op} took over ${COMMAND_TIMEOUT_MS / 60_000} min`)),
				COMMAND_TIMEOUT_MS,
			);
			this.pending = {
				resolve: (r) => {
					clearTimeout(timer);
					resolve(r);
				},
				reject: (e) => {
					clearTimeout(timer);
					reject(e);
				},
			};
			this.worker.postMessage(command);
		});
		if (!reply.ok) throw new Error(`load thread failed: ${reply.error}`);
		return reply;
	}

	async stop(): Promise<void> {
		if (this.exited) return;
		const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
		this.worker.postMessage({ op: "stop" } satisfies LoadCommand);
		const timer = setTimeout(() => void this.worker.terminate(), 5000);
		await exited;
		clearTimeout(timer);
	}
}

export class LoadPool {
	private readonly threads: LoadThread[];

	constructor(script: string, threads: number, data: LoadWorkerData) {
		this.threads = Array.from({ length: Math.max(1, threads) }, () => new LoadThread(script, data));
	}

	/** The thread that holds pair `pair`. */
	private owner(pair: number): LoadThread {
		return this.threads[pair % this.threads.length] as LoadThread;
	}

	private split(pairs: number[]): Map<LoadThread, number[]> {
		const byThread = new Map<LoadThread, number[]>();
		for (const pair of pairs) {
			const thread = this.owner(pair);
			byThread.set(thread, [...(byThread.get(thread) ?? []), pair]);
		}
		return byThread;
	}

	/** Run a command that takes a list of pairs on every thread that holds some of them. */
	async onPairs(pairs: number[], command: (own: number[]) => LoadCommand): Promise<RunReport[]> {
		const replies = await Promise.all([...this.split(pairs)].map(([thread, own]) => thread.call(command(own))));
		return replies.flatMap((r) => (r.report ? [r.report] : []));
	}

	/** Run a command on the one thread that holds `pair`. */
	async onPair(pair: number, command: LoadCommand): Promise<RunReport | undefined> {
		return (await this.owner(pair).call(command)).report;
	}

	/** Run a measuring command on the one thread that holds `pair`. */
	async measurePair(pair: number, command: LoadCommand): Promise<RunReport> {
		const report = await this.onPair(pair, command);
		if (!report) throw new Error(`${command.op} returned no report`);
		return report;
	}

	async all(command: LoadCommand): Promise<void> {
		await Promise.all(this.threads.map((t) => t.call(command)));
	}

	async stop(): Promise<void> {
		await Promise.all(this.threads.map((t) => t.stop()));
	}
}
