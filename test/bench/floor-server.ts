/** Starts the floor relay (floor-relay.ts, bundled) as a child process and stops it. */
import { type ChildProcess, fork } from "node:child_process";
import { createInterface } from "node:readline";
import { rssBytes } from "./processes.ts";

const START_TIMEOUT_MS = 10_000;

export interface FloorServer {
	url: string;
	pid: number;
	rss(): number | null;
	/** A full garbage collection in the relay, before its memory is read. */
	collect(): Promise<void>;
	stop(): Promise<void>;
}

export async function startFloorServer(script: string): Promise<FloorServer> {
	const child: ChildProcess = fork(script, [], { stdio: ["ignore", "pipe", "inherit", "ipc"], execArgv: ["--expose-gc"] });
	const pid = child.pid;
	if (pid === undefined || !child.stdout) throw new Error("the floor relay did not start");
	const lines = createInterface({ input: child.stdout });
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error("the floor relay did not listen in time")), START_TIMEOUT_MS);
		child.once("exit", (code) => reject(new Error(`the floor relay exited with code ${code}`)));
		lines.once("line", (line) => {
			clearTimeout(timer);
			resolve((JSON.parse(line) as { port: number }).port);
		});
	});
	const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
	return {
		url: `ws://127.0.0.1:${port}`,
		pid,
		rss: () => rssBytes(pid),
		collect: () =>
			new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, 5000);
				child.once("message", () => {
					clearTimeout(timer);
					resolve();
				});
				child.send("gc");
			}),
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null) return;
			child.disconnect();
			const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
			await exited;
			clearTimeout(timer);
		},
	};
}
