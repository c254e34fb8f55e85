import { firstAbove } from "../sorted-numbers.ts";
import { storageMemo } from "../storage/storage-memo.ts";
import { fitsQueue, type QueueCaps, type QueueStats } from "./queue-caps.ts";

/**
 * Every message checks its devices' queue totals: kept in memory per device, counted from the
 * queue itself when not known (once per device per object start, or after one of the rarer
 * writes below, which drop them all). Enqueue and ack (the steady state) move them in place.
 * They are not stored: a stored copy cost two rows written per message (one on enqueue, one on
 * ack), and what it saved was one indexed COUNT per device after an object start.
 */
const statsMemo = storageMemo<Map<string, QueueStats>>();

function moveStats(sql: SqlStorage, deviceId: string, count: number, bytes: number): void {
	statsMemo.update(sql, (all) => {
		const known = all.get(deviceId);
		if (known) all.set(deviceId, { count: known.count + count, bytes: known.bytes + bytes });
		return all;
	});
}

/**
 * Each device's queue in delivery order, for a device that drains a backlog: the queue's
 * rows are keyed by (device, sender, id), the key an ack names, and have no index on their
 * number (an index is one more row written per queued message). Loaded for a device when it
 * first pages through its backlog (one scan of its rows), then kept in step by every enqueue
 * and ack; the rarer writes drop it. A device whose socket is caught up never needs it: new
 * messages go out as they are queued.
 */
interface DeviceOrder {
	/** Rising queue numbers. */
	seqs: number[];
	/** The row key of each, at the same index. */
	keys: Array<[from: string, msgId: string]>;
}
const orderMemo = storageMemo<Map<string, DeviceOrder>>();

function orderOf(sql: SqlStorage, deviceId: string): DeviceOrder {
	const all = orderMemo.get(sql, () => new Map());
	let order = all.get(deviceId);
	if (!order) {
		const rows = sql
			.exec<{ seq: number; from_account: string; msg_id: string }>(
				"SELECT seq, from_account, msg_id FROM queue WHERE device_id = ? ORDER BY seq",
				deviceId,
			)
			.toArray();
		order = { seqs: rows.map((r) => r.seq), keys: rows.map((r) => [r.from_account, r.msg_id]) };
		all.set(deviceId, order);
	}
	return order;
}

/** A row was queued or acked: a device's order, if it is in memory, follows. */
function orderAdded(sql: SqlStorage, deviceId: string, seq: number, from: string, msgId: string): void {
	const order = orderMemo.peek(sql)?.get(deviceId);
	if (!order) return;
	const at = firstAbove(order.seqs, seq);
	order.seqs.splice(at, 0, seq);
	order.keys.splice(at, 0, [from, msgId]);
}

function orderRemoved(sql: SqlStorage, deviceId: string, seq: number): void {
	const order = orderMemo.peek(sql)?.get(deviceId);
	if (!order) return;
	const at = firstAbove(order.seqs, seq) - 1;
	if (order.seqs[at] !== seq) return;
	order.seqs.splice(at, 1);
	order.keys.splice(at, 1);
}

/** A write that moves many rows or changes a key: counts and order are read again when next needed. */
function dropMemos(sql: SqlStorage): void {
	statsMemo.drop(sql);
	orderMemo.drop(sql);
}

export interface QueuedRow {
	seq: number;
	frame: string;
}

export interface EnqueueItem {
	deviceId: string;
	msgId: string;
	fromAccount: string;
	/** For an edit or a delete: the original message it replaces. */
	replaces?: string;
	frame: string;
	bytes: number;
	expiresAt: number;
}

const EMPTY: QueueStats = { count: 0, bytes: 0 };

export function queueStats(sql: SqlStorage, deviceId: string): QueueStats {
	const all = statsMemo.get(sql, () => new Map());
	const known = all.get(deviceId);
	if (known) return known;
	const row = sql
		.exec<{ count: number; bytes: number | null }>("SELECT COUNT(*) AS count, SUM(bytes) AS bytes FROM queue WHERE device_id = ?", deviceId)
		.one();
	const stats = row.count > 0 ? { count: row.count, bytes: row.bytes ?? 0 } : EMPTY;
	all.set(deviceId, stats);
	return stats;
}

