/** The terminal tables of a run, and the Markdown that docs/benchmarks.md's "Latest numbers" shows. */
import type { BenchResult, SizeResult } from "./results.ts";
import type { LatencySummary } from "./stats.ts";

type Row = string[];

/** A plain-text table: columns padded, numbers right-aligned. */
export function table(header: Row, rows: Row[]): string {
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
	const numeric = (s: string) => /^[-+~]?[\d.,]+[×%]?( \w+)?$|^–$/.test(s);
	const line = (r: Row) =>
		r.map((cell, i) => (numeric(cell) && i > 0 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join("  ");
	return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The same rows as a Markdown table. */
export function markdownTable(header: Row, rows: Row[]): string {
	const line = (r: Row) => `| ${r.join(" | ")} |`;
	return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

export const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) : "–");
export const times = (v: number): string => (Number.isFinite(v) ? `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}×` : "–");
const count = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const kib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : "–");
const pcts = (l: LatencySummary): string => `${ms(l.p50)} / ${ms(l.p90)} / ${ms(l.p99)} / ${ms(l.max)}`;
const ratios = (r: { p50: number; p90: number; p99: number; max: number }): string =>
	`${times(r.p50)} / ${times(r.p90)} / ${times(r.p99)} / ${times(r.max)}`;

export interface Tables {
	title: string;
	header: Row;
	rows: Row[];
}

export function latencyTable(sizes: SizeResult[]): Tables {
	const rows: Row[] = [];
	for (const s of sizes) {
		rows.push([
			`${s.devices}`,
			"one sending pair",
			pcts(s.relay.singlePair.latencyMs),
			pcts(s.floor.singlePair.latencyMs),
			ratios(s.ratio.singlePair),
		]);
		rows.push([`${s.devices}`, "paced, all pairs", pcts(s.relay.paced.latencyMs), pcts(s.floor.paced.latencyMs), ratios(s.ratio.paced)]);
	}
	return {
		title: "Delivery latency, send → recipient's socket, ms (p50 / p90 / p99 / max)",
		header: ["N", "workload", "relay", "floor (raw ws)", "relay / floor"],
		rows,
	};
}

export function throughputTable(sizes: SizeResult[]): Tables {
	const rows = sizes.map((s) => [
		`${s.devices}`,
		`${count(s.relay.paced.offeredPerSecond)} → ${count(s.relay.paced.deliveredPerSecond)}`,
		`${count(s.floor.paced.offeredPerSecond)} → ${count(s.floor.paced.deliveredPerSecond)}`,
		count(s.relay.saturated.deliveredPerSecond),
		count(s.floor.saturated.deliveredPerSecond),
		times(s.ratio.saturatedThroughput),
		`${s.relay.paced.lost + s.relay.singlePair.lost + s.relay.saturated.lost} / ${s.relay.paced.duplicated + s.relay.singlePair.duplicated + s.relay.saturated.duplicated}`,
		`${s.floor.paced.lost + s.floor.singlePair.lost + s.floor.saturated.lost} / ${s.floor.paced.duplicated + s.floor.singlePair.duplicated + s.floor.saturated.duplicated}`,
		`${s.relay.saturated.clientBusy.toFixed(2)} / ${s.floor.saturated.clientBusy.toFixed(2)}`,
	]);
	return {
		title: "Throughput (msg/s; paced: offered → delivered; max: saturated) and loss",
		header: [
			"N",
			"paced relay",
			"paced floor",
			"max relay",
			"max floor",
			"floor / relay",
			"relay lost/dup",
			"floor lost/dup",
			"client busy (max run)",
		],
		rows,
	};
}

export function resourceTable(sizes: SizeResult[]): Tables {
	const wake = (w: { latencyMs: LatencySummary; objectsConstructed: number | null }) =>
		`${ms(w.latencyMs.p50)} / ${ms(w.latencyMs.max)}${w.objectsConstructed === null ? "" : ` (${w.objectsConstructed} woke)`}`;
	const rows = sizes.map((s) => [
		`${s.devices}`,
		kib(s.relay.memory.perSocketBytes),
		kib(s.floor.memory.perSocketBytes),
		times(s.ratio.perSocketMemory),
		`${ms(s.relay.cpuMsPerMessage.paced)} / ${ms(s.relay.cpuMsPerMessage.saturated)}`,
		`${ms(s.floor.cpuMsPerMessage.paced)} / ${ms(s.floor.cpuMsPerMessage.saturated)}`,
		`${wake(s.relay.wakeBothIdle)}; ${wake(s.relay.wakeRecipientIdle)}`,
		`${ms(s.floor.wakeBothIdle.latencyMs.p50)}`,
		`${Math.round(s.relay.wakeBothIdle.idleMs / 1000)} s`,
	]);
	return {
		title: "Server memory per connected socket, server CPU per message, wake from hibernation",
		header: [
			"N",
			"RSS/socket relay",
			"RSS/socket floor",
			"ratio",
			"CPU ms/msg relay (paced / max)",
			"CPU ms/msg floor",
			"wake relay p50 / max ms: both idle (objects a counted message woke); recipient idle",
			"floor first msg after idle",
			"idle",
		],
		rows,
	};
}

/** One sending pair through the one-object chat, beside ours and the floor's. */
export function chatTable(sizes: SizeResult[]): Tables | null {
	const rows: Row[] = [];
	for (const s of sizes) {
		const chat = s.oneObjectChat;
		if (!chat) continue;
		const cpu = chat.cpuMsPerMessage;
		rows.push([
			`${s.devices}`,
			pcts(chat.singlePair.latencyMs),
			ratios(chat.toFloor),
			ratios(s.ratio.singlePair),
			ratios(chat.relayTo),
			`${ms(s.relay.cpuMsPerMessage.singlePair)} / ${cpu === null ? "–" : ms(cpu)} / ${ms(s.floor.cpuMsPerMessage.singlePair)}`,
			cpu === null || cpu <= 0 ? "–" : times(s.relay.cpuMsPerMessage.singlePair / cpu),
		]);
	}
	if (rows.length === 0) return null;
	return {
		title: "One sending pair: a minimal one-object chat (one Durable Object, each message written to SQLite), ms (p50 / p90 / p99 / max)",
		header: [
			"N",
			"one-object chat",
			"chat / floor",
			"relay / floor",
			"relay / chat",
			"server CPU ms/msg: relay / chat / floor",
			"CPU relay / chat",
		],
		rows,
	};
}

/**
 * Every server under the same workloads at each N: the floor, the one-object chat (the
 * runtime's least for a message), the minimal per-user relay (our design's least) and the
 * relay. What the relay spends over the minimal relay is our code; what the minimal relay
 * spends over the chat is one object per user.
 */
export function yardstickTable(sizes: SizeResult[]): Tables | null {
	const rows: Row[] = [];
	const cpu = (v: number | null) => (v === null ? "–" : ms(v));
	for (const s of sizes) {
		if (!s.oneObjectChat && !s.minimalRelay) continue;
		const floorRate = s.floor.saturated.deliveredPerSecond;
		const row = (name: string, one: LatencySummary, paced: LatencySummary, rate: number, c: [number | null, number, number]) =>
			rows.push([
				`${s.devices}`,
				name,
				`${ms(one.p50)} / ${ms(one.p99)}`,
				`${ms(paced.p50)} / ${ms(paced.p99)}`,
				count(rate),
				times(floorRate / rate),
				`${cpu(c[0])} / ${cpu(c[1])} / ${cpu(c[2])}`,
			]);
		row("floor", s.floor.singlePair.latencyMs, s.floor.paced.latencyMs, floorRate, [
			s.floor.cpuMsPerMessage.singlePair,
			s.floor.cpuMsPerMessage.paced,
			s.floor.cpuMsPerMessage.saturated,
		]);
		for (const [name, y] of [
			["one-object chat", s.oneObjectChat],
			["minimal relay", s.minimalRelay],
		] as const) {
			if (!y) continue;
			row(name, y.singlePair.latencyMs, y.load.paced.latencyMs, y.load.saturated.deliveredPerSecond, [
				y.cpuMsPerMessage,
				y.load.cpuMsPerMessage.paced,
				y.load.cpuMsPerMessage.saturated,
			]);
		}
		row("relay", s.relay.singlePair.latencyMs, s.relay.paced.latencyMs, s.relay.saturated.deliveredPerSecond, [
			s.relay.cpuMsPerMessage.singlePair,
			s.relay.cpuMsPerMessage.paced,
			s.relay.cpuMsPerMessage.saturated,
		]);
	}
	if (rows.length === 0) return null;
	return {
		title:
			"Every server under the same load: the floor, the one-object chat (the runtime's least for a message), the minimal per-user relay (our design's least: three events, one row) and the relay",
		header: [
			"N",
			"server",
			"one pair p50 / p99 ms",
			"paced p50 / p99 ms",
			"saturated msg/s",
			"floor ÷",
			"server CPU ms/msg: one pair / paced / saturated",
		],
		rows,
	};
}

const seconds = (v: number | null): string => (v !== null && Number.isFinite(v) ? `${(v / 1000).toFixed(1)} s` : "–");
const grewBy = (v: number | null): string => (v === null ? "–" : times(v));

/**
 * The growth run (`--growth`): per N, memory per connected socket — ours, the one-object
 * chat's (workerd's own cost of a socket, measured the same way) and the part that is ours —,
 * the paced p99 and the time to connect every device; then how much each grew.
 */
export function growthTable(result: BenchResult): Tables | null {
	const g = result.growth;
	if (!g) return null;
	const rows: Row[] = g.rows.map((r) => [
		count(r.devices),
		kib(r.rssPerSocket.relay),
		r.rssPerSocket.oneObjectChat === null ? "–" : kib(r.rssPerSocket.oneObjectChat),
		r.rssPerSocket.ours === null ? "–" : kib(r.rssPerSocket.ours),
		kib(r.rssPerSocket.floor),
		ms(r.pacedP99Ms.relay),
		ms(r.pacedP99Ms.floor),
		seconds(r.connectMs.relay),
		seconds(r.connectMs.oneObjectChat),
		seconds(r.connectMs.floor),
	]);
	const f = g.factors;
	if (f) {
		rows.push([
			`${count(f.from)} → ${count(f.to)}`,
			grewBy(f.rssPerSocket.relay),
			grewBy(f.rssPerSocket.oneObjectChat),
			grewBy(f.rssPerSocket.ours),
			grewBy(f.rssPerSocket.floor),
			grewBy(f.pacedP99Ms.relay),
			grewBy(f.pacedP99Ms.floor),
			grewBy(f.connectMs.relay),
			grewBy(f.connectMs.oneObjectChat),
			grewBy(f.connectMs.floor),
		]);
	}
	return {
		title:
			"Growth: server memory per connected socket (RSS), paced p99 and the time to connect all N devices; last row: how much each grew",
		header: [
			"N",
			"RSS/socket relay",
			"RSS/socket one-object chat",
			"ours (relay − chat)",
			"RSS/socket floor",
			"paced p99 relay ms",
			"paced p99 floor ms",
			"connect all relay",
			"connect all chat",
			"connect all floor",
		],
		rows,
	};
}

/** The sizes run again with the runtime's state on disk (options.diskSizes), against the same floor. */
export function diskTable(sizes: SizeResult[]): Tables | null {
	const rows: Row[] = [];
	for (const s of sizes) {
		const d = s.onDisk;
		if (!d) continue;
		rows.push([`${s.devices}`, "one sending pair", pcts(d.relay.singlePair.latencyMs), ratios(d.ratio.singlePair), "–", "–"]);
		rows.push([
			`${s.devices}`,
			"paced, all pairs",
			pcts(d.relay.paced.latencyMs),
			ratios(d.ratio.paced),
			count(d.relay.saturated.deliveredPerSecond),
			`${ms(d.relay.wakeBothIdle.latencyMs.p50)}; ${ms(d.relay.wakeRecipientIdle.latencyMs.p50)}`,
		]);
	}
	if (rows.length === 0) return null;
	return {
		title: "The relay with its runtime's state on this machine's disk instead of RAM, ms (p50 / p90 / p99 / max)",
		header: ["N", "workload", "relay, state on disk", "relay / floor", "max msg/s", "wake p50: both idle; recipient idle"],
		rows,
	};
}

/** How often the machine held a process up just before each one sending pair (machine-gaps.ts), beside that pair's p99s. */
export function machineGapsTable(sizes: SizeResult[]): Tables | null {
	const rows: Row[] = [];
	let probeMs = 0;
	for (const s of sizes) {
		const g = s.singlePairMachineGaps;
		if (!g) continue;
		probeMs = g.probeMs;
		for (const c of g.cores) {
			rows.push([
				`${s.devices}`,
				`${c.core}`,
				c.over1PerSecond.toFixed(1),
				c.over02PerSecond.toFixed(1),
				ms(c.maxMs),
				`${(c.awayShare * 100).toFixed(2)}%`,
				c.core === 0 ? `${ms(s.relay.singlePair.latencyMs.p99)} / ${ms(s.floor.singlePair.latencyMs.p99)}` : "",
			]);
		}
	}
	if (rows.length === 0) return null;
	return {
		title: `The machine before each one sending pair: a process spinning on each core for ${probeMs / 1000} s, how often and how long its core was given to something else`,
		header: [
			"N",
			"core",
			"gaps over 1 ms a second",
			"over 0.2 ms a second",
			"longest",
			"time away",
			"the pair's p99 after it: relay / floor",
		],
		rows,
	};
}

/** What the relay's thread did while its paced tail was in flight (`--trace-stalls`). */
export function stallTable(sizes: SizeResult[]): Tables | null {
	const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(0)}%` : "–");
	const rows: Row[] = [];
	for (const s of sizes) {
		const r = s.relay.pacedStalls;
		if (!r) continue;
		for (const [name, f] of [
			["at or over p99", r.tail],
			["all", r.all],
		] as const) {
			rows.push([
				`${s.devices}`,
				`${name} (${f.messages})`,
				`${f.acrossPause} (${pct(f.acrossPause, f.messages)})`,
				pct(f.byKind.gc, f.flightMs),
				pct(f.byKind.js, f.flightMs),
				pct(f.byKind.program, f.flightMs),
				pct(f.byKind.idle, f.flightMs),
				name === "all"
					? ""
					: r.longestPauses
							.map(([second, pause]) => `${ms(pause)} (s ${second})`)
							.slice(0, 3)
							.join(", ") || "none",
			]);
		}
	}
	if (rows.length === 0) return null;
	const pauseMs = sizes.find((s) => s.relay.pacedStalls)?.relay.pacedStalls?.pauseMs ?? 0;
	return {
		title: `Paced run, relay: what its runtime's thread was sampled doing while messages were in flight (CPU profile; a pause is a collection of ≥ ${pauseMs} ms)`,
		header: ["N", "messages", "crossed a pause", "collecting", "JavaScript", "native", "idle", "longest pauses, ms (second of the run)"],
		rows,
	};
}

