import type { Charge } from "../db/credits.ts";

/**
 * Charges the account's object has made but D1 has not recorded yet. Together with the last
 * balance read from D1 this gives the spendable balance without asking D1 per message:
 *   available = D1 balance − everything in this journal.
 * A row is written in the same storage transaction as the send it pays for.
 */
export function holdCharge(sql: SqlStorage, c: Charge): number {
	return sql
		.exec<{ id: number }>(
			"INSERT INTO charges (ref, reason, amount, at, state) VALUES (?, ?, ?, ?, 'held') RETURNING id",
			c.ref,
			c.reason,
			c.amount,
			c.at,
		)
		.one().id;
}

export function settleCharge(sql: SqlStorage, id: number): void {
	sql.exec("UPDATE charges SET state = 'charged' WHERE id = ?", id);
}

/** The send it held for did not happen: nothing is charged, so nothing needs refunding in D1. */
export function dropCharge(sql: SqlStorage, id: number): void {
	sql.exec("DELETE FROM charges WHERE id = ? AND state = 'held'", id);
}

export function journaledTotal(sql: SqlStorage): number {
	return sql.exec<{ total: number | null }>("SELECT SUM(amount) AS total FROM charges").one().total ?? 0;
}

export function hasUnflushed(sql: SqlStorage): boolean {
	return sql.exec("SELECT 1 FROM charges WHERE state = 'charged' LIMIT 1").toArray().length > 0;
}

/**
 * The batch to write to D1 next. A batch prepared before a crash is retried with its original
 * id (so D1 can refuse it if it already landed); otherwise all settled charges form a new one.
 */
export function nextBatch(sql: SqlStorage, newId: () => string): { flushId: string; charges: Charge[] } | null {
	const pending = sql.exec<{ flush_id: string }>("SELECT flush_id FROM charges WHERE flush_id IS NOT NULL LIMIT 1").toArray()[0];
	const flushId = pending?.flush_id ?? newId();
	if (!pending) sql.exec("UPDATE charges SET flush_id = ? WHERE state = 'charged'", flushId);
	const charges = sql
		.exec<{ ref: string | null; reason: string; amount: number; at: number }>(
			"SELECT ref, reason, amount, at FROM charges WHERE flush_id = ? ORDER BY id",
			flushId,
		)
		.toArray();
	return charges.length > 0 ? { flushId, charges } : null;
}

export function finishBatch(sql: SqlStorage, flushId: string): void {
	sql.exec("DELETE FROM charges WHERE flush_id = ?", flushId);
}
