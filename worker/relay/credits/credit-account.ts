import { toB64u } from "../../../common/encoding.ts";
import { randomBytes } from "../../../common/nacl.ts";
import { applyCharges, readCredits } from "../../db/credits.ts";
import { readD1Credits, writeD1Credits } from "../account/account-cache.ts";
import { finishBatch, journalSize, nextBatch } from "./credit-journal.ts";

/**
 * The account's credits as its Durable Object sees them. The object is the only place that
 * debits the account, so it can spend against D1's balance minus its own unflushed journal
 * without a D1 round trip per message, and write the journal to D1 in batches.
 * D1 operations run one at a time (an in-memory lock is enough: after a restart none is in
 * flight, and a half-finished batch is retried under its original id).
 */
export class CreditAccount {
	private lock: Promise<unknown> = Promise.resolve();
	/**
	 * Credits of sends on their way to the recipient, kept in memory only: no send survives a
	 * restart, so neither may its reservation (the send is charged once delivered).
	 */
	private inFlight = 0;

	constructor(
		private readonly sql: SqlStorage,
		private readonly db: D1Database,
	) {}

	available(): number {
		return Math.max(0, readD1Credits(this.sql) - journalSize(this.sql).amount - this.inFlight);
	}

	/** Set `amount` aside while a send is delivered; call the result once it is charged or failed. */
	reserve(amount: number): () => void {
		this.inFlight += amount;
		let released = false;
		return () => {
			if (released) return;
			released = true;
			this.inFlight -= amount;
		};
	}

	private exclusive<T>(work: () => Promise<T>): Promise<T> {
		const run = this.lock.then(work, work);
		this.lock = run.catch(() => undefined);
		return run;
	}

	/** Write every settled charge to D1 (ledger rows + balance), then adopt D1's balance. */
	flush(accountId: string, now: number): Promise<void> {
		return this.exclusive(() => this.flushBatches(accountId, now));
	}

	/**
	 * Flush, then read D1's balance, which may have grown by a grant. Charges settled while
	 * the read is in flight are still in the journal and not yet in D1, so nothing is counted twice.
	 */
	refresh(accountId: string, now: number): Promise<void> {
		return this.exclusive(async () => {
			await this.flushBatches(accountId, now);
			writeD1Credits(this.sql, await readCredits(this.db, accountId));
		});
	}

	private async flushBatches(accountId: string, now: number): Promise<void> {
		for (;;) {
			const batch = nextBatch(this.sql, () => toB64u(randomBytes(16)));
			if (!batch) return;
			const result = await applyCharges(this.db, accountId, batch.flushId, batch.charges, now);
			const credits = result.applied ? result.credits : await readCredits(this.db, accountId);
			// One synchronous step: the journal shrinks exactly as the D1 balance does.
			finishBatch(this.sql, batch.flushId);
			writeD1Credits(this.sql, credits);
		}
	}
}