/** The load threads' own stalls while the paced run's messages were in flight (`--trace-stalls`), relay's clients and the floor's. */
export function clientStallTable(sizes: SizeResult[]): Tables | null {
	const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(0)}%` : "–");
	const rows: Row[] = [];
	for (const s of sizes) {
		for (const [name, r, t] of [
			["relay", s.relay.pacedClientStalls, s.relay.pacedServerThread],
			["floor", s.floor.pacedClientStalls, s.floor.pacedServerThread],
		] as const) {
			if (!r) continue;
			const thread = (f: { flightMs: number; onCpuMs: number; waitingMs: number } | undefined) =>
				f ? `${pct(f.onCpuMs, f.flightMs)} / ${pct(f.waitingMs, f.flightMs)}` : "–";
			rows.push([
				`${s.devices}`,
				name,
				`${r.tail.acrossStall} of ${r.tail.messages} (${r.tail.acrossCollection})`,
				`${r.all.acrossStall} (${pct(r.all.acrossStall, r.all.messages)})`,
				ms(r.stalledMs),
				r.longest
					.slice(0, 3)
					.map(([second, d, gc]) => `${ms(d)}${gc ? " gc" : ""} (s ${second})`)
					.join(", ") || "none",
				thread(t?.tail),
				thread(t?.all),
			]);
		}
	}
	if (rows.length === 0) return null;
	const lag = sizes.find((s) => s.relay.pacedClientStalls)?.relay.pacedClientStalls?.lagMs ?? 0;
	return {
		title: `Paced run: messages in flight across a stall (event loop held up ≥ ${lag} ms) of the load thread that stamped their arrival, and how the server's main thread spent the flights`,
		header: [
			"N",
			"clients of",
			"at or over p99 (a collection's)",
			"all messages",
			"stalled ms, all threads",
			"longest, ms (second of the run)",
			"server's main thread in the tail's flights: on a CPU / waiting for one",
			"the same, all flights",
		],
		rows,
	};
}

