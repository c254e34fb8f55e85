/**
 * Sends are not logged here: the rate limit and the quota count the sender's record of what it
 * sent (messaging/sent-messages.ts). `refused_send`: a send the limits refused (refusals count toward a suspension);
 * `call_signal`: every call signal an account's devices send; `call_start`: every call it
 * places; `recovery_failure`: a restore with the recovery key that did not prove it;
 * `report`: every report the account files (ref: the account reported), for REPORTS_PER_DAY.
 */
export type ActivityKind =
	| "contact_request"
	| "refused_send"
	| "device_request"
	| "call_signal"
	| "call_start"
	| "recovery_failure"
	| "report";

/** `ref`: the peer or device an event concerns, for the kinds whose distinct refs are counted. */
export function logActivity(sql: SqlStorage, kind: ActivityKind, at: number, ref: string | null = null): void {
	sql.exec("INSERT INTO events (kind, at, ref) VALUES (?, ?, ?)", kind, at, ref);
}

/** Times of the newest events of a kind after `since`, newest first. */
export function recentTimes(sql: SqlStorage, kind: ActivityKind, since: number, limit: number): number[] {
	if (limit <= 0) return [];
	return sql
		.exec<{ at: number }>("SELECT at FROM events WHERE kind = ? AND at > ? ORDER BY at DESC LIMIT ?", kind, since, limit)
		.toArray()
		.map((r) => r.at);
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
}

/** Drop one kind's events older than its window, for kinds too frequent to wait for the daily prune. */
export function pruneKind(sql: SqlStorage, kind: ActivityKind, before: number): void {
	sql.exec("DELETE FROM events WHERE kind = ? AND at <= ?", kind, before);
}