/**
 * The sequence number the next queued row gets. Numbers only rise: a socket remembers the
 * last one it was pushed (SocketState.sentUpTo, kept across hibernation) and pages on from
 * it, so a new row under it would never reach that socket. AUTOINCREMENT promised that with a
 * counter row written per message; the object counts here instead, from the highest row there
 * is or the highest number any of its open sockets was pushed (`seqFloor`), once per life.
 */
const nextSeq = storageMemo<number>();

/** The highest row, or the high mark AUTOINCREMENT left when the queue was rebuilt without it. */
const highestSeq = (sql: SqlStorage): number =>
	Math.max(
		sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM queue").one().seq ?? 0,
		// Read here, not through the meta cache: the migration wrote it with SQL of its own.
		Number(sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'queue_seq_floor'").toArray()[0]?.value ?? 0),
	);

/**
 * Queue one message for several devices, all or nothing: if any device's queue is full,
 * nothing is written (no partial delivery). A message id already queued for a device from
 * the same sender is skipped for it, which makes a re-sent frame idempotent; ids are unique
 * per sender only, so another sender's message under that id is queued beside it.
 * Returns the sequence number per device it was written for, or "full".
 */
export function enqueueAll(
	sql: SqlStorage,
	items: EnqueueItem[],
	caps: QueueCaps | null,
	seqFloor: () => number = () => 0,
): Map<string, number> | "full" {
	if (caps) {
		for (const item of items) if (!fitsQueue(queueStats(sql, item.deviceId), item.bytes, caps)) return "full";
	}
	const seqs = new Map<string, number>();
	for (const item of items) {
		const seq = nextSeq.get(sql, () => Math.max(highestSeq(sql), seqFloor()) + 1);
		const row = sql
			.exec<{ seq: number }>(
				"INSERT INTO queue (seq, device_id, msg_id, from_account, replaces, frame, bytes, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, from_account, msg_id) DO NOTHING RETURNING seq",
				seq,
				item.deviceId,
				item.msgId,
				item.fromAccount,
				item.replaces ?? null,
				item.frame,
				item.bytes,
				item.expiresAt,
			)
			.toArray()[0];
		if (!row) continue;
		nextSeq.update(sql, (n) => n + 1);
		moveStats(sql, item.deviceId, 1, item.bytes);
		orderAdded(sql, item.deviceId, row.seq, item.fromAccount, item.msgId);
		seqs.set(item.deviceId, row.seq);
	}
	return seqs;
}

/**
 * Remove acked messages of one device: those of sender `from`, or, for an ack that names no
 * sender (clients older than per-sender ids), that id from every sender. Acking an id that is
 * not queued is harmless. Returns the removed ids grouped by sender, for delivery receipts.
 */
export function ackMessages(sql: SqlStorage, deviceId: string, msgIds: readonly string[], from?: string): Map<string, string[]> {
	const bySender = new Map<string, string[]>();
	for (const msgId of msgIds) {
		const rows =
			from === undefined
				? sql
						.exec<{ bytes: number; from_account: string; seq: number }>(
							"DELETE FROM queue WHERE device_id = ? AND msg_id = ? RETURNING bytes, from_account, seq",
							deviceId,
							msgId,
						)
						.toArray()
				: sql
						.exec<{ bytes: number; from_account: string; seq: number }>(
							"DELETE FROM queue WHERE device_id = ? AND from_account = ? AND msg_id = ? RETURNING bytes, from_account, seq",
							deviceId,
							from,
							msgId,
						)
						.toArray();
		for (const row of rows) {
			moveStats(sql, deviceId, -1, -row.bytes);
			orderRemoved(sql, deviceId, row.seq);
			if (row.from_account === "") continue;
			const ids = bySender.get(row.from_account) ?? [];
			ids.push(msgId);
			bySender.set(row.from_account, ids);
		}
	}
	return bySender;
}

/**
 * The next page in queue order after `afterSeq`: the numbers from the device's order in
 * memory, the frames by their row keys (json_each drives the loop, so each is one lookup of
 * the key).
 */
export function pageQueue(sql: SqlStorage, deviceId: string, afterSeq: number, limit: number): QueuedRow[] {
	const order = orderOf(sql, deviceId);
	const from = firstAbove(order.seqs, afterSeq);
	const keys = order.keys.slice(from, from + limit);
	if (keys.length === 0) return [];
	return sql
		.exec<{ seq: number; frame: string }>(
			`SELECT q.seq, q.frame FROM json_each(?) AS k CROSS JOIN queue AS q
			 ON q.device_id = ? AND q.from_account = k.value ->> 0 AND q.msg_id = k.value ->> 1 ORDER BY q.seq`,
			JSON.stringify(keys),
			deviceId,
		)
		.toArray();
}

/** Messages already pushed to the device and not yet acked (asked only while it drains, when its order is in memory). */
export function inFlight(sql: SqlStorage, deviceId: string, upToSeq: number): number {
	return firstAbove(orderOf(sql, deviceId).seqs, upToSeq);
}

/** Delete everything past its expiry; returns how many messages each device lost unread. */
export function expireQueue(sql: SqlStorage, now: number): Map<string, number> {
	const expired = sql
		.exec<{ device_id: string; bytes: number }>("DELETE FROM queue WHERE expires_at <= ? RETURNING device_id, bytes", now)
		.toArray();
	const lost = new Map<string, number>();
	if (expired.length > 0) dropMemos(sql);
	for (const row of expired) {
		lost.set(row.device_id, (lost.get(row.device_id) ?? 0) + 1);
	}
	return lost;
}

export function earliestExpiry(sql: SqlStorage): number | null {
	const row = sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM queue").one();
	return row.at ?? null;
}

export function dropDeviceQueue(sql: SqlStorage, deviceId: string): void {
	dropMemos(sql);
	sql.exec("DELETE FROM queue WHERE device_id = ?", deviceId);
}

/** Every message `from` queued for this account's devices goes (its account was deleted): never delivered. */
export function dropQueuedFrom(sql: SqlStorage, from: string): void {
	const removed = sql
		.exec<{ device_id: string; bytes: number }>("DELETE FROM queue WHERE from_account = ? RETURNING device_id, bytes", from)
		.toArray();
	if (removed.length > 0) dropMemos(sql);
}

/**
 * An edit for a device that has not yet received the original: the queued original (or an
 * earlier edit of it) becomes the edit, in its place in the order, so the queue holds only
 * the latest version. Only the edit's sender's own rows are looked at: another sender's
 * message under the same id is not the original. Returns its place (seq), or null when
 * nothing of the original is queued.
 */
export function replaceQueued(sql: SqlStorage, deviceId: string, original: string, item: EnqueueItem): number | null {
	const row = sql
		.exec<{ seq: number; msg_id: string }>(
			"SELECT seq, msg_id FROM queue WHERE device_id = ? AND from_account = ? AND (msg_id = ? OR replaces = ?) ORDER BY seq LIMIT 1",
			deviceId,
			item.fromAccount,
			original,
			original,
		)
		.toArray()[0];
	if (!row) return null;
	// The row's key changes with its id.
	dropMemos(sql);
	sql.exec(
		"UPDATE queue SET msg_id = ?, replaces = ?, frame = ?, bytes = ?, expires_at = ? WHERE device_id = ? AND from_account = ? AND msg_id = ?",
		item.msgId,
		original,
		item.frame,
		item.bytes,
		item.expiresAt,
		deviceId,
		item.fromAccount,
		row.msg_id,
	);
	return row.seq;
}

/**
 * A delete for a device that has not yet received the original: it is never delivered. Only
 * `from`'s own rows go: the delete's sender can remove nothing another sender queued.
 */
export function removeQueued(sql: SqlStorage, deviceId: string, from: string, original: string): boolean {
	const removed = sql
		.exec<{ bytes: number }>(
			"DELETE FROM queue WHERE device_id = ? AND from_account = ? AND (msg_id = ? OR replaces = ?) RETURNING bytes",
			deviceId,
			from,
			original,
			original,
		)
		.toArray();
	if (removed.length > 0) dropMemos(sql);
	return removed.length > 0;
}