export function cryptoTable(result: BenchResult): Tables {
	const rows = result.crypto.map((c) => [
		c.operation,
		c.implementation,
		count(c.opsPerSecond),
		c.mbPerSecond === null ? "–" : c.mbPerSecond.toFixed(1),
	]);
	return { title: "Client crypto, this machine, one thread", header: ["operation", "implementation", "ops/s", "MiB/s"], rows };
}

export function goalTable(result: BenchResult): Tables {
	return {
		title: "Goals",
		header: ["goal", "measured", "target", "met"],
		rows: result.goals.map((g) => [g.goal, ms(g.value), ms(g.target), g.met ? "yes" : "NO"]),
	};
}

export function probeTable(result: BenchResult): Tables | null {
	const probe = result.probe;
	if (!probe) return null;
	const rows: Row[] = [
		["D1 round trips per message (incl. batched credit flushes)", probe.d1RoundTripsPerMessage.toFixed(3)],
		["Durable Object SQL statements per message (sender + recipient + ack)", probe.sqlStatementsPerMessage.toFixed(1)],
		...probe.sqlPerMessage.slice(0, 8).map((s) => [`  ${short(s.sql)}`, s.perMessage.toFixed(2)]),
		["SQLite rows written per message (the cursors' rowsWritten)", probe.rowsWrittenPerMessage.toFixed(2)],
		...probe.rowsPerMessage.filter((r) => r.written > 0.005).map((r) => [`  ${short(r.sql)}`, r.written.toFixed(2)]),
		["SQLite rows read per message", probe.rowsReadPerMessage.toFixed(2)],
		["D1 rows written / read per message", `${probe.d1RowsPerMessage.written.toFixed(3)} / ${probe.d1RowsPerMessage.read.toFixed(3)}`],
		...Object.entries(probe.eventsPerMessage).map(([name, n]) => [`  billed events per message: ${name}`, n.toFixed(2)]),
		...probe.profile.byModule.slice(0, 8).map((m) => [`  CPU: ${m.module}`, `${(m.share * 100).toFixed(1)}%`]),
	];
	return { title: `Hot path (${probe.messages} messages, counted through the inspector)`, header: ["what", "value"], rows };
}

