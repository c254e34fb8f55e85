/**
 * Soak: many connected devices chatting for minutes against the real local relay, loopback
 * only, bounded in count and time. Reports messages sent, delivered, lost and duplicated,
 * and the relay's resident memory over time (issue 9).
 */
import { readdirSync, readFileSync } from "node:fs";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import { ClientFactory, contactPair, type Member } from "../support/sdk-clients.ts";

export interface SoakOptions {
	devices: number;
	seconds: number;
	/** Each device sends one message this often. */
	sendEveryMs: number;
	log?: (line: string) => void;
}

export interface SoakResult {
	devices: number;
	seconds: number;
	sent: number;
	delivered: number;
	lost: number;
	duplicated: number;
	refused: number;
	/** `every30s`: the relay's RSS every 30 s of the run, to show whether it levels off. */
	rssMiB: { afterSetup: number; peak: number; end: number; every30s: number[] };
}

/** Resident memory of the workerd processes started below this one (the relay under test). */
function relayRssBytes(): number {
	const parentOf = new Map<number, number>();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
		} catch {
			// The process ended while we looked.
		}
	}
	const isOurs = (pid: number): boolean => {
		for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p)) if (p === process.pid) return true;
		return false;
	};
	let total = 0;
	for (const pid of parentOf.keys()) {
		try {
			if (!isOurs(pid) || readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") continue;
			const kib = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
			total += Number(kib ?? 0) * 1024;
		} catch {
			// The process ended while we looked.
		}
	}
	return total;
}

const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
	const log = opts.log ?? (() => undefined);
	let server: DevServer | undefined;
	const factory = new ClientFactory(() => (server as DevServer).baseUrl);
	try {
		server = await startDevServer({ vars: RELAXED_LIMITS });
		const pairs: Array<{ alice: Member; bob: Member }> = [];
		// Set up in small batches: a burst of a thousand sign-ups would measure the setup, not the soak.
		for (let made = 0; made < opts.devices / 2; made += 10) {
			const batch = Math.min(10, opts.devices / 2 - made);
			pairs.push(...(await Promise.all(Array.from({ length: batch }, () => contactPair(factory)))));
			if ((made + batch) % 100 === 0) log(`soak: ${(made + batch) * 2} devices connected`);
		}
		const received = new Map<string, number>();
		const sentIds = new Set<string>();
		let refused = 0;
		for (const { alice, bob } of pairs) {
			for (const member of [alice, bob]) {
				member.client.on("message", (m) => received.set(m.id, (received.get(m.id) ?? 0) + 1));
			}
		}
		const afterSetup = relayRssBytes();
		let peak = afterSetup;
		const every30s: number[] = [];
		let ticks = 0;
		const sampler = setInterval(() => {
			const rss = relayRssBytes();
			peak = Math.max(peak, rss);
			if (++ticks % 30 === 0) every30s.push(mib(rss));
		}, 1000);
		const deadline = Date.now() + opts.seconds * 1000;
		const members = pairs.flatMap(({ alice, bob }) => [
			{ from: alice, to: bob },
			{ from: bob, to: alice },
		]);
		// Each device sends on its own schedule, spread over the interval so the load is even.
		await Promise.all(
			members.map(async ({ from, to }, i) => {
				await new Promise((r) => setTimeout(r, (i * opts.sendEveryMs) / members.length));
				while (Date.now() < deadline) {
					const id = from.client.newMessageId();
					sentIds.add(id);
					try {
						await from.client.sendText(to.account.accountId, `soak ${id}`, { id });
					} catch {
						sentIds.delete(id);
						refused++;
					}
					await new Promise((r) => setTimeout(r, opts.sendEveryMs));
				}
			}),
		);
		// Everything accepted must arrive: wait (bounded) for the last deliveries.
		const drainDeadline = Date.now() + 30_000;
		while (Date.now() < drainDeadline && [...sentIds].some((id) => !received.has(id))) await new Promise((r) => setTimeout(r, 200));
		clearInterval(sampler);
		const end = relayRssBytes();
		const delivered = [...sentIds].filter((id) => received.has(id)).length;
		return {
			devices: pairs.length * 2,
			seconds: opts.seconds,
			sent: sentIds.size,
			delivered,
			lost: sentIds.size - delivered,
			duplicated: [...received.values()].filter((n) => n > 1).length,
			refused,
			rssMiB: { afterSetup: mib(afterSetup), peak: mib(Math.max(peak, end)), end: mib(end), every30s },
		};
	} finally {
		factory.closeAll();
		await server?.dispose();
	}
}
