import type { Contact, ContactState, Envelope } from "../../../common/protocol/wire.ts";
import { storageMemo } from "../storage/storage-memo.ts";

/**
 * Every message looks its contact up in both objects: contacts as read, by peer, kept until
 * any write to the table below (all of them are in this module) drops the lot.
 */
const contactsMemo = storageMemo<Map<string, StoredContact | undefined>>();

type ContactRow = {
	peer_id: string;
	peer_handle: string;
	state: ContactState;
	peer_blocked: number;
	key_version: number | null;
	rotate_to: number | null;
	calls_allowed: number;
	created_at: number;
	updated_at: number;
};

export interface StoredContact extends Contact {
	peerBlocked: boolean;
	/** The key version a rotation must produce before the next send, if one is due. */
	rotateTo: number | null;
}

const toContact = (row: ContactRow): StoredContact => ({
	accountId: row.peer_id,
	handle: row.peer_handle,
	state: row.state,
	...(row.key_version !== null && { keyVersion: row.key_version }),
	...(row.state === "accepted" && { callsAllowed: row.calls_allowed === 1 }),
	createdAt: row.created_at,
	updatedAt: row.updated_at,
	peerBlocked: row.peer_blocked === 1,
	rotateTo: row.rotate_to,
});

/** The public view of a contact: whether the peer blocked us is never shown. */
export const publicContact = ({ peerBlocked: _, rotateTo: __, ...contact }: StoredContact): Contact => contact;

export function getContact(sql: SqlStorage, peerId: string): StoredContact | undefined {
	const known = contactsMemo.get(sql, () => new Map());
	if (known.has(peerId)) return known.get(peerId);
	const row = sql.exec<ContactRow>("SELECT * FROM contacts WHERE peer_id = ?", peerId).toArray()[0];
	const contact = row ? toContact(row) : undefined;
	known.set(peerId, contact);
	return contact;
}

export function listContacts(sql: SqlStorage): StoredContact[] {
	return sql.exec<ContactRow>("SELECT * FROM contacts ORDER BY updated_at DESC, peer_id").toArray().map(toContact);
}

export function saveContactState(
	sql: SqlStorage,
	peer: { id: string; handle: string },
	state: ContactState,
	now: number,
	keyVersion?: number,
): StoredContact {
	contactsMemo.drop(sql);
	sql.exec(
		`INSERT INTO contacts (peer_id, peer_handle, state, key_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		 ON CONFLICT (peer_id) DO UPDATE SET state = ?3, peer_handle = ?2, key_version = COALESCE(?4, key_version), updated_at = ?5`,
		peer.id,
		peer.handle,
		state,
		keyVersion ?? null,
		now,
	);
	return getContact(sql, peer.id) as StoredContact;
}

export function setPeerBlocked(sql: SqlStorage, peerId: string, blocked: boolean): void {
	contactsMemo.drop(sql);
	sql.exec("UPDATE contacts SET peer_blocked = ? WHERE peer_id = ?", blocked ? 1 : 0, peerId);
}

/** The other side of a contact as the objects tell each other: its account id and handle. */
export interface PeerRef {
	id: string;
	handle: string;
}

export interface StoredEnvelope extends Envelope {
	deviceId: string;
}

export function saveEnvelopes(sql: SqlStorage, peerId: string, envelopes: StoredEnvelope[]): void {
	for (const e of envelopes) {
		sql.exec(
			"INSERT OR REPLACE INTO envelopes (peer_id, key_version, device_id, from_account, from_device, from_public_key, nonce, box) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			peerId,
			e.keyVersion,
			e.deviceId,
			e.fromAccount,
			e.fromDevice,
			e.fromPublicKey,
			e.nonce,
			e.box,
		);
	}
}

export function envelopesFor(sql: SqlStorage, peerId: string, deviceId: string): Envelope[] {
	return sql
		.exec<{ key_version: number; from_account: string; from_device: string; from_public_key: string; nonce: string; box: string }>(
			"SELECT key_version, from_account, from_device, from_public_key, nonce, box FROM envelopes WHERE peer_id = ? AND device_id = ? ORDER BY key_version",
			peerId,
			deviceId,
		)
		.toArray()
		.map((r) => ({
			keyVersion: r.key_version,
			fromAccount: r.from_account,
			fromDevice: r.from_device,
			fromPublicKey: r.from_public_key,
			nonce: r.nonce,
			box: r.box,
		}));
}

/** After a revocation every accepted contact needs a new key version before the next send. */
export function requireRotation(sql: SqlStorage, peerId?: string): string[] {
	contactsMemo.drop(sql);
	const rows = (
		peerId === undefined
			? sql.exec<{ peer_id: string }>("UPDATE contacts SET rotate_to = key_version + 1 WHERE state = 'accepted' RETURNING peer_id")
			: sql.exec<{ peer_id: string }>(
					"UPDATE contacts SET rotate_to = key_version + 1 WHERE state = 'accepted' AND peer_id = ? RETURNING peer_id",
					peerId,
				)
	).toArray();
	return rows.map((r) => r.peer_id);
}

export function completeRotation(sql: SqlStorage, peerId: string, keyVersion: number, now: number): void {
	contactsMemo.drop(sql);
	sql.exec("UPDATE contacts SET key_version = ?, rotate_to = NULL, updated_at = ? WHERE peer_id = ?", keyVersion, now, peerId);
}

export function deleteEnvelopesOf(sql: SqlStorage, deviceId: string): void {
	sql.exec("DELETE FROM envelopes WHERE device_id = ?", deviceId);
}

export function acceptedPeerIds(sql: SqlStorage): string[] {
	return sql
		.exec<{ peer_id: string }>("SELECT peer_id FROM contacts WHERE state = 'accepted'")
		.toArray()
		.map((r) => r.peer_id);
}

/**
 * Whether this account takes calls from a contact: a per-contact setting only
 * this account controls, kept beside the contact. Off until allowed.
 */
export function setCallsAllowed(sql: SqlStorage, peerId: string, allow: boolean, now: number): boolean {
	contactsMemo.drop(sql);
	const changed = sql
		.exec(
			"UPDATE contacts SET calls_allowed = ?, updated_at = ? WHERE peer_id = ? AND state = 'accepted' RETURNING peer_id",
			allow ? 1 : 0,
			now,
			peerId,
		)
		.toArray();
	return changed.length > 0;
}

/** From the contacts memo, which setCallsAllowed drops. */
export const callsAllowed = (sql: SqlStorage, peerId: string): boolean => getContact(sql, peerId)?.callsAllowed === true;
