import { describe, expect, it } from "vitest";
import { type AlarmPort, DeadlineScheduler, type TimedJob } from "../../worker/relay/deadline-scheduler.ts";

/** The one alarm of an object, as a value: what is armed, and every time it was set. */
function fakeAlarm(start = 1_000_000) {
	const state = { now: start, armed: null as number | null, sets: [] as number[] };
	const port: AlarmPort = {
		now: () => state.now,
		armBy: async (at) => {
			if (state.armed !== null && state.armed <= at) return;
			state.armed = at;
			state.sets.push(at);
		},
		disarm: () => {
			state.armed = null;
		},
	};
	return { state, port };
}

/** A job that records its runs and returns the next deadline it is given. */
function job(name: string, next: (now: number) => number | null, extra: Partial<TimedJob> = {}) {
	const runs: number[] = [];
	const timed: TimedJob = {
		name,
		run: async (now) => {
			runs.push(now);
			return next(now);
		},
		...extra,
	};
	return { timed, runs };
}

describe("the deadline scheduler", () => {
	it("runs every job at the first alarm after a start, since no deadline is known yet, then arms the earliest one", async () => {
		const { state, port } = fakeAlarm();
		const a = job("a", (now) => now + 5_000);
		const b = job("b", (now) => now + 2_000);
		const scheduler = new DeadlineScheduler(port, [a.timed, b.timed]);
		await scheduler.alarm();
		expect([a.runs, b.runs]).toEqual([[state.now], [state.now]]);
		expect(state.armed).toBe(state.now + 2_000);
		expect(scheduler.dueAt("a")).toBe(state.now + 5_000);
	});

	it("runs only the jobs that are due once their deadlines are known", async () => {
		const { state, port } = fakeAlarm();
		const a = job("a", (now) => now + 5_000);
		const b = job("b", (now) => now + 2_000);
		const scheduler = new DeadlineScheduler(port, [a.timed, b.timed]);
		await scheduler.alarm();
		state.now += 2_000;
		await scheduler.alarm();
		expect(a.runs).toHaveLength(1);
		expect(b.runs).toHaveLength(2);
		expect(state.armed).toBe(state.now + 2_000);
	});

	it("leaves a job with nothing pending alone until something schedules it, and then arms for it", async () => {
		const { state, port } = fakeAlarm();
		const idle = job("idle", () => null);
		const scheduler = new DeadlineScheduler(port, [idle.timed]);
		await scheduler.alarm();
		expect(state.armed).toBeNull();
		await scheduler.alarm();
		expect(idle.runs).toHaveLength(1);
		await scheduler.schedule("idle", state.now + 700);
		expect(state.armed).toBe(state.now + 700);
		state.now += 700;
		await scheduler.alarm();
		expect(idle.runs).toHaveLength(2);
	});

	it("only ever moves the armed alarm earlier", async () => {
		const { state, port } = fakeAlarm();
		const scheduler = new DeadlineScheduler(port, [job("a", () => null).timed]);
		await scheduler.schedule("a", state.now + 10_000);
		await scheduler.schedule("a", state.now + 20_000);
		await scheduler.schedule("a", state.now + 3_000);
		expect(state.sets).toEqual([state.now + 10_000, state.now + 3_000]);
		expect(state.armed).toBe(state.now + 3_000);
	});

	it("does not learn a deadline from a schedule call while the job's own is unknown: the next alarm runs it anyway", async () => {
		const { state, port } = fakeAlarm();
		const scheduler = new DeadlineScheduler(port, [job("a", () => null).timed]);
		await scheduler.schedule("a", state.now + 1_000);
		expect(scheduler.dueAt("a")).toBeUndefined();
	});

	it("keeps work scheduled while its job runs, when that is earlier than what the run returned", async () => {
		const { state, port } = fakeAlarm();
		let scheduler!: DeadlineScheduler<string>;
		const retry: TimedJob = {
			name: "retry",
			run: async (now) => {
				await scheduler.schedule("retry", now + 60_000);
				return now + 90_000;
			},
		};
		scheduler = new DeadlineScheduler(port, [retry]);
		await scheduler.alarm();
		expect(scheduler.dueAt("retry")).toBe(state.now + 60_000);
		expect(state.armed).toBe(state.now + 60_000);
	});

	it("runs a job marked for every alarm whether or not it is due", async () => {
		const { state, port } = fakeAlarm();
		const flush = job("flush", (now) => now + 300_000, { everyAlarm: true });
		const other = job("other", (now) => now + 1_000);
		const scheduler = new DeadlineScheduler(port, [flush.timed, other.timed]);
		await scheduler.alarm();
		state.now += 1_000;
		await scheduler.alarm();
		expect(flush.runs).toHaveLength(2);
	});

	it("runs housekeeping with an alarm at least its period after its last run, and never arms the alarm for it", async () => {
		const { state, port } = fakeAlarm();
		const chores = job("chores", () => null, { atLeastEveryMs: 3_600_000 });
		const ticker = job("ticker", (now) => now + 600_000);
		const scheduler = new DeadlineScheduler(port, [chores.timed, ticker.timed]);
		await scheduler.alarm();
		expect(state.armed).toBe(state.now + 600_000);
		for (let i = 0; i < 6; i++) {
			state.now += 600_000;
			await scheduler.alarm();
		}
		// Alarms at +10, +20 … +60 min: housekeeping ran at the start and again at +60 min only.
		expect(chores.runs).toEqual([1_000_000, 1_000_000 + 3_600_000]);
	});

	it("clears the stored alarm when it fires, so a job that schedules during the alarm arms a fresh one", async () => {
		const { state, port } = fakeAlarm();
		state.armed = state.now;
		const scheduler = new DeadlineScheduler(port, [job("a", () => null).timed]);
		await scheduler.alarm();
		expect(state.armed).toBeNull();
	});
});
