/**
 * What /proc says about the processes the benchmark started: the process tree below this
 * process, resident memory, CPU time, and which local ports a process listens on.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

function statFields(pid: number): string[] | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name is in parentheses and may contain spaces; fields start after it.
		return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	} catch {
		return null;
	}
}

export function commandName(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
	} catch {
		return "";
	}
}

export function commandLine(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
	} catch {
		return "";
	}
}

/** Every live process below `root`, nearest first. */
export function descendants(root: number): number[] {
	const parentOf = new Map<number, number>();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		const fields = statFields(Number(entry));
		if (fields && fields[0] !== "Z") parentOf.set(Number(entry), Number(fields[1]));
	}
	const found: number[] = [];
	const frontier = [root];
	while (frontier.length > 0) {
		const parent = frontier.shift() as number;
		for (const [pid, ppid] of parentOf) {
			if (ppid === parent) {
				found.push(pid);
				frontier.push(pid);
			}
		}
	}
	return found;
}

/** Resident set size in bytes (VmRSS), or null if the process is gone. */
export function rssBytes(pid: number): number | null {
	try {
		const kib = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
		return kib === undefined ? null : Number(kib) * 1024;
	} catch {
		return null;
	}
}

/** Files (sockets included) the process has open, or null if it is gone: each is one of its `ulimit -n`. */
export function openFileCount(pid: number): number | null {
	try {
		return readdirSync(`/proc/${pid}/fd`).length;
	} catch {
		return null;
	}
}

/** The process's soft limit on open files (`ulimit -n`), or null if it is gone or has none. */
export function openFileLimit(pid: number): number | null {
	try {
		const soft = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1];
		return soft === undefined ? null : Number(soft);
	} catch {
		return null;
	}
}

/**
 * The main thread's scheduler counters (`/proc/<pid>/task/<pid>/schedstat`): nanoseconds on a
 * CPU and nanoseconds runnable but waiting for one. workerd runs every isolate, Durable
 * Object and local D1 on its main thread. Null if the process is gone or the kernel keeps no
 * schedstats.
 */
export function mainThreadSchedule(pid: number): { runNs: number; waitNs: number } | null {
	try {
		const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(/\s+/);
		if (run === undefined || wait === undefined) return null;
		return { runNs: Number(run), waitNs: Number(wait) };
	} catch {
		return null;
	}
}

const TICKS_PER_SECOND = 100;

/** User + system CPU time in milliseconds (clock ticks are 1/100 s on Linux). */
export function cpuMs(pid: number): number | null {
	const fields = statFields(pid);
	if (!fields) return null;
	return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** TCP ports on which `pid` listens (IPv4 and IPv6). */
export function listeningPorts(pid: number): number[] {
	const portByInode = new Map<string, number>();
	for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
		let text: string;
		try {
			text = readFileSync(table, "utf8");
		} catch {
			continue;
		}
		for (const line of text.split("\n").slice(1)) {
			const cols = line.trim().split(/\s+/);
			// State 0A is LISTEN; column 9 is the socket's inode.
			if (cols[3] !== "0A" || cols[1] === undefined || cols[9] === undefined) continue;
			portByInode.set(cols[9], Number.parseInt(cols[1].split(":")[1] ?? "0", 16));
		}
	}
	const ports: number[] = [];
	let fds: string[];
	try {
		fds = readdirSync(`/proc/${pid}/fd`);
	} catch {
		return ports;
	}
	for (const fd of fds) {
		let target: string;
		try {
			target = readlinkSync(`/proc/${pid}/fd/${fd}`);
		} catch {
			continue;
		}
		const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
		const port = inode === undefined ? undefined : portByInode.get(inode);
		if (port !== undefined && !ports.includes(port)) ports.push(port);
	}
	return ports;
}
