import { CALL_REQUEST_TTL_MS, type CallRequestFrame } from "../../../common/protocol/wire.ts";

/**
 * Call requests kept by the callee's object: a contact called while this account did not take
 * their calls, so instead of a dead end the callee is asked. A row holds who asked and when,
 * nothing more (no call id, no device, no sealed part), one per contact, and lapses after
 * CALL_REQUEST_TTL_MS. The caller's offer that made it was charged to the caller's call limiter
 * (a new call) before it got here, and a request already waiting is not announced again, so
 * asking cannot flood the callee's devices.
 */

export type CallRequestAnswer = "allowed" | "not_now";

/** Keep a request from `peerId`; true if it is new (none was waiting), so the devices are to be told. */
export function recordCallRequest(sql: SqlStorage, peerId: string, now: number): boolean {
	const waiting = sql
		.exec<{ at: number }>("SELECT at FROM call_requests WHERE peer_id = ? AND at > ?", peerId, now - CALL_REQUEST_TTL_MS)
		.toArray()[0];
	if (waiting) return false;
	sql.exec("INSERT OR REPLACE INTO call_requests (peer_id, at) VALUES (?, ?)", peerId, now);
	return true;
}

/** Remove the waiting request from `peerId` and return when it was made, or null if none waits. */
export function takeCallRequest(sql: SqlStorage, peerId: string, now: number): number | null {
	const row = sql.exec<{ at: number }>("DELETE FROM call_requests WHERE peer_id = ? RETURNING at", peerId).toArray()[0];
	return row && row.at > now - CALL_REQUEST_TTL_MS ? row.at : null;
}

/** The requests still waiting, oldest first, as the frames a device that connects hears; lapsed ones go. */
export function waitingCallRequests(sql: SqlStorage, accountId: string, now: number): CallRequestFrame[] {
	sql.exec("DELETE FROM call_requests WHERE at <= ?", now - CALL_REQUEST_TTL_MS);
	return sql
		.exec<{ peer_id: string; at: number }>("SELECT peer_id, at FROM call_requests ORDER BY at")
		.toArray()
		.map((r) => ({ type: "call_request", event: "asked", from: r.peer_id, to: accountId, at: r.at }));
}
