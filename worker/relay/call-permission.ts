/**
 * Whether this account takes calls from a contact (DESIGN §8): a per-contact setting only
 * this account controls, kept beside the contact in its own object. Off until allowed.
 */

export function setCallsAllowed(sql: SqlStorage, peerId: string, allow: boolean, now: number): boolean {
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

export function callsAllowed(sql: SqlStorage, peerId: string): boolean {
	const row = sql.exec<{ calls_allowed: number }>("SELECT calls_allowed FROM contacts WHERE peer_id = ?", peerId).toArray()[0];
	return row?.calls_allowed === 1;
}
