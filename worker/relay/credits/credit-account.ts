import { toB64u } from "../../../common/encoding.ts";
import { randomBytes } from "../../../common/nacl.ts";
import { applyCharges, readCredits } from "../../db/credits.ts";
import { readD1Credits, writeD1Credits } from "../account/account-cache.ts";
import type { RelayHost } from "../host.ts";
import { Lane } from "../lane.ts";
import { finishBatch, hasUnflushed, journalSize, nextBatch } from "./credit-journal.ts";

/**
 * The account's credits as its Durable Object sees them. The object is the only place that
 * debits the account, so it can spend against D1's balance minus its own unflushed journal
 * without a D1 round trip per message, and write the journal to D1 in batches.
 * D1 operations run one at a time (an in-memory lock is enough: after a restart none is in
 * flight, and a half-finished batch is retried under its original id).
 */
export class CreditAccount {
	private readonly lane = new Lane();
	/**
	 * Credits of sends on their way to the recipient, kept in memory only: no send survives a
	 * restart, so neither may its reservation (the send is charged once delivered).
	 */
	private inFlight = 0;

	/** D1 is read from the host at each use, so a test can stand a failing one in. */
	constructor(private readonly host: Pick<RelayHost, "sql" | "db" | "accountId">) {}

	available(): number {
		const { sql } = this.host;
		return Math.max(0, readD1Credits(sql) - journalSize(sql).amount - this.inFlight);
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

	/** Write every settled charge to D1 (ledger rows + balance), then adopt D1's balance. */
	flush(now: number): Promise<void> {
		return this.lane.run(() => this.flushBatches(now));
	}

	/** Flush only if anything waits: most reads of D1's balance find the journal empty. */
	async flushPending(now: number): Promise<void> {
		if (hasUnflushed(this.host.sql)) await this.flush(now);
	}

	/**
	 * Flush, then read D1's balance, which may have grown by a grant. Charges settled while
	 * the read is in flight are still in the journal and not yet in D1, so nothing is counted twice.
	 */
	refresh(now: number): Promise<void> {
		return this.lane.run(async () => {
			await this.flushBatches(now);
			writeD1Credits(this.host.sql, await readCredits(this.host.db, this.host.accountId));
		});
	}

	/**
	 * Take credits back outside a send (a refunded purchase), never below zero. `wanted` says
	 * how many, read inside the lane so two take-backs cannot both count on the same state;
	 * at most what the account can spend is taken, set aside at once so that no send spends
	 * it while `write` lowers D1's balance by it. `write` answers D1's new balance, or null if
	 * it changed nothing. Returns the credits taken back, or null.
	 */
	takeBack(wanted: () => Promise<number | null>, write: (take: number) => Promise<number | null>): Promise<number | null> {
		return this.lane.run(async () => {
			const want = await wanted();
			if (want === null) return null;
			const take = Math.min(Math.max(0, want), this.available());
			const release = this.reserve(take);
			try {
				const credits = await write(take);
				if (credits === null) return null;
				// The journal is not in D1 yet, so D1's balance less it is still what may be spent.
				writeD1Credits(this.host.sql, credits);
				return take;
			} finally {
				release();
			}
		});
	}

	private async flushBatches(now: number): Promise<void> {
		const { sql, accountId } = this.host;
		for (;;) {
			const batch = nextBatch(sql, () => toB64u(randomBytes(16)));
			if (!batch) return;
			// Its charges are gone (the journal was emptied): nothing to write, but the batch must end.
			if (batch.charges.length === 0) {
				finishBatch(sql, batch);
				continue;
			}
			const result = await applyCharges(this.host.db, accountId, batch.flushId, batch.charges, now);
			const credits = result.applied ? result.credits : await readCredits(this.host.db, accountId);
			// One synchronous step: the journal shrinks exactly as the D1 balance does.
			finishBatch(sql, batch);
			writeD1Credits(sql, credits);
		}
	}
}
