import type { Charge } from "../../db/credits.ts";
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
}
const size = storageMemo<JournalSize>();

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
	size.update(sql, (s) => ({ amount: s.amount + c.amount, charges: s.charges + 1 }));
}

export function settleCharge(sql: SqlStorage, id: number): void {
	const settled = sql.exec("UPDATE charges SET state = 'charged' WHERE id = ? AND state = 'held' RETURNING id", id).toArray();
	if (settled.length > 0) size.update(sql, (s) => ({ ...s, charges: s.charges + 1 }));
}

/** The send it held for did not happen: nothing is charged, so nothing needs refunding in D1. */
export function dropCharge(sql: SqlStorage, id: number): void {
	const dropped = sql.exec<{ amount: number }>("DELETE FROM charges WHERE id = ? AND state = 'held' RETURNING amount", id).toArray()[0];
	if (dropped) size.update(sql, (s) => ({ ...s, amount: s.amount - dropped.amount }));
}

export function journalSize(sql: SqlStorage): JournalSize {
	return size.get(sql, () => {
		const row = sql
			.exec<{ amount: number | null; charges: number | null }>(
				"SELECT SUM(amount) AS amount, SUM(state = 'charged') AS charges FROM charges",
			)
			.one();
		return { amount: row.amount ?? 0, charges: row.charges ?? 0 };
	});
}

/** When the oldest settled charge not yet in D1 was made. */
export function oldestUnflushedAt(sql: SqlStorage): number | null {
	return sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM charges WHERE state = 'charged'").one().at;
}

/** Whether settled charges wait for D1: the journal's memo knows, no read needed. */
export const hasUnflushed = (sql: SqlStorage): boolean => journalSize(sql).charges > 0;

/** Charges per D1 batch: one bound JSON parameter carries them, so keep it well under D1's size limits. */
const MAX_BATCH = 500;

/** A batch on its way to D1: its id and exactly which charges it holds, until it landed. */
export interface Batch {
	flushId: string;
	ids: number[];
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
	if (pending !== undefined) ({ flushId, ids } = JSON.parse(pending) as { flushId: string; ids: number[] });
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
		if (ids.length === 0) return null;
		writeMeta(sql, "flush_batch", JSON.stringify({ flushId, ids }));
	}
	const charges = sql
		.exec<{ ref: string | null; reason: string; amount: number; at: number }>(
			"SELECT ref, reason, amount, at FROM charges WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
			JSON.stringify(ids),
		)
		.toArray();
	return { flushId, ids, charges };
}

export function finishBatch(sql: SqlStorage, batch: Batch): void {
	const flushed = sql
		.exec<{ amount: number }>(
			"DELETE FROM charges WHERE id IN (SELECT value FROM json_each(?)) RETURNING amount",
			JSON.stringify(batch.ids),
		)
		.toArray();
	deleteMeta(sql, "flush_batch");
	const amount = flushed.reduce((sum, row) => sum + row.amount, 0);
	size.update(sql, (s) => ({ amount: s.amount - amount, charges: s.charges - flushed.length }));
}
