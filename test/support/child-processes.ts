/**
 * What the Node test server (dev-server.ts) and the benchmark's server (test/bench/) both
 * need to run `wrangler dev` as a child: a free port, its process group stopped for good, a
 * polling wait, and the client build wrangler serves.
 */
import { execFile } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { promisify } from "node:util";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const BUILD_TIMEOUT_MS = 60_000;

export const run = promisify(execFile);

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port"))));
		});
	});
}

/** Whether any live (non-zombie) process is left in the group; /proc tells zombies apart, kill(0) does not. */
export function groupAlive(pgid: number): boolean {
	if (!existsSync("/proc")) {
		try {
			process.kill(-pgid, 0);
			return true;
		} catch {
			return false;
		}
	}
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${entry}/stat`, "utf8");
		} catch {
			continue;
		}
		// Fields after the command name, which is in parentheses and may contain spaces.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		if (fields[0] !== "Z" && Number(fields[2]) === pgid) return true;
	}
	return false;
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pgid, signal);
	} catch {
		// Already gone.
	}
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await condition()) return true;
		await new Promise((resolve) => setTimeout(resolve, intervalMs));
	}
	return condition();
}

/** SIGTERM to the group, SIGKILL if it is still there after `timeoutMs`. */
export async function stopGroup(pgid: number, timeoutMs: number): Promise<void> {
	signalGroup(pgid, "SIGTERM");
	if (await waitUntil(() => !groupAlive(pgid), timeoutMs)) return;
	signalGroup(pgid, "SIGKILL");
	await waitUntil(() => !groupAlive(pgid), timeoutMs);
}

/**
 * wrangler serves client/dist as assets and refuses to start without it. `npm test` builds it
 * first; a direct run builds it here, once, under a lock, since test files start in parallel
 * and the build script empties the directory before writing it.
 */
export async function ensureClientBuilt(): Promise<void> {
	const built = path.join(ROOT, "client/dist/index.html");
	if (existsSync(built)) return;
	mkdirSync(path.join(ROOT, ".wrangler"), { recursive: true });
	const lock = path.join(ROOT, ".wrangler/client-build.lock");
	let fd: number;
	try {
		fd = openSync(lock, "wx");
	} catch {
		if (await waitUntil(() => existsSync(built) && !existsSync(lock), BUILD_TIMEOUT_MS)) return;
		throw new Error(`client/dist was not built within ${BUILD_TIMEOUT_MS / 1000} s; remove ${lock} if no build is running.`);
	}
	try {
		await run(process.execPath, [path.join(ROOT, "client/build.mjs")], { cwd: ROOT });
	} finally {
		closeSync(fd);
		rmSync(lock, { force: true });
	}
}

/** How often a server start that lost the race for its free port is tried. */
export const PORT_RACE_ATTEMPTS = 3;

/** Whether a start failed because another process bound its port first. */
export function lostPortRace(err: unknown): boolean {
	return err instanceof Error && /Address already in use|EADDRINUSE/.test(err.message);
}