const short = (sql: string) => (sql.length > 90 ? `${sql.slice(0, 87)}...` : sql);

const usd = (n: number) => (n >= 0.1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`);

/** Cost of 1,000,000 delivered messages, line by line, ours beside the one-object chat's. */
export function costTable(result: BenchResult): Tables | null {
	const cost = result.cost;
	if (!cost) return null;
	const chat = cost.oneObjectChat;
	const rows: Row[] = cost.relay.lines.map((line, i) => {
		const other = chat?.lines[i];
		return [
			line.item,
			line.perMessage.toPrecision(3),
			usd(line.perMillion),
			other ? other.perMessage.toPrecision(3) : "–",
			other ? usd(other.perMillion) : "–",
		];
	});
	rows.push(["total", "", usd(cost.relay.perMillion), "", chat ? usd(chat.perMillion) : "–"]);
	rows.push(["relay / one-object chat", "", Number.isFinite(cost.ratio) ? `${cost.ratio.toFixed(1)}×` : "–", "", ""]);
	if (cost.woken) {
		const { usage } = cost.woken;
		rows.push([
			`each waking both objects (${usage.rowsRead.toFixed(0)} rows read, ${usage.rowsWritten.toFixed(1)} written)`,
			"",
			usd(cost.woken.perMillion),
			"",
			"",
		]);
	}
	return {
		title: `Cost of 1,000,000 delivered messages, ${cost.prices.plan} prices of ${cost.prices.asOf} (test/bench/cloudflare-prices.json), beyond the plan's included amounts`,
		header: ["item", "relay per message", "relay per million", "chat per message", "chat per million"],
		rows,
	};
}

