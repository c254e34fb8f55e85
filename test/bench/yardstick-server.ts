/**
 * Runs the workerd yardsticks in workerd through Miniflare: the one-object chat
 * (one-object-chat.ts) and the minimal per-user relay (minimal-relay.ts). The runtime's own
 * socket, no dev proxy, the state where the relay's is (RAM unless asked otherwise).
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Miniflare } from "miniflare";
import { bundleEntry } from "./bundle.ts";
import { commandName, descendants, listeningPorts, rssBytes } from "./processes.ts";
import { type StateOn, stateDirectory } from "./relay-server.ts";

export interface Yardstick {
	/** ws://… — the floor's clients connect to `${url}/?id=…`. */
	url: string;
	stateOn: StateOn;
	/** The workerd process running it (Miniflare's child), whose memory and CPU are read as the relay's runtime's are. */
	pid: number;
	rss(): number | null;
	stop(): Promise<void>;
}

export interface OneObjectChat extends Yardstick {
	/** Messages the chat stored so far, and the SQLite rows that took. */
	usage(): Promise<ChatUsage>;
}

export interface ChatUsage {
	messages: number;
	rowsRead: number;
	rowsWritten: number;
}

async function startInWorkerd(
	entry: string,
	durableObjects: Record<string, { className: string; useSQLite: true }>,
	stateOn: StateOn,
	compatibilityDate: string,
): Promise<Yardstick & { httpUrl: URL }> {
	const scriptPath = await bundleEntry(entry);
	const state = stateDirectory(stateOn, tmpdir());
	const mf = new Miniflare({
		modules: true,
		scriptPath,
		compatibilityDate,
		host: "127.0.0.1",
		port: 0,
		durableObjects,
		durableObjectsPersist: state.dir,
	});
	const stop = async () => {
		await mf.dispose();
		rmSync(state.dir, { recursive: true, force: true });
	};
	try {
		const url = await mf.ready;
		// Miniflare does not name its workerd; it is the one below this process listening on the port.
		const port = Number(url.port);
		const pid = descendants(process.pid).find((p) => commandName(p) === "workerd" && listeningPorts(p).includes(port));
		if (pid === undefined) throw new Error(`cannot find the workerd listening on ${port} for ${entry}`);
		const rss = () => rssBytes(pid);
		return { url: `ws://${url.host}`, httpUrl: url, stateOn: state.stateOn, pid, rss, stop };
	} catch (err) {
		await stop().catch(() => undefined);
		throw err;
	}
}

export async function startOneObjectChat(stateOn: StateOn, compatibilityDate: string): Promise<OneObjectChat> {
	const { httpUrl, ...chat } = await startInWorkerd(
		"one-object-chat",
		{ ROOM: { className: "Room", useSQLite: true } },
		stateOn,
		compatibilityDate,
	);
	const usage = async () => (await (await fetch(new URL("/usage", httpUrl))).json()) as ChatUsage;
	return { ...chat, usage };
}

export async function startMinimalRelay(stateOn: StateOn, compatibilityDate: string): Promise<Yardstick> {
	const { httpUrl: _, ...relay } = await startInWorkerd(
		"minimal-relay",
		{ INBOX: { className: "Inbox", useSQLite: true } },
		stateOn,
		compatibilityDate,
	);
	return relay;
}
