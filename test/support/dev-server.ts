/**
 * The real relay for Node tests: `wrangler dev` as a child process with its own persist
 * directory, so D1 and Durable Object storage are files on disk that survive a restart.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 64 * 1024;

export interface DevServer {
	baseUrl: string;
	port: number;
	persistDir: string;
	/** What wrangler printed lately, for failure messages. */
	output(): string;
	/** Stop the server (SIGTERM to its whole process group, SIGKILL if it lingers); the state stays on disk. */
	stop(): Promise<void>;
	/** Stop, then start again on the same port and persist directory. */
	restart(): Promise<void>;
	/** Stop and delete the persist directory. */
	dispose(): Promise<void>;
}

export interface DevServerOptions {
	/** Extra `--var`s, e.g. to relax the rate limits for a test. */
	vars?: Record<string, string>;
}

/**
 * Limits of DESIGN §6 loosened so a test can chat at machine speed; the limits themselves
 * are tested inside workerd.
 */
export const RELAXED_LIMITS: Record<string, string> = {
	RATE_LIMIT_COUNT: "10000",
	RATE_LIMIT_WINDOW_SECONDS: "1",
	QUOTA_UNTRUSTED_PER_DAY: "10000",
	QUOTA_TRUSTED_PER_DAY: "10000",
	STARTING_CREDITS: "1000000",
	CONTACT_REQUESTS_PER_HOUR: "10000",
	SUSPEND_AFTER_VIOLATIONS: "10000",
};

const run = promisify(execFile);

/** A property of a thrown value, as text (execFile's errors carry stdout and stderr). */
const field = (err: unknown, name: string): string =>
	typeof err === "object" && err !== null && name in err ? String(Reflect.get(err, name)) : "";

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
		});
	});
}

/** Whether any live (non-zombie) process is left in the group; /proc tells zombies apart, kill(0) does not. */
function groupAlive(pgid: number): boolean {
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

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pgid, signal);
	} catch {
		// Already gone.
	}
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await condition()) return true;
		await new Promise((resolve) => setTimeout(resolve, intervalMs));
	}
	return condition();
}

/**
 * wrangler serves client/dist as assets and refuses to start without it. `npm test` builds it
 * first; a direct vitest run builds it here, once, under a lock, since test files start in parallel
 * and the build script empties the directory before writing it.
 */
async function ensureClientBuilt(): Promise<void> {
	const built = path.join(ROOT, "client/dist/index.html");
	if (existsSync(built)) return;
	mkdirSync(path.join(ROOT, ".wrangler"), { recursive: true });
	const lock = path.join(ROOT, ".wrangler/client-build.lock");
	let fd: number;
	try {
		fd = openSync(lock, "wx");
	} catch {
		if (await waitUntil(() => existsSync(built) && !existsSync(lock), READY_TIMEOUT_MS)) return;
		throw new Error(`client/dist was not built within ${READY_TIMEOUT_MS / 1000} s; remove ${lock} if no build is running.`);
	}
	try {
		await run(process.execPath, [path.join(ROOT, "client/build.mjs")], { cwd: ROOT });
	} finally {
		closeSync(fd);
		rmSync(lock, { force: true });
	}
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
	await ensureClientBuilt();
	const persistDir = mkdtempSync(path.join(tmpdir(), "sm-dev-"));
	try {
		await run(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], {
			cwd: ROOT,
			timeout: READY_TIMEOUT_MS,
			env: { ...process.env, CI: "true" },
		});
	} catch (err) {
		throw new Error(`D1 migrations failed: ${field(err, "message")}\n${field(err, "stdout")}\n${field(err, "stderr")}`);
	}
	const port = await freePort();
	const baseUrl = `http://127.0.0.1:${port}`;
	const vars = { AUTH_SECRET: randomBytes(30).toString("base64url"), ENVIRONMENT: "development", ...opts.vars };
	const args = [
		WRANGLER,
		"dev",
		"--port",
		String(port),
		"--ip",
		"127.0.0.1",
		"--persist-to",
		persistDir,
		"--show-interactive-dev-session=false",
		...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
	];

	let child: ChildProcess | null = null;
	let output = "";
	const append = (chunk: Buffer) => {
		output = (output + chunk.toString("utf8")).slice(-OUTPUT_KEPT);
	};
	// A test run that dies without afterAll must not leave workerd holding the port.
	const killOnExit = () => child?.pid !== undefined && signalGroup(child.pid, "SIGKILL");
	process.on("exit", killOnExit);

	async function answers(): Promise<boolean> {
		try {
			const response = await fetch(`${baseUrl}/api/auth/challenge`, { method: "POST", body: "{}", signal: AbortSignal.timeout(2000) });
			await response.body?.cancel();
			return response.status === 200;
		} catch {
			return false;
		}
	}

	async function start(): Promise<void> {
		// Detached: the child leads its own process group, so stop() reaches workerd too.
		const proc = spawn(process.execPath, args, {
			cwd: ROOT,
			detached: true,
			stdio: ["ignore", "pipe", "pipe"],
			env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
		});
		child = proc;
		proc.stdout?.on("data", append);
		proc.stderr?.on("data", append);
		let exited = false;
		proc.once("exit", () => {
			exited = true;
		});
		const up = await waitUntil(async () => exited || (await answers()), READY_TIMEOUT_MS, 200);
		if (!up || exited) {
			await stop();
			throw new Error(
				`wrangler dev on ${baseUrl} ${exited ? "exited" : `did not answer within ${READY_TIMEOUT_MS / 1000} s`}. Output:\n${output}`,
			);
		}
	}

	async function stop(): Promise<void> {
		const proc = child;
		child = null;
		if (proc?.pid === undefined) return;
		const pgid = proc.pid;
		signalGroup(pgid, "SIGTERM");
		if (!(await waitUntil(() => !groupAlive(pgid), STOP_TIMEOUT_MS))) {
			signalGroup(pgid, "SIGKILL");
			await waitUntil(() => !groupAlive(pgid), STOP_TIMEOUT_MS);
		}
	}

	await start();
	return {
		baseUrl,
		port,
		persistDir,
		output: () => output,
		stop,
		async restart() {
			await stop();
			await start();
		},
		async dispose() {
			await stop();
			process.off("exit", killOnExit);
			rmSync(persistDir, { recursive: true, force: true });
		},
	};
}
