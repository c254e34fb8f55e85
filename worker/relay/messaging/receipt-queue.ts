/**
 * Sealed receipts for this account's devices that had no open socket when they came. A
 * receipt only turns "sent" into "delivered" on the sender's other devices, so it is kept
 * apart from the message queue: it is not acked, never counts as a missed message when it
 * expires, and past a cap per device the oldest go first.
 */

/** Receipts kept per device; a device away long enough to gather more learns the rest as "sent". */
export const RECEIPTS_KEPT_PER_DEVICE = 1000;

export function queueReceipt(sql: SqlStorage, deviceIds: readonly string[], frame: string, expiresAt: number): void {
	for (const deviceId of deviceIds) {
		sql.exec("INSERT INTO receipt_queue (device_id, frame, expires_at) VALUES (?, ?, ?)", deviceId, frame, expiresAt);
		sql.exec(
			"DELETE FROM receipt_queue WHERE device_id = ? AND seq <= (SELECT seq FROM receipt_queue WHERE device_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
			deviceId,
			deviceId,
			RECEIPTS_KEPT_PER_DEVICE,
		);
	}
}

/**
 * The device's receipts, oldest first, removed as they are taken: they go out on its new
 * socket at once. One lost with that socket leaves its messages shown as "sent".
 */
export function takeReceipts(sql: SqlStorage, deviceId: string): string[] {
	return sql
		.exec<{ frame: string }>("DELETE FROM receipt_queue WHERE device_id = ? RETURNING seq, frame", deviceId)
		.toArray()
		.map((r) => r.frame);
}

export function expireReceipts(sql: SqlStorage, now: number): void {
	sql.exec("DELETE FROM receipt_queue WHERE expires_at <= ?", now);
}

export function earliestReceiptExpiry(sql: SqlStorage): number | null {
	return sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM receipt_queue").one().at ?? null;
}

export function dropDeviceReceipts(sql: SqlStorage, deviceId: string): void {
	sql.exec("DELETE FROM receipt_queue WHERE device_id = ?", deviceId);
}
