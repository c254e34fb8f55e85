/**
 * The sender's record of what it sent, kept as long as the queue keeps messages: a re-sent
 * id is answered without a second charge, and only a message's sender may edit or delete it.
 */

export function recordSent(sql: SqlStorage, m: { id: string; to: string; kind: string; at: number }): void {
	sql.exec("INSERT OR IGNORE INTO sent_messages (id, to_account, kind, at) VALUES (?, ?, ?, ?)", m.id, m.to, m.kind, m.at);
}

export function sentMessage(sql: SqlStorage, id: string): { to: string; kind: string; at: number } | undefined {
	return sql
		.exec<{ to_account: string; kind: string; at: number }>("SELECT to_account, kind, at FROM sent_messages WHERE id = ?", id)
		.toArray()
		.map((r) => ({ to: r.to_account, kind: r.kind, at: r.at }))[0];
}

/** A deleted message can be neither edited nor deleted again. */
export function markSentDeleted(sql: SqlStorage, id: string): void {
	sql.exec("UPDATE sent_messages SET kind = 'deleted' WHERE id = ?", id);
}

export function pruneSent(sql: SqlStorage, before: number): void {
	sql.exec("DELETE FROM sent_messages WHERE at <= ?", before);
}
