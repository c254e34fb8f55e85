import type { TimedJob } from "../deadline-scheduler.ts";
import type { JobName, RelayHost } from "../host.ts";
import { newestSendTimes } from "../messaging/sent-messages.ts";
import type { CreditAccount } from "./credit-account.ts";
import { flushDeferredUntil, flushDueAt, type JournalState } from "./credit-flush-policy.ts";
import { hasUnflushed, journalSize, oldestUnflushedAt } from "./credit-journal.ts";

/** How soon a flush that failed (D1 down) is tried again. */
const FLUSH_RETRY_MS = 30_000;

/** The journal's charges go to D1 at a pause in sending (credit-flush-policy.ts); D1 down only delays them. */
export class CreditFlush implements TimedJob<JobName> {
	readonly name = "credit-flush";
	/** An alarm that finds charges waiting writes them: a few cost little, and the alarm is running anyway. */
	readonly everyAlarm = true;

	/** Looks in a row that found the account still sending; memory only (a restart looks afresh). */
	#deferrals = 0;
	/** While deferred: the look the backoff set, which a new charge must not bring forward. */
	#notBefore = 0;

	constructor(
		private readonly host: RelayHost,
		private readonly credits: CreditAccount,
	) {}

	/** A charge was just made: the flush falls due by the policy. */
	charged(now: number): Promise<void> {
		const policy = this.host.config().creditFlush;
		// Just charged, so something waits; the oldest was charged earlier and scheduled its own flush.
		const journal = { charges: journalSize(this.host.sql).charges, oldestAt: now, lastSendAt: now };
		const due = flushDueAt(journal, now, policy) ?? now + policy.maxAgeMs;
		// A flush due at once (ten batches waiting) does not wait for the backoff; one waiting for a pause does.
		return this.host.schedule("credit-flush", due > now ? Math.max(due, this.#notBefore) : due);
	}

	async run(now: number): Promise<number | null> {
		if (!hasUnflushed(this.host.sql)) return null;
		const policy = this.host.config().creditFlush;
		const deferred = flushDeferredUntil(this.journal(), now, policy, this.#deferrals);
		if (deferred !== null) {
			this.#deferrals += 1;
			this.#notBefore = deferred;
			return deferred;
		}
		this.#deferrals = 0;
		this.#notBefore = 0;
		try {
			await this.credits.flush(now);
			// Charges settled while the flush was under way wait for their own turn.
			return flushDueAt(this.journal(), now, policy);
		} catch (err) {
			// The journal stays intact and is tried again soon; the other jobs must not wait for D1.
			console.error(JSON.stringify({ event: "credit_flush_failed", name: err instanceof Error ? err.name : typeof err }));
			return now + FLUSH_RETRY_MS;
		}
	}

	private journal(): JournalState {
		const lastSend = newestSendTimes(this.host.sql, 1)[0];
		return { charges: journalSize(this.host.sql).charges, oldestAt: oldestUnflushedAt(this.host.sql), lastSendAt: lastSend ?? null };
	}
}
