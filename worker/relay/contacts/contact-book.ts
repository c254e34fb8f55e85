import type { Contact, ContactState, Envelope } from "../../../common/protocol/wire.ts";
import { forgetReceived } from "../messaging/received-counts.ts";
import { storageMemo } from "../storage/storage-memo.ts";

/**
 * Every message looks its contact up in both objects: contacts as read, by peer, kept until
 * any write to the table below (all of them are in this module) drops the lot.
 */
const contactsMemo = storageMemo<Map<string, StoredContact | undefined>>();

type ContactRow = {
	peer_id: string;
	peer_handle: string;
	/** A contact state, or `blocked:<the state beneath the block>` (see stateColumn). */
	state: string;
	peer_blocked: number;
	key_version: number | null;
	rotate_to: number | null;
	calls_allowed: number;
	created_at: number;
	updated_at: number;
};

export interface StoredContact extends Contact {
	/**
	 * Set only by blocks from before blocks were silent, which told the blocked side's object:
	 * its sends were refused there. Blocks now leave the blocked side's object as it was.
	 */
	peerBlocked: boolean;
	/** The key version a rotation must produce before the next send, if one is due. */
	rotateTo: number | null;
	/** Blocked contacts only: the relationship the block hides, which unblocking brings back. */
	beneath?: ContactState;
	/** Whether this account took calls from them, kept while a block hides the setting. */
	takesCalls: boolean;
}

const BLOCKED_PREFIX = "blocked:";

/**
 * The state column of a blocked contact also keeps what the block hides, so that no
 * migration is needed for it: `blocked:accepted`, `blocked:incoming`, … A bare `blocked` is
 * a row from before blocks kept it: a contact key means it was accepted (a key exists only
 * from the accept on), anything else comes back as declined, where either side may ask.
 */
const stateColumn = (state: ContactState, beneath?: ContactState): string =>
	state === "blocked" ? `${BLOCKED_PREFIX}${beneath ?? "declined"}` : state;

function readState(row: ContactRow): { state: ContactState; beneath?: ContactState } {
	if (row.state.startsWith(BLOCKED_PREFIX)) return { state: "blocked", beneath: row.state.slice(BLOCKED_PREFIX.length) as ContactState };
	if (row.state === "blocked") return { state: "blocked", beneath: row.key_version !== null ? "accepted" : "declined" };
	return { state: row.state as ContactState };
}

const toContact = (row: ContactRow): StoredContact => {
	const { state, beneath } = readState(row);
	return {
		accountId: row.peer_id,
		handle: row.peer_handle,
		state,
		...(row.key_version !== null && { keyVersion: row.key_version }),
		...(state === "accepted" && { callsAllowed: row.calls_allowed === 1 }),
		createdAt: row.created_at,
		updatedAt: row.updated_at,
		peerBlocked: row.peer_blocked === 1,
		rotateTo: row.rotate_to,
		...(beneath !== undefined && { beneath }),
		takesCalls: row.calls_allowed === 1,
	};
};

/** The public view of a contact: whether the peer blocked us, and what a block of ours hides, are never shown. */
export const publicContact = ({ peerBlocked: _, rotateTo: __, beneath: ___, takesCalls: ____, ...contact }: StoredContact): Contact =>
	contact;

/**
 * Whether the two accounts share a contact key: accepted, or blocked since. A key exists only
 * from the accept on and is never taken back, so a block keeps it (and its rotations) for the
 * day the contact is unblocked.
 */
export const sharesKey = (contact: StoredContact | undefined): contact is StoredContact & { keyVersion: number } =>
	contact?.keyVersion !== undefined;

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

/** `beneath`: for `blocked`, the relationship the block hides. */
export function saveContactState(
	sql: SqlStorage,
	peer: { id: string; handle: string },
	state: ContactState,
	now: number,
	keyVersion?: number,
	beneath?: ContactState,
): StoredContact {
	contactsMemo.drop(sql);
	sql.exec(
		`INSERT INTO contacts (peer_id, peer_handle, state, key_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		 ON CONFLICT (peer_id) DO UPDATE SET state = ?3, peer_handle = ?2, key_version = COALESCE(?4, key_version), updated_at = ?5`,
		peer.id,
		peer.handle,
		stateColumn(state, beneath),
		keyVersion ?? null,
		now,
	);
	return getContact(sql, peer.id) as StoredContact;
}

/**
 * The peer moved the relationship a block hides (their request, their accept of ours with
 * its first key version, their decline): stored, nothing anyone sees changes, so the time
 * the contact was last changed stays as it was too.
 */
export function saveBeneathBlock(sql: SqlStorage, peerId: string, beneath: ContactState, keyVersion?: number): void {
	contactsMemo.drop(sql);
	sql.exec(
		"UPDATE contacts SET state = ?, key_version = COALESCE(?, key_version) WHERE peer_id = ?",
		stateColumn("blocked", beneath),
		keyVersion ?? null,
		peerId,
	);
}

/**
 * The peer deleted its account: every row naming it goes — its contact row, the keys wrapped
 * for it, the count of its messages, its name on the record of ours sent to it (the sends
 * themselves stay counted against our limits), its receipts waiting for an offline device, and its attachment grants (its
 * blobs are deleted with it).
 */
export function forgetContact(sql: SqlStorage, peerId: string): void {
	contactsMemo.drop(sql);
	sql.exec("DELETE FROM contacts WHERE peer_id = ?", peerId);
	sql.exec("DELETE FROM envelopes WHERE peer_id = ?", peerId);
	forgetReceived(sql, peerId);
	sql.exec("DELETE FROM call_requests WHERE peer_id = ?", peerId);
	// Not deleted: the rate limit, the quota and trust promotion count these sends.
	sql.exec("UPDATE sent_messages SET to_account = '' WHERE to_account = ?", peerId);
	sql.exec("DELETE FROM receipt_queue WHERE json_extract(frame, '$.from') = ?", peerId);
	sql.exec("DELETE FROM attachment_waiting WHERE attachment_id IN (SELECT attachment_id FROM attachment_grants WHERE owner = ?)", peerId);
	sql.exec("DELETE FROM attachment_grants WHERE owner = ?", peerId);
}

/** A block from before blocks were silent is lifted: the blocked side's object forgets it. */
export function clearPeerBlocked(sql: SqlStorage, peerId: string): void {
	contactsMemo.drop(sql);
	sql.exec("UPDATE contacts SET peer_blocked = 0 WHERE peer_id = ?", peerId);
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

/**
 * After a revocation every contact sharing a key needs a new key version before the next
 * send: accepted ones, and blocked ones too (see sharesKey), so the blocked side rotates as
 * it would anyway and no key a removed device held comes back with an unblock.
 */
export function requireRotation(sql: SqlStorage, peerId?: string): string[] {
	contactsMemo.drop(sql);
	const rows = (
		peerId === undefined
			? sql.exec<{ peer_id: string }>("UPDATE contacts SET rotate_to = key_version + 1 WHERE key_version IS NOT NULL RETURNING peer_id")
			: sql.exec<{ peer_id: string }>(
					"UPDATE contacts SET rotate_to = key_version + 1 WHERE key_version IS NOT NULL AND peer_id = ? RETURNING peer_id",
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

/** The peers this account shares a contact key with, blocked ones included (see sharesKey). */
export function keyedPeerIds(sql: SqlStorage): string[] {
	return sql
		.exec<{ peer_id: string }>("SELECT peer_id FROM contacts WHERE key_version IS NOT NULL")
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
