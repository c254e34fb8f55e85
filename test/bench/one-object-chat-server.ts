/**
 * Runs the one-object chat (one-object-chat.ts) in workerd through Miniflare: the runtime's own
 * socket, no dev proxy, its state where the relay's is (RAM unless asked otherwise).
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Miniflare } from "miniflare";
import { bundleEntry } from "./bundle.ts";
import { commandName, descendants, listeningPorts, rssBytes } from "./processes.ts";
import { type StateOn, stateDirectory } from "./relay-server.ts";

export interface OneObjectChat {
	/** ws://… — the floor's clients connect to `${url}/?id=…`. */
	url: string;
	stateOn: StateOn;
	/** The workerd process running it (Miniflare's child), whose memory is read as the relay's runtime's is. */
	pid: number | null;
	rss(): number | null;
	/** Messages the chat stored so far, and the SQLite rows that took. */
	usage(): Promise<ChatUsage>;
	stop(): Promise<void>;
}

export interface ChatUsage {
	messages: number;
	rowsRead: number;
	rowsWritten: number;
}

export async function startOneObjectChat(stateOn: StateOn, compatibilityDate: string): Promise<OneObjectChat> {
	const scriptPath = await bundleEntry("one-object-chat");
	const state = stateDirectory(stateOn, tmpdir());
	const mf = new Miniflare({
		modules: true,
		scriptPath,
		compatibilityDate,
		host: "127.0.0.1",
		port: 0,
		durableObjects: { ROOM: { className: "Room", useSQLite: true } },
		durableObjectsPersist: state.dir,
	});
	const stop = async () => {
		await mf.dispose();
		rmSync(state.dir, { recursive: true, force: true });
	};
	try {
		const url = await mf.ready;
		const usage = async () => (await (await fetch(new URL("/usage", url))).json()) as ChatUsage;
		// Miniflare does not name its workerd; it is the one below this process listening on the chat's port.
		const port = Number(url.port);
		const pid = descendants(process.pid).find((p) => commandName(p) === "workerd" && listeningPorts(p).includes(port)) ?? null;
		const rss = () => (pid === null ? null : rssBytes(pid));
		return { url: `ws://${url.host}`, stateOn: state.stateOn, pid, rss, usage, stop };
	} catch (err) {
		await stop().catch(() => undefined);
		throw err;
	}
}
