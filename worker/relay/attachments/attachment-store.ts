/** Attachments on both sides of a transfer, in the owning user's Durable Object storage. */

export interface Upload {
	id: string;
	to: string;
	size: number;
	sealedSize: number;
	holdId: number;
	status: "reserved" | "uploaded" | "sent";
	msgId: string | null;
	expiresAt: number;
}

type UploadRow = {
	id: string;
	to_account: string;
	size: number;
	sealed_size: number;
	hold_id: number;
	status: Upload["status"];
	msg_id: string | null;
	expires_at: number;
};

const toUpload = (r: UploadRow): Upload => ({
	id: r.id,
	to: r.to_account,
	size: r.size,
	sealedSize: r.sealed_size,
	holdId: r.hold_id,
	status: r.status,
	msgId: r.msg_id,
	expiresAt: r.expires_at,
});

export const blobKey = (owner: string, attachmentId: string): string => `${owner}/${attachmentId}`;

export function saveUpload(sql: SqlStorage, u: Omit<Upload, "status" | "msgId">): void {
	sql.exec(
		"INSERT INTO uploads (id, to_account, size, sealed_size, hold_id, status, expires_at) VALUES (?, ?, ?, ?, ?, 'reserved', ?)",
		u.id,
		u.to,
		u.size,
		u.sealedSize,
		u.holdId,
		u.expiresAt,
	);
}

export function getUpload(sql: SqlStorage, id: string): Upload | undefined {
	const row = sql.exec<UploadRow>("SELECT * FROM uploads WHERE id = ?", id).toArray()[0];
	return row ? toUpload(row) : undefined;
}

export function uploadByMessage(sql: SqlStorage, msgId: string): Upload | undefined {
	const row = sql.exec<UploadRow>("SELECT * FROM uploads WHERE msg_id = ?", msgId).toArray()[0];
	return row ? toUpload(row) : undefined;
}

export function setUploadStatus(sql: SqlStorage, id: string, status: Upload["status"], msgId?: string): void {
	sql.exec("UPDATE uploads SET status = ?, msg_id = COALESCE(?, msg_id) WHERE id = ?", status, msgId ?? null, id);
}

export function deleteUpload(sql: SqlStorage, id: string): void {
	sql.exec("DELETE FROM uploads WHERE id = ?", id);
}

/** Reservations not sent in time: their hold is dropped (refund) and any uploaded blob deleted. */
export function lapsedUploads(sql: SqlStorage, now: number): Upload[] {
	return sql.exec<UploadRow>("SELECT * FROM uploads WHERE status != 'sent' AND expires_at <= ?", now).toArray().map(toUpload);
}

export function earliestUploadExpiry(sql: SqlStorage): number | null {
	return sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM uploads WHERE status != 'sent'").one().at ?? null;
}

// Recipient side.

export function grantAttachment(
	sql: SqlStorage,
	g: { attachmentId: string; owner: string; msgId: string; expiresAt: number; deviceIds: string[] },
): void {
	sql.exec(
		"INSERT OR REPLACE INTO attachment_grants (attachment_id, owner, msg_id, expires_at) VALUES (?, ?, ?, ?)",
		g.attachmentId,
		g.owner,
		g.msgId,
		g.expiresAt,
	);
	for (const deviceId of g.deviceIds) {
		sql.exec("INSERT OR IGNORE INTO attachment_waiting (attachment_id, device_id) VALUES (?, ?)", g.attachmentId, deviceId);
	}
}

export function grantFor(sql: SqlStorage, owner: string, attachmentId: string): { msgId: string } | undefined {
	return sql
		.exec<{ msg_id: string }>("SELECT msg_id FROM attachment_grants WHERE attachment_id = ? AND owner = ?", attachmentId, owner)
		.toArray()
		.map((r) => ({ msgId: r.msg_id }))[0];
}

/** A device fetched the blob; true when no device is waiting any more (the blob can go). */
export function markFetched(sql: SqlStorage, attachmentId: string, deviceId: string): boolean {
	sql.exec("DELETE FROM attachment_waiting WHERE attachment_id = ? AND device_id = ?", attachmentId, deviceId);
	return sql.exec("SELECT 1 FROM attachment_waiting WHERE attachment_id = ? LIMIT 1", attachmentId).toArray().length === 0;
}

export function dropGrant(sql: SqlStorage, attachmentId: string): void {
	sql.exec("DELETE FROM attachment_grants WHERE attachment_id = ?", attachmentId);
	sql.exec("DELETE FROM attachment_waiting WHERE attachment_id = ?", attachmentId);
}

/** The grants of one sender's message: message ids are unique per sender, not per account. */
export function grantsForMessage(sql: SqlStorage, owner: string, msgId: string): Array<{ attachmentId: string; owner: string }> {
	return sql
		.exec<{ attachment_id: string; owner: string }>(
			"SELECT attachment_id, owner FROM attachment_grants WHERE owner = ? AND msg_id = ?",
			owner,
			msgId,
		)
		.toArray()
		.map((r) => ({ attachmentId: r.attachment_id, owner: r.owner }));
}

export function expiredGrants(sql: SqlStorage, now: number): Array<{ attachmentId: string; owner: string }> {
	return sql
		.exec<{ attachment_id: string; owner: string }>("SELECT attachment_id, owner FROM attachment_grants WHERE expires_at <= ?", now)
		.toArray()
		.map((r) => ({ attachmentId: r.attachment_id, owner: r.owner }));
}

export function earliestGrantExpiry(sql: SqlStorage): number | null {
	return sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM attachment_grants").one().at ?? null;
}

/** A device that is revoked waits for nothing any more. Returns blobs no one waits for now. */
export function forgetDeviceWaits(sql: SqlStorage, deviceId: string): Array<{ attachmentId: string; owner: string }> {
	const ids = sql
		.exec<{ attachment_id: string }>("DELETE FROM attachment_waiting WHERE device_id = ? RETURNING attachment_id", deviceId)
		.toArray()
		.map((r) => r.attachment_id);
	const done: Array<{ attachmentId: string; owner: string }> = [];
	for (const id of ids) {
		if (sql.exec("SELECT 1 FROM attachment_waiting WHERE attachment_id = ? LIMIT 1", id).toArray().length > 0) continue;
		const grant = sql.exec<{ owner: string }>("SELECT owner FROM attachment_grants WHERE attachment_id = ?", id).toArray()[0];
		if (grant) done.push({ attachmentId: id, owner: grant.owner });
	}
	return done;
}

/** Upload rows of attachments whose message aged out of the record of sent messages (their blobs expired with them). */
export function pruneSentUploads(sql: SqlStorage, before: number): void {
	sql.exec("DELETE FROM uploads WHERE status = 'sent' AND msg_id IN (SELECT id FROM sent_messages WHERE at <= ?)", before);
}

// Blobs to delete from R2 once it answers again.

export function deferBlobDeletion(sql: SqlStorage, key: string, now: number): void {
	sql.exec("INSERT OR IGNORE INTO blob_deletions (key, since) VALUES (?, ?)", key, now);
}

export function deferredBlobDeletions(sql: SqlStorage): string[] {
	return sql
		.exec<{ key: string }>("SELECT key FROM blob_deletions ORDER BY since")
		.toArray()
		.map((r) => r.key);
}

export function blobDeleted(sql: SqlStorage, key: string): void {
	sql.exec("DELETE FROM blob_deletions WHERE key = ?", key);
}
