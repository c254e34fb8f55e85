import { storageMemo } from "../storage/storage-memo.ts";

/**
 * `call_signal`: every call signal an account's devices send; `call_start`: every call it
 * places; `recovery_failure`: a restore with the recovery key that did not prove it;
 * `report`: every report the account files (ref: the account reported), for REPORTS_PER_DAY.
 */
export type ActivityKind =
	| "send"
	| "contact_request"
	| "refused_send"
	| "device_request"
	| "call_signal"
	| "call_start"
	| "recovery_failure"
	| "report";

/** How many of the newest send times are kept in memory (the behavioural flags look at 11). */
export const NEWEST_SENDS_KEPT = 16;
/** The newest send times, newest first: read after every send, moved by every write below. */
const newestSends = storageMemo<number[]>();

/** `ref`: the peer or device an event concerns, for the kinds whose distinct refs are counted. */
export function logActivity(sql: SqlStorage, kind: ActivityKind, at: number, ref: string | null = null): void {
	sql.exec("INSERT INTO events (kind, at, ref) VALUES (?, ?, ?)", kind, at, ref);
	if (kind === "send") newestSends.update(sql, (times) => [at, ...times].sort((a, b) => b - a).slice(0, NEWEST_SENDS_KEPT));
}

/** The newest `n` (at most NEWEST_SENDS_KEPT) send times, newest first. */
export function newestSendTimes(sql: SqlStorage, n: number): number[] {
	return newestSends.get(sql, () => recentTimes(sql, "send", 0, NEWEST_SENDS_KEPT)).slice(0, Math.min(n, NEWEST_SENDS_KEPT));
}

/** Times of the newest events of a kind after `since`, newest first. */
export function recentTimes(sql: SqlStorage, kind: ActivityKind, since: number, limit: number): number[] {
	if (limit <= 0) return [];
	return sql
		.exec<{ at: number }>("SELECT at FROM events WHERE kind = ? AND at > ? ORDER BY at DESC LIMIT ?", kind, since, limit)
		.toArray()
		.map((r) => r.at);
}

/**
 * Events of a kind in two windows ending now, in one statement: `inShort` after
 * `shortSince`, `inLong` after `longSince` (shortSince >= longSince).
 */
export function countWindows(
	sql: SqlStorage,
	kind: ActivityKind,
	shortSince: number,
	longSince: number,
): { inShort: number; inLong: number } {
	const row = sql
		.exec<{ inShort: number | null; inLong: number }>(
			"SELECT SUM(at > ?) AS inShort, COUNT(*) AS inLong FROM events WHERE kind = ? AND at > ?",
			shortSince,
			kind,
			longSince,
		)
		.one();
	return { inShort: row.inShort ?? 0, inLong: row.inLong };
}

/** The time of the n-th newest event of a kind (1-based). */
export function nthNewestTime(sql: SqlStorage, kind: ActivityKind, n: number): number | undefined {
	return sql.exec<{ at: number }>("SELECT at FROM events WHERE kind = ? ORDER BY at DESC LIMIT 1 OFFSET ?", kind, n - 1).toArray()[0]?.at;
}

export function countSince(sql: SqlStorage, kind: ActivityKind, since: number): number {
	return sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE kind = ? AND at > ?", kind, since).one().n;
}

export function distinctRefsSince(sql: SqlStorage, kind: ActivityKind, since: number): number {
	return sql.exec<{ n: number }>("SELECT COUNT(DISTINCT ref) AS n FROM events WHERE kind = ? AND at > ?", kind, since).one().n;
}

export function pruneActivity(sql: SqlStorage, before: number): void {
	sql.exec("DELETE FROM events WHERE at <= ?", before);
	newestSends.drop(sql);
}

/** Drop one kind's events older than its window, for kinds too frequent to wait for the daily prune. */
export function pruneKind(sql: SqlStorage, kind: ActivityKind, before: number): void {
	sql.exec("DELETE FROM events WHERE kind = ? AND at <= ?", kind, before);
	if (kind === "send") newestSends.drop(sql);
}
