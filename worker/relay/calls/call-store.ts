import type { CallRecord, CallRole, CallState } from "./call-signaling.ts";

/**
 * Calls in progress, in the object's storage rather than its memory: a ringing call must
 * survive the object hibernating between two signals. Records carry no media and no keys,
 * only who talks to whom, and are deleted when the call ends or expires.
 */

type CallRow = {
	call_id: string;
	peer_id: string;
	role: CallRole;
	own_device: string | null;
	peer_device: string | null;
	state: CallState;
	expires_at: number;
};

const toRecord = (r: CallRow): CallRecord => ({
	callId: r.call_id,
	peerId: r.peer_id,
	role: r.role,
	ownDevice: r.own_device,
	peerDevice: r.peer_device,
	state: r.state,
	expiresAt: r.expires_at,
});

export function getCall(sql: SqlStorage, callId: string): CallRecord | undefined {
	const row = sql.exec<CallRow>("SELECT * FROM calls WHERE call_id = ?", callId).toArray()[0];
	return row ? toRecord(row) : undefined;
}

export function insertCall(sql: SqlStorage, call: CallRecord): void {
	sql.exec(
		"INSERT INTO calls (call_id, peer_id, role, own_device, peer_device, state, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		call.callId,
		call.peerId,
		call.role,
		call.ownDevice,
		call.peerDevice,
		call.state,
		call.expiresAt,
	);
}

/** The call was accepted: by our `device` (callee side) or by the peer's (caller side). */
export function activateCall(sql: SqlStorage, call: CallRecord, device: string, expiresAt: number): void {
	const column = call.role === "callee" ? "own_device" : "peer_device";
	sql.exec(`UPDATE calls SET state = 'active', ${column} = ?, expires_at = ? WHERE call_id = ?`, device, expiresAt, call.callId);
}

/** An active call stays known while signals flow. */
export function touchCall(sql: SqlStorage, callId: string, expiresAt: number): void {
	sql.exec("UPDATE calls SET expires_at = ? WHERE call_id = ? AND state = 'active'", expiresAt, callId);
}

export function deleteCall(sql: SqlStorage, callId: string): void {
	sql.exec("DELETE FROM calls WHERE call_id = ?", callId);
	sql.exec("DELETE FROM call_budgets WHERE call_id = ?", callId);
}

/** Remove and return every call whose time is up. */
export function expireCalls(sql: SqlStorage, now: number): CallRecord[] {
	const expired = sql.exec<CallRow>("DELETE FROM calls WHERE expires_at <= ? RETURNING *", now).toArray().map(toRecord);
	for (const call of expired) sql.exec("DELETE FROM call_budgets WHERE call_id = ?", call.callId);
	return expired;
}

/** The sealed signal bytes this account's devices sent in the call so far. */
export function signalBytes(sql: SqlStorage, callId: string): number {
	return sql.exec<{ bytes: number }>("SELECT bytes FROM call_budgets WHERE call_id = ?", callId).toArray()[0]?.bytes ?? 0;
}

export function addSignalBytes(sql: SqlStorage, callId: string, bytes: number): void {
	sql.exec(
		"INSERT INTO call_budgets (call_id, bytes) VALUES (?, ?) ON CONFLICT (call_id) DO UPDATE SET bytes = bytes + excluded.bytes",
		callId,
		bytes,
	);
}

export function earliestCallExpiry(sql: SqlStorage): number | null {
	return sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM calls").one().at;
}
