import type { IdentityEnvelope } from "../../../common/protocol/wire.ts";

/** The identity key sealed for one device by another of the account's devices. The relay only keeps it. */
export interface StoredIdentityEnvelope extends IdentityEnvelope {
	deviceId: string;
}

type Row = { device_id: string; from_device: string; from_public_key: string; nonce: string; box: string; link_confirm: string | null };

export function saveIdentityEnvelope(sql: SqlStorage, e: StoredIdentityEnvelope): void {
	sql.exec(
		"INSERT OR REPLACE INTO identity_envelopes (device_id, from_device, from_public_key, nonce, box, link_confirm) VALUES (?, ?, ?, ?, ?, ?)",
		e.deviceId,
		e.fromDevice,
		e.fromPublicKey,
		e.nonce,
		e.box,
		e.linkConfirm ?? null,
	);
}

export function identityEnvelopeOf(sql: SqlStorage, deviceId: string): IdentityEnvelope | undefined {
	const row = sql.exec<Row>("SELECT * FROM identity_envelopes WHERE device_id = ?", deviceId).toArray()[0];
	if (!row) return undefined;
	return {
		fromDevice: row.from_device,
		fromPublicKey: row.from_public_key,
		nonce: row.nonce,
		box: row.box,
		...(row.link_confirm !== null && { linkConfirm: row.link_confirm }),
	};
}

/** An identity reset: envelopes of the old key would hand out a key that no longer signs anything. */
export function replaceIdentityEnvelopes(sql: SqlStorage, envelopes: readonly StoredIdentityEnvelope[]): void {
	sql.exec("DELETE FROM identity_envelopes");
	for (const e of envelopes) saveIdentityEnvelope(sql, e);
}

export function deleteIdentityEnvelope(sql: SqlStorage, deviceId: string): void {
	sql.exec("DELETE FROM identity_envelopes WHERE device_id = ?", deviceId);
}
