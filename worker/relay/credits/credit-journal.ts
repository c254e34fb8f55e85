import type { Charge } from "../../db/credits.ts";
import { markSendsFlushed, recordCharges, sendsFlushedUpTo } from "../messaging/sent-messages.ts";
import { storageMemo } from "../storage/storage-memo.ts";
import { deleteMeta, readMeta, writeMeta } from "../storage/storage-schema.ts";

/** The journal's size, read on every send: kept in memory, moved by every write below. */
export interface JournalSize {
	/** Credits journaled (held or charged). */
	amount: number;
	/**
	 * Settled charges, the ones a flush writes to D1. Holds (an attachment's reservation until
	 * its message goes) are not counted: they would make the flush policy flush early and,
	 * past a batch's worth of open reservations, on every send.
	 */
	charges: number;
	/** When the oldest settled charge not yet in D1 was made; null when there is none. */
	oldestAt: number | null;
}
const size = storageMemo<JournalSize>();

/**
 * A text, an edit or a delete is charged in its own row of the sender's record
 * (messaging/sent-messages.ts: `price`, `charge_reason`, `charge_seq`), not in a row of
 * `charges` written at the send and deleted at the flush: two rows written per message for
 * what the record's one row can carry. The record's charges are numbered in the order they
 * are made; those numbered above a watermark (kept by the record: sendsFlushedUpTo) are not
 * in D1 yet. A flush moves it, one meta row per flush instead of a delete per charge.
 */
/** The number the next charged send gets: read by a scan once per object life, then counted here. */
const nextSendSeq = storageMemo<number>();

export { sendsFlushedUpTo };

/**
 * A delivered message's price, journaled in the sender's record: returns the number the
 * caller writes in the record's row (recordSent), in the same synchronous step.
 */
export function chargeSent(sql: SqlStorage, amount: number, at: number): number {
	const seq = nextSendSeq.get(sql, () => loadJournal(sql).nextSeq);
	nextSendSeq.update(sql, (n) => n + 1);
	size.update(sql, (s) => ({ amount: s.amount + amount, charges: s.charges + 1, oldestAt: s.oldestAt ?? at }));
	return seq;
}

/**
 * Charges the account's object has made but D1 has not recorded yet. Together with the last
 * balance read from D1 this gives the spendable balance without asking D1 per message:
 *   available = D1 balance − everything in this journal.
 * A row is written in the same storage transaction as the send it pays for.
 */
export function holdCharge(sql: SqlStorage, c: Charge): number {
	const { id } = sql
		.exec<{ id: number }>(
			"INSERT INTO charges (ref, reason, amount, at, state) VALUES (?, ?, ?, ?, 'held') RETURNING id",
			c.ref,
			c.reason,
			c.amount,
			c.at,
		)
		.one();
	size.update(sql, (s) => ({ ...s, amount: s.amount + c.amount }));
	return id;
}

/** A charge for something already done (a delivered message): journaled as charged at once. */
export function recordCharge(sql: SqlStorage, c: Charge): void {
	sql.exec("INSERT INTO charges (ref, reason, amount, at, state) VALUES (?, ?, ?, ?, 'charged')", c.ref, c.reason, c.amount, c.at);
	size.update(sql, (s) => ({ amount: s.amount + c.amount, charges: s.charges + 1, oldestAt: s.oldestAt ?? c.at }));
}

export function settleCharge(sql: SqlStorage, id: number): void {
	const settled = sql
		.exec<{ at: number }>("UPDATE charges SET state = 'charged' WHERE id = ? AND state = 'held' RETURNING at", id)
		.toArray()[0];
	// The hold's own time, as the batch's row will have it.
	if (settled) size.update(sql, (s) => ({ ...s, charges: s.charges + 1, oldestAt: Math.min(s.oldestAt ?? settled.at, settled.at) }));
}

/** The send it held for did not happen: nothing is charged, so nothing needs refunding in D1. */
export function dropCharge(sql: SqlStorage, id: number): void {
	const dropped = sql.exec<{ amount: number }>("DELETE FROM charges WHERE id = ? AND state = 'held' RETURNING amount", id).toArray()[0];
	if (dropped) size.update(sql, (s) => ({ ...s, amount: s.amount - dropped.amount }));
}

export function journalSize(sql: SqlStorage): JournalSize {
	return size.get(sql, () => loadJournal(sql).size);
}

/**
 * The journal's size and the next charge number, read together. The record's charges come
 * from memory (messaging/sent-messages.ts recordCharges), filled by the pass an object's start
 * makes over the sender's record anyway: the record has no index but its id, so a read of the
 * journal's own was a pass over every row again, at every wake from hibernation and after
 * every flush that charges outran. Each memo takes its value if it has none, so both describe
 * the same moment and every later charge moves both (chargeSent).
 */
function loadJournal(sql: SqlStorage): { size: JournalSize; nextSeq: number } {
	const held = sql
		.exec<{ amount: number | null; charges: number | null; oldestAt: number | null }>(
			"SELECT SUM(amount) AS amount, SUM(state = 'charged') AS charges, MIN(CASE WHEN state = 'charged' THEN at END) AS oldestAt FROM charges",
		)
		.one();
	const { maxSeq, unflushed } = recordCharges(sql);
	const oldestAt = unflushed.reduce<number | null>((oldest, c) => (oldest === null || c.at < oldest ? c.at : oldest), held.oldestAt);
	const loaded = {
		size: {
			amount: (held.amount ?? 0) + unflushed.reduce((sum, c) => sum + c.amount, 0),
			charges: (held.charges ?? 0) + unflushed.length,
			oldestAt,
		},
		nextSeq: maxSeq + 1,
	};
	return { size: size.get(sql, () => loaded.size), nextSeq: nextSendSeq.get(sql, () => loaded.nextSeq) };
}

