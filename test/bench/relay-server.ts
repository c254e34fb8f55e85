/**
 * The relay under test: `wrangler dev` — the real worker and its Durable Objects in workerd,
 * local D1 with the real migrations — with the abuse limits raised through `--var`s.
 *
 * It runs on a snapshot of the project taken at start (worker/, common/, client/dist/,
 * migrations/, wrangler.toml) in a temporary directory, the way test/support/dev-server.ts
 * runs it on the work tree: `wrangler dev` reloads the worker whenever a watched file
 * changes, which would drop every socket mid-run while someone edits the code, and a
 * benchmark should measure one version of it.
 *
 * Where the runtime keeps its state (each Durable Object's SQLite file, local D1) sets the
 * tail at N = 1,000: local workerd commits every object's transaction with an fsync on the one
 * thread that runs all the objects, and closes (checkpoints, fsyncs, deletes) an evicted
 * object's WAL on that thread too, so on this VM's ext4 disk one object's commit stalls every
 * other object for up to milliseconds, and a burst of evictions for tens of them. Production
 * does not run on this disk, and what a durable write costs there cannot be measured here. So
 * by default the state lives in RAM (/dev/shm): SQLite still runs every statement and writes
 * every page, only this disk's flush is gone. `stateOn: "disk"` keeps it on the disk, for
 * comparison (docs/benchmarks.md, "The runtime's state").
 *
 * `wrangler dev` runs two workerd processes: wrangler's dev proxy, which owns the public port,
 * and the runtime that executes the worker behind it. Production has no such proxy, so the
 * benchmark talks to the runtime's own entry socket ("direct") and times the proxy hop apart.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
	ensureClientBuilt,
	freePort,
	lostPortRace,
	PORT_RACE_ATTEMPTS,
	run,
	signalGroup,
	stopGroup,
	waitUntil,
} from "../support/child-processes.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { writeRelaxedWranglerConfig } from "../support/wrangler-config.ts";
import { ROOT } from "./bundle.ts";
import { commandName, descendants, listeningPorts, rssBytes } from "./processes.ts";

/** The abuse limits out of the way of a load test; prices and queue caps stay as deployed. */
export const BENCH_LIMITS: Record<string, string> = {
	...RELAXED_LIMITS,
	RATE_LIMIT_COUNT: "1000000",
	RATE_LIMIT_WINDOW_SECONDS: "1",
	QUOTA_UNTRUSTED_PER_DAY: "1000000",
	QUOTA_TRUSTED_PER_DAY: "1000000",
	STARTING_CREDITS: "100000000",
	CONTACT_REQUESTS_PER_HOUR: "1000000",
	SUSPEND_AFTER_VIOLATIONS: "1000000",
};

/** What the worker needs to run, relative to the project root. */
const SNAPSHOT = ["wrangler.toml", "package.json", "tsconfig.json", "worker", "common", "client/dist", "migrations"];
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 64 * 1024;
const RAM_DIR = "/dev/shm";

export type StateOn = "ram" | "disk";

export interface RelayServer {
	/** Where the runtime's state (Durable Object SQLite files, local D1) lives. */
	stateOn: StateOn;
	/** The runtime's own entry socket (no dev proxy): what the benchmark measures. */
	directUrl: string;
	/** wrangler's public port, through its dev proxy. */
	proxyUrl: string;
	/** workerd running the worker and its Durable Objects. */
	runtimePid: number;
	/** workerd running wrangler's dev proxy. */
	proxyPid: number | null;
	/** The runtime's V8 inspector (Chrome DevTools protocol), one target per worker (`d1:db` is local D1). */
	inspectorPort: number | null;
	/** wrangler's inspector proxy for our worker (wrangler holds the runtime's session of it). */
	workerInspectorPort: number;
	rss(): { runtime: number | null; proxy: number | null };
	/** Throws if wrangler restarted the runtime since start (the sockets would be gone). */
	assertSameRuntime(): void;
	/** What wrangler printed lately. */
	output(): string;
	dispose(): Promise<void>;
}

async function answersApi(port: number): Promise<boolean> {
	try {
		const response = await fetch(`http://127.0.0.1:${port}/api/auth/challenge`, {
			method: "POST",
			body: "{}",
			signal: AbortSignal.timeout(2000),
		});
		const text = await response.text();
		return response.status === 200 && text.includes('"challenge"');
	} catch {
		return false;
	}
}

async function inspectorTargets(port: number): Promise<Array<{ id: string }> | null> {
	try {
		const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) });
		if (response.status !== 200) return null;
		const targets: unknown = await response.json();
		return Array.isArray(targets) ? (targets as Array<{ id: string }>) : null;
	} catch {
		return null;
	}
}

/**
 * Copy what the worker needs from `root` (this checkout, or another commit's tree for
 * `--compare`) into a fresh directory; node_modules is linked, not copied. The client's
 * build, which wrangler serves as assets and no relay figure depends on, is this checkout's
 * where `root` has none.
 */
function snapshotProject(root: string): string {
	if (!existsSync(path.join(ROOT, "client/dist/index.html"))) {
		throw new Error("client/dist is missing: run `npm run build` first (wrangler serves it as the worker's assets)");
	}
	const dir = mkdtempSync(path.join(tmpdir(), "sm-bench-"));
	for (const entry of SNAPSHOT) {
		const own = path.join(root, entry);
		const from = entry === "client/dist" && !existsSync(own) ? path.join(ROOT, entry) : own;
		if (existsSync(from)) cpSync(from, path.join(dir, entry), { recursive: true });
	}
	symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
	return dir;
}

