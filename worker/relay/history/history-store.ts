import type { HistoryTransfer } from "../../../common/protocol/wire.ts";

/**
 * History transfers in the account's object: at most one per approval, so a handful of rows.
 * The offer box is kept exactly as the approving device sealed it; the archive is in R2
 * under historyBlobKey. Nothing here can open either.
 */

type TransferRow = {
	transfer_id: string;
	from_device: string;
	from_public_key: string;
	to_device: string;
	nonce: string;
	box: string;
	state: HistoryTransfer["state"];
	size: number | null;
	created_at: number;
	expires_at: number;
};

const toTransfer = (r: TransferRow): HistoryTransfer => ({
	transferId: r.transfer_id,
	fromDevice: r.from_device,
	fromPublicKey: r.from_public_key,
	toDevice: r.to_device,
	nonce: r.nonce,
	box: r.box,
	state: r.state,
	...(r.size !== null && { size: r.size }),
	createdAt: r.created_at,
	expiresAt: r.expires_at,
});

/** Apart from attachments' `{owner}/{id}` keys: an account id never holds a slash. */
export const historyBlobKey = (accountId: string, transferId: string): string => `history/${accountId}/${transferId}`;

/** The largest list GET /api/devices/history answers with (historyTransferList's cap). */
const MAX_LISTED = 100;

/** False if a transfer with that id is there already. */
export function insertTransfer(sql: SqlStorage, t: Omit<HistoryTransfer, "state" | "size">): boolean {
	const cursor = sql.exec(
		`INSERT OR IGNORE INTO history_transfers
			(transfer_id, from_device, from_public_key, to_device, nonce, box, state, size, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, 'offered', NULL, ?, ?)`,
		t.transferId,
		t.fromDevice,
		t.fromPublicKey,
		t.toDevice,
		t.nonce,
		t.box,
		t.createdAt,
		t.expiresAt,
	);
	return cursor.rowsWritten > 0;
}

export function getTransfer(sql: SqlStorage, transferId: string): HistoryTransfer | undefined {
	const row = sql.exec<TransferRow>("SELECT * FROM history_transfers WHERE transfer_id = ?", transferId).toArray()[0];
	return row ? toTransfer(row) : undefined;
}

/** The live transfers `deviceId` sends or receives, oldest first. */
export function liveTransfersOf(sql: SqlStorage, deviceId: string, now: number): HistoryTransfer[] {
	return sql
		.exec<TransferRow>(
			"SELECT * FROM history_transfers WHERE (from_device = ? OR to_device = ?) AND expires_at > ? ORDER BY created_at, transfer_id LIMIT ?",
			deviceId,
			deviceId,
			now,
			MAX_LISTED,
		)
		.toArray()
		.map(toTransfer);
}

/** Every transfer `deviceId` takes part in, expired or not: a removed device leaves none behind. */
export function transfersWith(sql: SqlStorage, deviceId: string): HistoryTransfer[] {
	return sql
		.exec<TransferRow>("SELECT * FROM history_transfers WHERE from_device = ? OR to_device = ?", deviceId, deviceId)
		.toArray()
		.map(toTransfer);
}

export function markUploaded(sql: SqlStorage, transferId: string, size: number, expiresAt: number): void {
	sql.exec("UPDATE history_transfers SET state = 'uploaded', size = ?, expires_at = ? WHERE transfer_id = ?", size, expiresAt, transferId);
}

/** The archive under the key is gone: the transfer waits for an upload again, within the hour it has. */
export function markOffered(sql: SqlStorage, transferId: string): void {
	sql.exec("UPDATE history_transfers SET state = 'offered', size = NULL WHERE transfer_id = ?", transferId);
}

export function deleteTransfer(sql: SqlStorage, transferId: string): void {
	sql.exec("DELETE FROM history_transfers WHERE transfer_id = ?", transferId);
}

export function expiredTransfers(sql: SqlStorage, now: number): HistoryTransfer[] {
	return sql.exec<TransferRow>("SELECT * FROM history_transfers WHERE expires_at <= ?", now).toArray().map(toTransfer);
}

export function earliestTransferExpiry(sql: SqlStorage): number | null {
	return sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM history_transfers").one().at ?? null;
}
