/**
 * `--split-cores`: the servers on their own cores for the one sending pair, the load threads
 * and everything else on the rest, the way a relay and its users' devices run in production,
 * on different machines.
 *
 * Built to test whether the one pair's tail is set by the load threads sharing the servers'
 * cores on this 2-core machine. It is not (docs/benchmarks.md, "What sets the one pair's
 * tail"): split, the floor's p50 rose from 0.14 to 0.19 ms and its p99 from 0.8–1.3 to 1.5–2.3
 * ms — every message now wakes an idle core, which on this VM is the hypervisor's to schedule —
 * and the relay's p99 was no steadier. So it is off by default, kept to repeat the test.
 * Both servers (and a yardstick's) get the same cores in the same way, and only the one pair
 * runs split: the loads measure throughput, where the client side needs every core.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { descendants } from "./processes.ts";

/** Which cores go to the servers and which to the rest; null on one core, where there is nothing to split. */
export function cpuSplit(cores: number): { servers: number[]; clients: number[] } | null {
	if (cores < 2) return null;
	const serverCount = Math.max(1, Math.floor(cores / 2));
	const all = Array.from({ length: cores }, (_, i) => i);
	return { servers: all.slice(cores - serverCount), clients: all.slice(0, cores - serverCount) };
}

/** Every thread of `pid` (`taskset -a`) allowed on `cores` only; false if that failed (no taskset, the process gone). */
function setAffinity(pid: number, cores: readonly number[]): boolean {
	try {
		execFileSync("taskset", ["-a", "-p", "-c", cores.join(","), String(pid)], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

export interface SplitRun<T> {
	result: T;
	/** The cores the servers had, or null if the run was not split (one core, no taskset). */
	serverCores: number[] | null;
}

/**
 * Runs `body` with `serverPids` on the server cores and this process and every other process
 * below it on the client cores, then gives every one of them all cores again. Threads started
 * meanwhile inherit their creator's cores.
 */
export async function withServerCores<T>(serverPids: readonly number[], enabled: boolean, body: () => Promise<T>): Promise<SplitRun<T>> {
	const cores = availableParallelism();
	const split = enabled ? cpuSplit(cores) : null;
	if (!split) return { result: await body(), serverCores: null };
	const servers = new Set(serverPids);
	const clients = [process.pid, ...descendants(process.pid).filter((pid) => !servers.has(pid))];
	const all = [...split.clients, ...split.servers];
	const restore = () => {
		for (const pid of [...serverPids, ...clients]) setAffinity(pid, all);
	};
	const pinned = serverPids.every((pid) => setAffinity(pid, split.servers)) && clients.every((pid) => setAffinity(pid, split.clients));
	if (!pinned) {
		// Half split is neither way: run it the way it would have run without the split.
		restore();
		return { result: await body(), serverCores: null };
	}
	try {
		return { result: await body(), serverCores: split.servers };
	} finally {
		restore();
	}
}
