/**
 * The real relay for Node tests: `wrangler dev` as a child process with its own persist
 * directory, so D1 and Durable Object storage are files on disk that survive a restart.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
	ensureClientBuilt,
	freePort,
	lostPortRace,
	PORT_RACE_ATTEMPTS,
	ROOT,
	run,
	signalGroup,
	stopGroup,
	waitUntil,
} from "./child-processes.ts";
import { writeRelaxedWranglerConfig } from "./wrangler-config.ts";

const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 64 * 1024;

export interface DevServer {
	baseUrl: string;
	port: number;
	/** wrangler's inspector proxy for the worker (Chrome DevTools protocol), on a port of its own. */
	inspectorPort: number;
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
 * The abuse limits loosened so a test can chat at machine speed; the limits themselves
 * are tested inside workerd. (The limits per client address are raised apart, in the
 * server's copy of wrangler.toml: they are bindings, not vars.)
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

/** A property of a thrown value, as text (execFile's errors carry stdout and stderr). */
const field = (err: unknown, name: string): string =>
	typeof err === "object" && err !== null && name in err ? String(Reflect.get(err, name)) : "";

/**
 * A free port is found and then bound by workerd a moment later; a process of a test running
 * beside this one may take it in between. A start that lost that race is tried again, on
 * fresh ports; any other failure is not.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await startDevServerOnce(opts);
		} catch (err) {
			if (attempt >= PORT_RACE_ATTEMPTS || !lostPortRace(err)) throw err;
		}
	}
}

async function startDevServerOnce(opts: DevServerOptions): Promise<DevServer> {
	await ensureClientBuilt();
	const persistDir = mkdtempSync(path.join(tmpdir(), "sm-dev-"));
	// The tests make many accounts and sign-ins from 127.0.0.1, so the server runs a copy of
	// wrangler.toml with the limits per client address raised (no `--var` reaches a
	// `[[ratelimits]]` binding); those limits are tested inside workerd.
	const config = writeRelaxedWranglerConfig(persistDir);
	try {
		await run(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "-c", config, "--persist-to", persistDir], {
			cwd: ROOT,
			timeout: READY_TIMEOUT_MS,
			env: { ...process.env, CI: "true" },
		});
	} catch (err) {
		throw new Error(`D1 migrations failed: ${field(err, "message")}\n${field(err, "stdout")}\n${field(err, "stderr")}`);
	}
	const port = await freePort();
	// Chosen here: wrangler's default (9229) would be taken by whichever relay started first.
	const inspectorPort = await freePort();
	const baseUrl = `http://127.0.0.1:${port}`;
	const vars = { AUTH_SECRET: randomBytes(30).toString("base64url"), ENVIRONMENT: "development", ...opts.vars };
	const args = [
		WRANGLER,
		"dev",
		"-c",
		config,
		"--port",
		String(port),
		"--ip",
		"127.0.0.1",
		"--inspector-port",
		String(inspectorPort),
		"--inspector-ip",
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
		await stopGroup(proc.pid, STOP_TIMEOUT_MS);
	}

	await start();
	return {
		baseUrl,
		port,
		inspectorPort,
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