/** A device approval: every contact key re-wrapped for the new device, in Chromium. */
export function approvalTable(result: BenchResult): Tables | null {
	const a = result.approval;
	if (!a) return null;
	return {
		title: `Approving a device: ${a.contacts} contact keys re-wrapped for it, Chromium ${a.chromium}, median of ${a.rounds.length}`,
		header: ["what", "before (a crypto_box each)", "now (one shared key)", "ratio"],
		rows: [
			["the envelopes' crypto, ms", ms(a.beforeMs), ms(a.afterMs), `${a.speedup.toFixed(0)}×`],
			["envelopes per second", a.beforePerSecond.toFixed(0), a.afterPerSecond.toFixed(0), ""],
			["wrapAllFor over the web app's IndexedDB store, ms", ms(a.beforeIndexedDbMs), ms(a.wrapAllForIndexedDbMs), ""],
		],
	};
}

export function allTables(result: BenchResult): Tables[] {
	const probe = probeTable(result);
	const cost = costTable(result);
	const approval = approvalTable(result);
	const disk = diskTable(result.sizes);
	const chat = chatTable(result.sizes);
	const yardsticks = yardstickTable(result.sizes);
	const grown = growthTable(result);
	const stalls = stallTable(result.sizes);
	const clientStalls = clientStallTable(result.sizes);
	const gaps = machineGapsTable(result.sizes);
	return [
		latencyTable(result.sizes),
		...(chat ? [chat] : []),
		...(gaps ? [gaps] : []),
		throughputTable(result.sizes),
		...(yardsticks ? [yardsticks] : []),
		resourceTable(result.sizes),
		...(grown ? [grown] : []),
		...(disk ? [disk] : []),
		...(stalls ? [stalls] : []),
		...(clientStalls ? [clientStalls] : []),
		cryptoTable(result),
		...(approval ? [approval] : []),
		...(probe ? [probe] : []),
		...(cost ? [cost] : []),
		goalTable(result),
	];
}

export function printTables(result: BenchResult): string {
	const m = result.machine;
	const head = `${result.run} run, ${new Date(result.startedAt).toISOString()}, ${(result.durationMs / 1000).toFixed(0)} s — ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB.toFixed(0)} GiB, Node ${m.node}, load average ${m.loadAverageStart.toFixed(2)} → ${m.loadAverageEnd.toFixed(2)}`;
	return [head, ...allTables(result).map((t) => `\n${t.title}\n${table(t.header, t.rows)}`)].join("\n");
}
