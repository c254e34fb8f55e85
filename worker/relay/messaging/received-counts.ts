/**
 * How many messages this account received from each peer, counted as its object takes them
 * in (Delivery.accept). Only the count: what a report is weighed on (abuse/report-weight.ts)
 * and what an admin reviewing reports sees. A re-sent frame of a message already delivered
 * may count twice; the rule only asks for "at least one".
 */
export function countReceived(sql: SqlStorage, peerId: string): void {
	sql.exec(
		"INSERT INTO received_counts (peer_id, messages) VALUES (?, 1) ON CONFLICT (peer_id) DO UPDATE SET messages = messages + 1",
		peerId,
	);
}

export function receivedFrom(sql: SqlStorage, peerId: string): number {
	return sql.exec<{ messages: number }>("SELECT messages FROM received_counts WHERE peer_id = ?", peerId).toArray()[0]?.messages ?? 0;
}
