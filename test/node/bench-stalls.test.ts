import { describe, expect, it } from "vitest";
import { summarizeProfile } from "../bench/hot-path-probe.ts";
import type { CpuProfile } from "../bench/inspector.ts";
import {
	clientStallReport,
	describeClientStalls,
	describeServerThread,
	describeStalls,
	serverThreadReport,
	stallReport,
	stretches,
	timeline,
} from "../bench/stalls.ts";

/** A profile of one sample a millisecond from t = 10 s (V8 stamps µs), `frames` naming each sample's function. */
function profileOf(frames: string[]): CpuProfile {
	const names = ["(root)", "(program)", "(idle)", "(garbage collector)", "webSocketMessage"];
	return {
		nodes: names.map((functionName, i) => ({
			id: i + 1,
			callFrame: { functionName, scriptId: "0", url: "", lineNumber: 0, columnNumber: 0 },
		})),
		startTime: 10_000_000,
		endTime: 10_000_000 + frames.length * 1000,
		samples: frames.map((f) => names.indexOf(f) + 1),
		timeDeltas: frames.map((_, i) => (i === 0 ? 0 : 1000)),
	};
}

describe("the paced run's stall trace", () => {
	it("places samples on the monotonic clock and names what ran", () => {
		const samples = timeline(profileOf(["(idle)", "webSocketMessage", "(garbage collector)", "(program)"]), 1);
		expect(samples.map((s) => [s.at, s.kind])).toEqual([
			[10_000, "idle"],
			[10_001, "js"],
			[10_002, "gc"],
			[10_003, "program"],
		]);
		// Each sample lasts until the next; the last one has nothing after it.
		expect(samples.map((s) => s.ms)).toEqual([1, 1, 1, 0]);
	});

	it("counts a gap between samples as the isolate idle, not as the sample before it", () => {
		// workerd samples only while the isolate runs: a collection's last sample, then 90 ms of nothing.
		const profile = profileOf(["webSocketMessage", "(garbage collector)", "(garbage collector)", "webSocketMessage"]);
		profile.timeDeltas = [0, 1000, 1000, 90_000];
		const samples = timeline(profile, 1);
		expect(samples.map((s) => [s.at, s.ms, s.kind])).toEqual([
			[10_000, 1, "js"],
			[10_001, 1, "gc"],
			[10_002, 2, "gc"],
			[10_004, 88, "idle"],
			[10_092, 0, "js"],
		]);
		expect(stretches(samples, "gc", 1).map((r) => r.end - r.start)).toEqual([3]);
	});

	it("finds collections as runs of consecutive samples, longest first", () => {
		const frames = [
			...Array(5).fill("(idle)"),
			...Array(3).fill("(garbage collector)"),
			"webSocketMessage",
			...Array(12).fill("(garbage collector)"),
			"(idle)",
		];
		const runs = stretches(timeline(profileOf(frames), 1), "gc", 2);
		expect(runs.map((r) => [r.start, r.end - r.start])).toEqual([
			[10_009, 12],
			[10_005, 3],
		]);
		expect(stretches(timeline(profileOf(frames), 1), "gc", 5)).toHaveLength(1);
	});

	it("tells a tail caught in a collection from the rest", () => {
		// 3 s idle but for a 60 ms collection from 11.5 s on.
		const frames = Array.from({ length: 3000 }, (_, i) => (i >= 1500 && i < 1560 ? "(garbage collector)" : "(idle)"));
		const samples = timeline(profileOf(frames), 1);
		// A message every 10 ms from 10 s, 1 ms each, except the six sent in the collection, which wait it out.
		const flights = Array.from({ length: 290 }, (_, i): [number, number] => {
			const at = 10_000 + i * 10;
			return [at, at >= 11_500 && at < 11_560 ? 11_560 - at + 1 : 1];
		});
		// Those six took 61, 51 … 11 ms; a tail from 12 ms holds five of them.
		const report = stallReport(samples, flights, 12, { samplingUs: 1000, pauseMs: 10 });
		expect(report.tail.messages).toBe(5);
		expect(report.tail.acrossPause).toBe(5);
		expect(report.all.acrossPause).toBe(6);
		expect(report.tail.byKind.gc).toBeCloseTo(report.tail.flightMs - 5, 6);
		expect(report.longestPauses).toEqual([[1, 60]]);
		expect(report.perSecond[1]).toEqual([1, 60, 60]);
		expect(report.perSecond[0]).toEqual([0, 0, 0]);
		expect(describeStalls(report)).toBe(
			"5 of 5 at or over p99 crossed a collection of ≥ 10 ms (2% of all); collecting 98% of their flights, 42% of all flights; longest 60 ms in second 1",
		);
	});

	it("says so when no collection paused the run", () => {
		const samples = timeline(profileOf(Array(100).fill("webSocketMessage")), 1);
		const report = stallReport(samples, [[10_010, 5]], 5, { samplingUs: 1000, pauseMs: 10 });
		expect(report.tail.acrossPause).toBe(0);
		expect(report.tail.byKind.js).toBe(5);
		expect(describeStalls(report)).toContain("no pause");
	});
});

