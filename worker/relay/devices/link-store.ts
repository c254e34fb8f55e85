/**
 * One-time link codes of this account. The relay sees only the link id derived from a code's
 * secret and the claim's proof, which it cannot check (it never has the MAC key): it keeps
 * the proof for the approving device, which can.
 */

/** One answer for an unknown handle, an unknown link, an expired one and a used one: a stranger learns nothing. */
export const INVALID_LINK = "This link code is not valid: it may have expired or been used.";

export interface OpenLink {
	linkId: string;
	expiresAt: number;
}

export interface LinkClaim {
	linkId: string;
	proof: string;
}

/** Open: unclaimed and unexpired, oldest expiry first. */
export function openLinks(sql: SqlStorage, now: number): OpenLink[] {
	return sql
		.exec<{ link_id: string; expires_at: number }>(
			"SELECT link_id, expires_at FROM links WHERE claimed_by IS NULL AND expires_at > ? ORDER BY expires_at",
			now,
		)
		.toArray()
		.map((r) => ({ linkId: r.link_id, expiresAt: r.expires_at }));
}

/** False when the id was used before (open, claimed or expired but not yet pruned). */
export function insertLink(sql: SqlStorage, link: OpenLink & { openedBy: string }): boolean {
	const inserted = sql
		.exec(
			"INSERT INTO links (link_id, opened_by, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING link_id",
			link.linkId,
			link.openedBy,
			link.expiresAt,
		)
		.toArray();
	return inserted.length > 0;
}

/** Ends an open link now; the row stays (until pruned) so its id is not opened again. */
export function cancelLink(sql: SqlStorage, linkId: string, now: number): boolean {
	return (
		sql
			.exec(
				"UPDATE links SET expires_at = ? WHERE link_id = ? AND claimed_by IS NULL AND expires_at > ? RETURNING link_id",
				now,
				linkId,
				now,
			)
			.toArray().length > 0
	);
}

/** Marks an open link used by `deviceId`; false if it is not open. Synchronous, so two claims cannot both take it. */
export function claimLink(sql: SqlStorage, linkId: string, claim: { deviceId: string; proof: string }, now: number): boolean {
	return (
		sql
			.exec(
				"UPDATE links SET claimed_by = ?, proof = ? WHERE link_id = ? AND claimed_by IS NULL AND expires_at > ? RETURNING link_id",
				claim.deviceId,
				claim.proof,
				linkId,
				now,
			)
			.toArray().length > 0
	);
}

/** A claim whose device never made it into D1 gives its link back. */
export function releaseClaim(sql: SqlStorage, deviceId: string): void {
	sql.exec("UPDATE links SET claimed_by = NULL, proof = NULL WHERE claimed_by = ?", deviceId);
}

/** The claims of these devices, by device id. */
export function claimsOf(sql: SqlStorage, deviceIds: readonly string[]): Map<string, LinkClaim> {
	if (deviceIds.length === 0) return new Map();
	const rows = sql
		.exec<{ link_id: string; claimed_by: string; proof: string }>(
			`SELECT link_id, claimed_by, proof FROM links WHERE claimed_by IN (${deviceIds.map(() => "?").join(", ")})`,
			...deviceIds,
		)
		.toArray();
	return new Map(rows.map((r) => [r.claimed_by, { linkId: r.link_id, proof: r.proof }]));
}

/**
 * A link stays until a device that claimed it can no longer be waiting (claimed before the
 * expiry, it lapses `lapseMs` after it asked), so a used id is refused that long.
 */
export function pruneLinks(sql: SqlStorage, now: number, lapseMs: number): void {
	sql.exec("DELETE FROM links WHERE expires_at <= ?", now - lapseMs);
}