/** A fresh directory for a runtime's state: RAM-backed when asked for and the machine has one (Linux's /dev/shm), else under `diskParent`. */
export function stateDirectory(stateOn: StateOn, diskParent: string): { dir: string; stateOn: StateOn } {
	if (stateOn === "ram" && existsSync(RAM_DIR)) return { dir: mkdtempSync(path.join(RAM_DIR, "sm-bench-state-")), stateOn };
	const dir = mkdtempSync(path.join(diskParent, "state-"));
	return { dir, stateOn: "disk" };
}

/**
 * A free port is found and then bound by workerd a moment later; a process of a test running
 * beside this one may take it in between. A start that lost that race is tried again, on
 * fresh ports; any other failure is not.
 */
/** `root`: the project tree to run, this checkout unless another commit's is given (`--compare`). */
export async function startRelayServer(
	stateOn: StateOn = "ram",
	vars: Record<string, string> = BENCH_LIMITS,
	root = ROOT,
): Promise<RelayServer> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await startRelayServerOnce(stateOn, vars, root);
		} catch (err) {
			if (attempt >= PORT_RACE_ATTEMPTS || !lostPortRace(err)) throw err;
		}
	}
}

async function startRelayServerOnce(stateOn: StateOn, vars: Record<string, string>, root: string): Promise<RelayServer> {
	await ensureClientBuilt();
	const dir = snapshotProject(root);
	const state = stateDirectory(stateOn, dir);
	const persistDir = state.dir;
	const wrangler = path.join(dir, "node_modules/wrangler/bin/wrangler.js");
	// Every client connects from 127.0.0.1: the limits per client address (rate limiting
	// bindings, which no `--var` reaches) are raised in a copy of the snapshot's wrangler.toml.
	const config = writeRelaxedWranglerConfig(dir, path.join(dir, "wrangler.toml"));
	// CI=true keeps wrangler from prompting; no metrics, and no fetch of a `Request.cf` sample from
	// Cloudflare at start-up: everything stays on loopback.
	const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
	await run(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "-c", config, "--persist-to", persistDir], {
		cwd: dir,
		env,
		timeout: READY_TIMEOUT_MS,
	});

	const [port, inspectorPort] = [await freePort(), await freePort()];
	const allVars = { AUTH_SECRET: randomBytes(30).toString("base64url"), ENVIRONMENT: "development", ...vars };
	const args = [
		wrangler,
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
		...Object.entries(allVars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
	];
	// Its own process group, so stopping it reaches workerd too.
	const child: ChildProcess = spawn(process.execPath, args, { cwd: dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
	const pgid = child.pid;
	if (pgid === undefined) throw new Error("wrangler dev did not start");
	let output = "";
	const keep = (chunk: Buffer) => {
		output = (output + chunk.toString("utf8")).slice(-OUTPUT_KEPT);
	};
	child.stdout?.on("data", keep);
	child.stderr?.on("data", keep);
	const killOnExit = () => signalGroup(pgid, "SIGKILL");
	process.on("exit", killOnExit);
	let exited = false;
	child.once("exit", () => {
		exited = true;
	});

	const dispose = async () => {
		await stopGroup(pgid, STOP_TIMEOUT_MS);
		process.off("exit", killOnExit);
		rmSync(dir, { recursive: true, force: true });
		rmSync(persistDir, { recursive: true, force: true });
	};

	try {
		if (!(await waitUntil(async () => exited || (await answersApi(port)), READY_TIMEOUT_MS, 200)) || exited) {
			throw new Error(`wrangler dev ${exited ? "exited" : "did not answer in time"}:\n${output}`);
		}
		const workerds = descendants(pgid).filter((pid) => commandName(pid) === "workerd");
		const proxyPid = workerds.find((pid) => listeningPorts(pid).includes(port)) ?? null;
		let runtimePid: number | undefined;
		let directPort: number | undefined;
		let runtimeInspector: number | null = null;
		for (const pid of workerds) {
			if (pid === proxyPid) continue;
			for (const p of listeningPorts(pid)) {
				if (directPort === undefined && (await answersApi(p))) {
					runtimePid = pid;
					directPort = p;
				} else if (runtimeInspector === null && (await inspectorTargets(p))?.some((t) => t.id === "d1:db")) {
					runtimeInspector = p;
				}
			}
		}
		if (runtimePid === undefined || directPort === undefined) {
			throw new Error(`cannot find the workerd runtime's entry socket among ${workerds.join(", ")}`);
		}
		const runtime = runtimePid;
		return {
			stateOn: state.stateOn,
			directUrl: `http://127.0.0.1:${directPort}`,
			proxyUrl: `http://127.0.0.1:${port}`,
			runtimePid: runtime,
			proxyPid,
			inspectorPort: runtimeInspector,
			workerInspectorPort: inspectorPort,
			rss: () => ({ runtime: rssBytes(runtime), proxy: proxyPid === null ? null : rssBytes(proxyPid) }),
			assertSameRuntime() {
				if (rssBytes(runtime) === null) throw new Error(`wrangler restarted the worker's runtime mid-run:\n${output.slice(-4000)}`);
			},
			output: () => output,
			dispose,
		};
	} catch (err) {
		await dispose();
		throw err;
	}
}