describe("the hot-path probe's profile summary", () => {
	it("charges no function for the isolate's idle gaps between events", () => {
		// An event of 3 ms (two samples of ours, one native), then 50 ms with no sample, then 1 ms of ours.
		const profile = profileOf(["webSocketMessage", "webSocketMessage", "(program)", "webSocketMessage", "(idle)"]);
		profile.timeDeltas = [0, 1000, 1000, 50_000, 1000];
		const summary = summarizeProfile(profile, null, 1);
		expect(summary.idleMs).toBeCloseTo(48, 6);
		expect(summary.totalMs).toBeCloseTo(53, 6);
		const ours = summary.byFunction.find((f) => f.fn === "webSocketMessage");
		// 1 + 1 + 1 ms, not 1 + 1 + 50: the sample after the gap is not charged for it.
		expect(ours?.ms).toBeCloseTo(3, 6);
		expect(ours?.share).toBeCloseTo(3 / 5, 6);
	});
});

describe("the load threads' own stalls", () => {
	it("matches each message with the stalls of the thread that stamped it", () => {
		// Thread 0 stalled 40 ms (a collection) from 1,500 ms; thread 1 never did.
		const flights = (from: number): Array<[number, number]> => Array.from({ length: 100 }, (_, i) => [from + i * 20, 1]);
		const slow = flights(0).map(([at, ms]): [number, number] => (at >= 1480 && at < 1540 ? [at, 1540 - at] : [at, ms]));
		const report = clientStallReport(
			[
				{ flights: slow, stalls: [[1500, 40, true]] },
				// The same send times in the other thread: its messages are fast, and its thread did not stall.
				{ flights: flights(0), stalls: [] },
			],
			20,
			5,
		);
		// 1,480 (60 ms), 1,500 (40), 1,520 (20) are the tail; all three crossed thread 0's stall.
		expect(report.tail).toEqual({ messages: 3, acrossStall: 3, acrossCollection: 3 });
		expect(report.all).toEqual({ messages: 200, acrossStall: 3, acrossCollection: 3 });
		expect(report.stalledMs).toBe(40);
		expect(report.longest).toEqual([[1, 40, true]]);
		expect(describeClientStalls(report)).toBe(
			"3 of 3 at or over p99 were in flight across a stall of ≥ 5 ms of their client thread (3 a collection's; 2% of all messages); longest 40 ms in second 1 (a collection)",
		);
	});
});

describe("the server's main thread over the flights", () => {
	it("splits each flight into on a CPU, waiting for one, and asleep, from cumulative counters", () => {
		// Counters every 10 ms from 0: on a CPU 2 ms in every 10, except 100–150 ms, when it waited for a CPU throughout.
		const series: Array<[number, number, number]> = [];
		let run = 0;
		let wait = 0;
		for (let at = 0; at <= 300; at += 10) {
			series.push([at, run, wait]);
			if (at >= 100 && at < 150) wait += 10;
			else run += 2;
		}
		const flights: Array<[number, number]> = [
			[20, 10],
			[200, 10],
			[100, 50],
		];
		const report = serverThreadReport(series, flights, 50, 10);
		expect(report.tail).toEqual({ messages: 1, flightMs: 50, onCpuMs: 0, waitingMs: 50 });
		expect(report.all.onCpuMs).toBeCloseTo(4, 6);
		expect(report.all.waitingMs).toBeCloseTo(50, 6);
		expect(describeServerThread(report)).toBe(
			"the server's main thread, over the flights of the 1 at or over p99: 0% on a CPU, 100% waiting for one (all messages: 6%, 71%)",
		);
	});
});
