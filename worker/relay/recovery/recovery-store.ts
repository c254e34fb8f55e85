import type { RecoveryKeyRequest, SealedBackup } from "../../../common/protocol/wire.ts";

/**
 * What recovery keeps in the account's object: the recovery public key (with the identity
 * key's signature over it), the one sealed backup, and which pending devices came from a
 * restore. Nothing here can open anything: the recovery secret never leaves the person.
 */

export function storedRecoveryKey(sql: SqlStorage): RecoveryKeyRequest | null {
	const row = sql.exec<{ public_key: string; signature: string }>("SELECT public_key, signature FROM recovery_key").toArray()[0];
	return row ? { recoveryKey: row.public_key, signature: row.signature } : null;
}

/** Replaces any earlier key, which from then on restores nothing. */
export function storeRecoveryKey(sql: SqlStorage, key: RecoveryKeyRequest): void {
	sql.exec("INSERT OR REPLACE INTO recovery_key (only, public_key, signature) VALUES (1, ?, ?)", key.recoveryKey, key.signature);
}

export function storedBackup(sql: SqlStorage): SealedBackup | null {
	const row = sql.exec<{ version: number; nonce: string; box: string }>("SELECT version, nonce, box FROM key_backup").toArray()[0];
	return row ? { version: row.version, nonce: row.nonce, box: row.box } : null;
}

/** The version of the stored backup without reading its (up to a megabyte of) ciphertext. */
export function storedBackupVersion(sql: SqlStorage): number | null {
	const row = sql.exec<{ version: number }>("SELECT version FROM key_backup").toArray()[0];
	return row ? row.version : null;
}

/** Ciphertext as the device sent it: the relay neither decodes nor re-encodes it. */
export function storeBackup(sql: SqlStorage, backup: SealedBackup): void {
	sql.exec("INSERT OR REPLACE INTO key_backup (only, version, nonce, box) VALUES (1, ?, ?, ?)", backup.version, backup.nonce, backup.box);
}

export function markRecovering(sql: SqlStorage, deviceId: string): void {
	sql.exec("INSERT OR REPLACE INTO recovering_devices (device_id) VALUES (?)", deviceId);
}

/** Whether the device came from a restore. Only meaningful while it is pending: the mark goes once it is approved or removed. */
export function isRecovering(sql: SqlStorage, deviceId: string): boolean {
	return sql.exec("SELECT 1 FROM recovering_devices WHERE device_id = ?", deviceId).toArray().length > 0;
}

export function unmarkRecovering(sql: SqlStorage, deviceId: string): void {
	sql.exec("DELETE FROM recovering_devices WHERE device_id = ?", deviceId);
}
