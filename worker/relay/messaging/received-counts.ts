import { storageMemo } from "../storage/storage-memo.ts";

/**
 * Counts past this stop being written: the report rule asks only for "at least one" and an
 * admin learns enough from "10 or more" (a word or two, or a conversation), while every count
 * below the cap is a row written on the delivery path. Until 2026-12-07 the cap was 100: a
 * contact's first hundred messages each cost a row, which in most conversations is most of
 * their messages, and in the benchmark's paced runs (about 20 messages each way a pair) a
 * second row written per message beside the sender's record.
 */
export const RECEIVED_COUNT_CAP = 10;

/**
 * How many messages this account received from each peer (up to RECEIVED_COUNT_CAP), counted
 * as its object takes them in (Delivery.accept). Only the count: what a report is weighed on
 * (abuse/report-weight.ts) and what an admin reviewing reports sees. A re-sent frame of a
 * message already delivered may count twice; the rule only asks for "at least one".
 */
export function countReceived(sql: SqlStorage, peerId: string): number {
	const capped = cappedMemo.get(sql, () => new Set());
	// A peer at the cap stays there (only forgetting it lowers its count): no statement at all.
	if (capped.has(peerId)) return 0;
	// At the cap the upsert's WHERE fails and nothing is written. Returns the rows written.
	const cursor = sql.exec(
		"INSERT INTO received_counts (peer_id, messages) VALUES (?, 1) ON CONFLICT (peer_id) DO UPDATE SET messages = messages + 1 WHERE messages < ?",
		peerId,
		RECEIVED_COUNT_CAP,
	);
	cursor.toArray();
	if (cursor.rowsWritten === 0) capped.add(peerId);
	return cursor.rowsWritten;
}

/** Peers whose count this object found at the cap (once per peer per object life): a statement per message less. */
const cappedMemo = storageMemo<Set<string>>();

/** The peer's count is gone (its account was deleted): it counts from zero again. */
export function forgetReceived(sql: SqlStorage, peerId: string): void {
	cappedMemo.peek(sql)?.delete(peerId);
	sql.exec("DELETE FROM received_counts WHERE peer_id = ?", peerId);
}

export function receivedFrom(sql: SqlStorage, peerId: string): number {
	return sql.exec<{ messages: number }>("SELECT messages FROM received_counts WHERE peer_id = ?", peerId).toArray()[0]?.messages ?? 0;
}
