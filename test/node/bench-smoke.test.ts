// Keeps the benchmark (test/bench, `npm run bench`) working: its smoke run end to end against
// a real `wrangler dev` and the floor relay. No timing is asserted — only that it completes,
// loses and duplicates nothing, and that its JSON holds every figure.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBenchmark, writeResults } from "../bench/main.ts";
import { SMOKE } from "../bench/options.ts";

const outDir = mkdtempSync(path.join(tmpdir(), "sm-bench-"));

afterAll(() => {
	rmSync(outDir, { recursive: true, force: true });
});

const LATENCY = ["count", "p50", "p90", "p99", "max", "mean"];
const RUN = ["latencyMs", "sent", "scheduled", "delivered", "lost", "duplicated", "offeredPerSecond", "deliveredPerSecond", "clientBusy"];
const KIND = ["setupMs", "connectMs", "singlePair", "paced", "saturated", "wakeBothIdle", "wakeRecipientIdle", "memory", "cpuMsPerMessage"];

function expectNumber(value: unknown, where: string): void {
	expect(typeof value, where).toBe("number");
}

describe("the benchmark's smoke run", () => {
	it("runs ours and the floor end to end with nothing lost or duplicated, and writes every figure", async () => {
		const lines: string[] = [];
		const result = await runBenchmark({ ...SMOKE, outDir }, (line) => lines.push(line));
		const files = writeResults(result);
		const json = JSON.parse(readFileSync(files.json, "utf8"));

		expect(result.lostTotal, lines.join("\n")).toBe(0);
		expect(result.duplicatedTotal, lines.join("\n")).toBe(0);
		expect(readFileSync(files.svg, "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
		// The one pair's flights, both sides, in send order: the figure for looking at when its slow ones came.
		const flights = JSON.parse(readFileSync(path.join(outDir, "single-pair-flights-10.json"), "utf8"));
		for (const side of ["relay", "floor"]) {
			expect(flights[side], side).toHaveLength(SMOKE.sequentialCount);
			expect(
				flights[side].every(([at, ms]: [number, number]) => at > 0 && ms > 0),
				side,
			).toBe(true);
		}

		for (const key of [
			"benchmark",
			"run",
			"startedAt",
			"durationMs",
			"command",
			"machine",
			"options",
			"server",
			"sizes",
			"viaDevProxy",
			"crypto",
			"probe",
			"cost",
			"approval",
			"growth",
			"goals",
			"lostTotal",
			"duplicatedTotal",
		]) {
			expect(json, key).toHaveProperty(key);
		}
		for (const key of ["cpus", "cpuModel", "memoryGiB", "node", "loadAverageStart", "loadAverageEnd"])
			expect(json.machine, key).toHaveProperty(key);

		expect(json.sizes).toHaveLength(SMOKE.sizes.length);
		for (const size of json.sizes) {
			for (const kind of ["relay", "floor"]) {
				const figures = size[kind];
				for (const key of KIND) expect(figures, `${kind}.${key}`).toHaveProperty(key);
				for (const run of ["singlePair", "paced", "saturated"]) {
					for (const key of RUN) expect(figures[run], `${kind}.${run}.${key}`).toHaveProperty(key);
					for (const key of LATENCY) expectNumber(figures[run].latencyMs[key], `${kind}.${run}.latencyMs.${key}`);
					expect(figures[run].delivered, `${kind}.${run} delivered something`).toBeGreaterThan(0);
				}
				for (const wake of ["wakeBothIdle", "wakeRecipientIdle"]) {
					for (const key of ["idleMs", "latencyMs", "objectsConstructed", "lost"])
						expect(figures[wake], `${kind}.${wake}.${key}`).toHaveProperty(key);
					expectNumber(figures[wake].latencyMs.p50, `${kind}.${wake}.latencyMs.p50`);
				}
				for (const key of ["rssBefore", "rssConnected", "perSocketBytes"]) expectNumber(figures.memory[key], `${kind}.memory.${key}`);
				for (const key of ["paced", "saturated", "singlePair"])
					expectNumber(figures.cpuMsPerMessage[key], `${kind}.cpuMsPerMessage.${key}`);
			}
			for (const key of ["singlePair", "paced", "saturatedThroughput", "perSocketMemory", "wakeBothIdleP50", "cpuPerMessage"]) {
				expect(size.ratio, `ratio.${key}`).toHaveProperty(key);
			}
			for (const key of ["p50", "p90", "p99", "max"]) expectNumber(size.ratio.singlePair[key], `ratio.singlePair.${key}`);
			// The one sending pair ran on both sides in alternating blocks (none of the warm-up
			// messages counted), every message of it delivered on each.
			expect(size.singlePairBlocks).toBe(Math.ceil(SMOKE.sequentialCount / SMOKE.singlePairBlock));
			expect(size.singlePairBlocks).toBeGreaterThan(1);
			// Split only when asked (--split-cores).
			expect(size.singlePairServerCores).toBeNull();
			// The machine's gaps, probed on every core before the pair.
			expect(size.singlePairMachineGaps.probeMs).toBe(SMOKE.gapProbeMs);
			expect(size.singlePairMachineGaps.cores).toHaveLength(json.machine.cpus);
			for (const core of size.singlePairMachineGaps.cores) {
				expect(core.over02PerSecond).toBeGreaterThanOrEqual(core.over1PerSecond);
				expect(core.awayShare).toBeGreaterThanOrEqual(0);
				expect(core.awayShare).toBeLessThan(1);
			}
			for (const kind of ["relay", "floor"]) expect(size[kind].singlePair.delivered, kind).toBe(SMOKE.sequentialCount);
			// The one-object chat's one sending pair, and its ratios.
			for (const key of LATENCY) expectNumber(size.oneObjectChat.singlePair.latencyMs[key], `oneObjectChat.singlePair.latencyMs.${key}`);
			expect(size.oneObjectChat.singlePair.delivered).toBe(SMOKE.sequentialCount);
			// The chat's workerd memory around connecting, read as the relay's is (the growth table's yardstick).
			for (const key of ["rssBefore", "rssConnected", "perSocketBytes"])
				expectNumber(size.oneObjectChat.memory[key], `oneObjectChat.memory.${key}`);
			expect(size.oneObjectChat.memory.rssConnected, "the chat's workerd was found").toBeGreaterThan(0);
			expectNumber(size.oneObjectChat.connectMs, "oneObjectChat.connectMs");
			// The runtime's own CPU for a message (in, one insert, out): the yardstick for ours. The
			// smoke run's 20 messages can fall inside one 10 ms clock tick, so it may read 0.
			expectNumber(size.oneObjectChat.cpuMsPerMessage, "oneObjectChat.cpuMsPerMessage");
			expect(size.oneObjectChat.cpuMsPerMessage).toBeGreaterThanOrEqual(0);
			for (const key of ["p50", "p99"]) {
				expectNumber(size.oneObjectChat.toFloor[key], `oneObjectChat.toFloor.${key}`);
				expectNumber(size.oneObjectChat.relayTo[key], `oneObjectChat.relayTo.${key}`);
			}
			// Both workerd yardsticks under the relay's workloads: the one pair, paced and saturated,
			// and the minimal per-user relay's messages acked and recorded, none lost.
			for (const name of ["oneObjectChat", "minimalRelay"]) {
				const y = size[name];
				expect(y.singlePair.delivered, `${name}.singlePair`).toBe(SMOKE.sequentialCount);
				for (const run of ["paced", "saturated"]) {
					expect(y.load[run].delivered, `${name}.load.${run} delivered something`).toBeGreaterThan(0);
					expect(y.load[run].lost, `${name}.load.${run}.lost`).toBe(0);
					expectNumber(y.load[run].latencyMs.p99, `${name}.load.${run}.latencyMs.p99`);
					expectNumber(y.load.cpuMsPerMessage[run], `${name}.load.cpuMsPerMessage.${run}`);
				}
				expectNumber(y.loadRatios.saturatedFloorTo, `${name}.loadRatios.saturatedFloorTo`);
				// A ratio to a CPU time that fell inside one clock tick is written as null.
				expect(y.loadRatios, `${name}.loadRatios`).toHaveProperty("relayCpuPaced");
			}
			expect(
				lines.some((l) => /^(\[[^\]]*\] )?minimal relay N=10: connected/.test(l)),
				lines.join("\n"),
			).toBe(true);
			// SMOKE.diskSizes: the same size again with the runtime's state on disk.
			for (const key of KIND) expect(size.onDisk.relay, `onDisk.relay.${key}`).toHaveProperty(key);
			expect(size.onDisk.relay.paced.delivered, "onDisk paced delivered something").toBeGreaterThan(0);
			expectNumber(size.onDisk.ratio.paced.p99, "onDisk.ratio.paced.p99");
		}
		expect(json.server.relayState).toBe("RAM (/dev/shm)");

		// Seal+open at both sizes and envelopes, for ours, TweetNaCl and libsodium.
		const crypto = json.crypto as Array<{ operation: string; implementation: string; opsPerSecond: number }>;
		for (const operation of ["seal+open 1 KiB", "seal+open 1 MiB", "crypto_box (from X25519 keys)", "crypto_box_open (from X25519 keys)"]) {
			for (const implementation of ["ours (nacl.ts)", "TweetNaCl", "libsodium"]) {
				const row = crypto.find((c) => c.operation === operation && c.implementation === implementation);
				expect(row, `${operation} / ${implementation}`).toBeDefined();
				expect(row?.opsPerSecond).toBeGreaterThan(0);
			}
		}
		expect(crypto.some((c) => c.operation.startsWith("envelope wrap") && c.implementation === "ours (contact-key.ts)")).toBe(true);

		expectNumber(json.viaDevProxy.singlePair.latencyMs.p50, "viaDevProxy.singlePair.latencyMs.p50");
		for (const key of ["messages", "sqlStatementsPerMessage", "d1RoundTripsPerMessage", "sqlPerMessage", "d1", "profile"]) {
			expect(json.probe, `probe.${key}`).toHaveProperty(key);
		}
		expect(json.probe.sqlStatementsPerMessage).toBeGreaterThan(0);
		// Rows as the cursors report them, and the billed events: frames in, and one delivery call per message.
		expect(json.probe.rowsWrittenPerMessage).toBeGreaterThan(1);
		// A send frame per message, and at most one ack (acks of messages close together are one frame).
		expect(json.probe.eventsPerMessage.webSocketMessage).toBeGreaterThanOrEqual(1);
		expect(json.probe.eventsPerMessage.webSocketMessage).toBeLessThanOrEqual(2);
		expect(json.probe.eventsPerMessage.deliver).toBeCloseTo(1, 1);
		// One message per probe pair counted apart (a full run leaves them idle past eviction first; this one does not).
		expect(json.probe.woken).toMatchObject({ messages: SMOKE.probePairs });
		expect(json.probe.woken.sqlStatementsPerMessage).toBeGreaterThan(0);
		expect(json.probe.woken.objectsConstructed).toBeGreaterThanOrEqual(0);
		// A million messages priced, ours beside the one-object chat, which writes one row a message.
		expect(json.cost.prices.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
		expect(json.cost.oneObjectChat.usage.rowsWritten).toBe(1);
		expect(json.cost.relay.perMillion).toBeGreaterThan(json.cost.oneObjectChat.perMillion);
		expectNumber(json.cost.ratio, "cost.ratio");
		// The same messages priced as if each woke its objects (the smoke run's are not woken: it waits for no eviction).
		expect(json.cost.woken.usage.rowsWritten).toBeGreaterThanOrEqual(1);
		expect(json.cost.woken.perMillion).toBeGreaterThan(0);
		// A device approval timed in Chromium, before and after the shared key.
		expect(json.approval.contacts).toBe(SMOKE.approvalContacts);
		expect(json.approval.afterMs).toBeGreaterThan(0);
		expect(json.approval.beforeMs).toBeGreaterThan(json.approval.afterMs);
		expect(json.goals.length).toBeGreaterThan(0);
		// What our code adds, against the minimal relay that ran beside it: a measured ratio at each N.
		const againstMinimal = json.goals.filter((g: { goal: string }) => /minimal relay/.test(g.goal));
		expect(againstMinimal.map((g: { goal: string }) => g.goal)).toEqual([
			"N=10: server CPU per paced message, relay / minimal relay ≤ 2×",
			"N=10: saturated, minimal relay/relay messages per second ≤ 2×",
		]);
		for (const g of againstMinimal) expectNumber(g.value, g.goal);
		// Only the growth run (--growth) has a growth table.
		expect(json.growth).toBeNull();
	}, 150_000);
});
