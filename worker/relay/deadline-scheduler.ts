/**
 * Every timed job of an account's object over the one alarm a Durable Object has.
 *
 * A job runs when an alarm fires and its deadline has passed, and returns its next deadline
 * (null: nothing pending until something schedules it again). Deadlines are kept in memory:
 * after a restart or a wake from hibernation they are unknown, so the first alarm runs every
 * job once and learns them again. That is what keeps a busy sender's frequent credit-flush
 * alarms from sweeping every table each time.
 */
export interface TimedJob<Name extends string = string> {
	readonly name: Name;
	run(now: number): Promise<number | null>;
	/**
	 * Housekeeping with no deadline of its own (pruning old rows): it never arms the alarm, but
	 * runs with an alarm that comes at least this long after its last run.
	 */
	readonly atLeastEveryMs?: number;
	/** Runs with every alarm, due or not: the job itself decides whether there is work (see credit-flush.ts). */
	readonly everyAlarm?: boolean;
}

export interface AlarmPort {
	now(): number;
	/**
	 * The alarm comes no later than `at`: armed if none is, moved if it is later, left alone
	 * otherwise. The port compares and arms with no await in between, so that two callers
	 * cannot both find no alarm and the later time win.
	 */
	armBy(at: number): Promise<void>;
	/** The alarm fired: none is armed until the next armBy. */
	disarm(): void;
}

export class DeadlineScheduler<Name extends string> {
	readonly #jobs: readonly TimedJob<Name>[];
	/** undefined: unknown in this instance; null: nothing pending. */
	readonly #due = new Map<Name, number | null>();

	constructor(
		readonly port: AlarmPort,
		jobs: readonly TimedJob<Name>[],
	) {
		this.#jobs = jobs;
	}

	/** Something of `job` falls due at `at`: the alarm comes no later than that. */
	async schedule(job: Name, at: number): Promise<void> {
		const known = this.#due.get(job);
		if (known !== undefined) this.#due.set(job, known === null ? at : Math.min(known, at));
		await this.#armBy(at);
	}

	/** The job's deadline as this instance knows it (undefined: not known since the last start). */
	dueAt(job: Name): number | null | undefined {
		return this.#due.get(job);
	}

	async alarm(): Promise<void> {
		const now = this.port.now();
		// Cleared first: whatever happens below, the next schedule() arms a fresh alarm.
		this.port.disarm();
		for (const job of this.#jobs) {
			const due = this.#due.get(job.name);
			if (!job.everyAlarm && due !== undefined && (due === null || due > now)) continue;
			// Anything scheduled while the job runs is kept: it may be later work of the same job.
			this.#due.set(job.name, null);
			const next = await job.run(now);
			const during = this.#due.get(job.name) ?? null;
			const soft = job.atLeastEveryMs === undefined ? null : now + job.atLeastEveryMs;
			this.#due.set(job.name, earliest([next, during, soft]));
		}
		const next = earliest(this.#jobs.filter((j) => j.atLeastEveryMs === undefined).map((j) => this.#due.get(j.name) ?? null));
		if (next !== null) await this.#armBy(next);
	}

	/** One alarm for everything: it moves only earlier, or is set when none is armed. */
	#armBy(at: number): Promise<void> {
		return this.port.armBy(at);
	}
}

const earliest = (times: ReadonlyArray<number | null>): number | null => {
	const known = times.filter((t): t is number => t !== null);
	return known.length === 0 ? null : Math.min(...known);
};
