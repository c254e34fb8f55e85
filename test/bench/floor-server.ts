/** Starts the floor relay (floor-relay.ts, bundled) as a child process, restarts and stops it. */
import { type ChildProcess, fork } from "node:child_process";
import { createInterface } from "node:readline";
import { rssBytes } from "./processes.ts";

const START_TIMEOUT_MS = 10_000;

export interface FloorServer {
	url: string;
	/** The current process's. */
	readonly pid: number;
	rss(): number | null;
	/** A full garbage collection in the relay, before its memory is read. */
	collect(): Promise<void>;
	/**
	 * A fresh process on the same port, for the next N: memory per socket is read from the RSS,
	 * and after an earlier N's sockets closed and its load ran, the old process's freed pages
	 * (kept by V8 after a collection) took the new sockets with no RSS growth — the figure came
	 * out at −0.8 to −7 KiB per socket at N = 100 and 1,000.
	 */
	restart(): Promise<void>;
	stop(): Promise<void>;
}

interface Child {
	child: ChildProcess;
	pid: number;
	port: number;
	exited: Promise<void>;
}

async function spawn(script: string, port: number): Promise<Child> {
	const child: ChildProcess = fork(script, [String(port)], { stdio: ["ignore", "pipe", "inherit", "ipc"], execArgv: ["--expose-gc"] });
	const pid = child.pid;
	if (pid === undefined || !child.stdout) throw new Error("the floor relay did not start");
	const lines = createInterface({ input: child.stdout });
	const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
	const listening = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error("the floor relay did not listen in time")), START_TIMEOUT_MS);
		child.once("exit", (code) => reject(new Error(`the floor relay exited with code ${code}`)));
		lines.once("line", (line) => {
			clearTimeout(timer);
			resolve((JSON.parse(line) as { port: number }).port);
		});
	});
	return { child, pid, port: listening, exited };
}

async function end({ child, exited }: Child): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.disconnect();
	const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
	await exited;
	clearTimeout(timer);
}

export async function startFloorServer(script: string): Promise<FloorServer> {
	let current = await spawn(script, 0);
	const { port } = current;
	return {
		url: `ws://127.0.0.1:${port}`,
		get pid() {
			return current.pid;
		},
		rss: () => rssBytes(current.pid),
		collect: () =>
			new Promise<void>((resolve) => {
				const { child } = current;
				const timer = setTimeout(resolve, 5000);
				child.once("message", () => {
					clearTimeout(timer);
					resolve();
				});
				child.send("gc");
			}),
		async restart() {
			await end(current);
			current = await spawn(script, port);
		},
		stop: () => end(current),
	};
}