/** Forget the memo: the next look reads storage (for tests that compare the two). */
export const dropJournalSize = (sql: SqlStorage): void => size.drop(sql);

/** When the oldest settled charge not yet in D1 was made. */
export const oldestUnflushedAt = (sql: SqlStorage): number | null => journalSize(sql).oldestAt;

/** Whether settled charges wait for D1: the journal's memo knows, no read needed. */
export const hasUnflushed = (sql: SqlStorage): boolean => journalSize(sql).charges > 0;

/** Charges per D1 batch: one bound JSON parameter carries them, so keep it well under D1's size limits. */
const MAX_BATCH = 500;

/** A charge of the sender's record, as a batch carries it. */
type RecordedCharge = {
	ref: string;
	reason: string;
	amount: number;
	at: number;
};

/** A batch on its way to D1: its id and exactly which charges it holds, until it landed. */
export interface Batch {
	flushId: string;
	/** Rows of `charges` (attachments, and charges older code journaled there). */
	ids: number[];
	/** The record's charges numbered after `after` up to `upTo`, if any. */
	sends: { after: number; upTo: number } | null;
	charges: Charge[];
}

/**
 * The batch to write to D1 next. A batch prepared before a crash is retried with its original
 * id and charges (so D1 can refuse it if it already landed); otherwise the oldest settled
 * charges form a new one. The batch is one meta row naming its charges, not a mark on each:
 * a mark was one more row written per charge.
 */
export function nextBatch(sql: SqlStorage, newId: () => string): Batch | null {
	const pending = readMeta(sql, "flush_batch");
	let flushId: string;
	let ids: number[];
	let sends: Batch["sends"] = null;
	// The record's charges of a batch made here: the pass that chose them read them whole.
	let chosen: Array<RecordedCharge & { seq: number }> | null = null;
	if (pending !== undefined) ({ flushId, ids, sends = null } = JSON.parse(pending) as Omit<Batch, "charges">);
	else {
		// A batch that code before this one prepared marks its rows instead.
		const marked = sql.exec<{ flush_id: string }>("SELECT flush_id FROM charges WHERE flush_id IS NOT NULL LIMIT 1").toArray()[0];
		flushId = marked?.flush_id ?? newId();
		ids = (
			marked
				? sql.exec<{ id: number }>("SELECT id FROM charges WHERE flush_id = ? ORDER BY id", flushId)
				: sql.exec<{ id: number }>("SELECT id FROM charges WHERE state = 'charged' ORDER BY id LIMIT ?", MAX_BATCH)
		)
			.toArray()
			.map((r) => r.id);
		if (!marked) {
			const after = sendsFlushedUpTo(sql);
			// From memory: the record has no index on charge_seq, and a pass over it here was
			// the flush's biggest cost, in the sender's object between two of its messages.
			chosen = recordCharges(sql).unflushed.slice(0, MAX_BATCH - ids.length);
			const last = chosen[chosen.length - 1];
			if (last) sends = { after, upTo: last.seq };
		}
		if (ids.length === 0 && sends === null) return null;
		writeMeta(sql, "flush_batch", JSON.stringify({ flushId, ids, ...(sends && { sends }) }));
	}
	const journaled = sql
		.exec<{ ref: string | null; reason: string; amount: number; at: number }>(
			"SELECT ref, reason, amount, at FROM charges WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
			JSON.stringify(ids),
		)
		.toArray();
	// A batch retried after a restart reads its charges again, by the range it named.
	const recorded: RecordedCharge[] =
		chosen?.map(({ ref, reason, amount, at }) => ({ ref, reason, amount, at })) ??
		(sends
			? sql
					.exec<RecordedCharge>(
						"SELECT id AS ref, charge_reason AS reason, price AS amount, at FROM sent_messages WHERE charge_seq > ? AND charge_seq <= ? ORDER BY charge_seq",
						sends.after,
						sends.upTo,
					)
					.toArray()
			: []);
	// In the order they were made, so the ledger reads as the account spent.
	const charges = [...journaled, ...recorded].sort((a, b) => a.at - b.at);
	return { flushId, ids, sends, charges };
}

export function finishBatch(sql: SqlStorage, batch: Batch): void {
	sql.exec("DELETE FROM charges WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(batch.ids));
	if (batch.sends) markSendsFlushed(sql, batch.sends.upTo);
	deleteMeta(sql, "flush_batch");
	// The memo counts everything not yet finished, this batch too (also one retried after a
	// restart, which the memo was loaded with): what it held goes out of the memo as it went
	// out of the journal. Usually the batch was all there was, and nothing is read. If charges
	// were made while it was on its way to D1, the oldest of them is not known here: the memo
	// is made again at the next look, from the record's charges in memory and the small
	// `charges` table.
	const known = size.peek(sql);
	if (known && known.charges === batch.charges.length) {
		const amount = batch.charges.reduce((sum, c) => sum + c.amount, 0);
		size.update(sql, (s) => ({ amount: s.amount - amount, charges: 0, oldestAt: null }));
	} else size.drop(sql);
}
