import { DAY_MS } from "../../abuse/send-limits.ts";
import { firstAbove } from "../sorted-numbers.ts";
import { storageMemo } from "../storage/storage-memo.ts";
import { deleteMeta, readMeta, writeMeta } from "../storage/storage-schema.ts";

/**
 * The sender's record of what it sent, kept as long as the queue keeps messages: a re-sent
 * id is answered without a second charge, only a message's sender may edit or delete it,
 * and the rate limit, the daily quota and the behavioural flags count the `counted` rows (text,
 * attachment, edit). One row per send, indexed by its id only: the limiter once had a log of its
 * own, two more rows written per message for what this table already knows, and an index on
 * `at` was one more row written per send. So a read by time is a pass over every row the
 * record holds, and an object's start makes one such pass (passOverRecord), not one per reader.
 */

/** How many of the newest counted send times are kept in memory (the behavioural flags look at 11). */
export const NEWEST_SENDS_KEPT = 16;
/** The newest counted send times, newest first: read after every send, moved by every write below. */
const newestSends = storageMemo<number[]>();
/** Counted sends ever: read after every send (trust promotion), moved by every write below. */
const lifetime = storageMemo<number>();

/**
 * The counted send times of the rolling window the limits look at (the day, or only the rate
 * window for an account without a quota), oldest first, from `since` on. Counting them in
 * SQL read every row of the day at every send: with a high quota, hundreds of rows read per
 * message for a number memory can keep. Loaded once per object life, appended at each send.
 */
interface SendWindow {
	since: number;
	times: number[];
}
const sendWindow = storageMemo<SendWindow>();
/** Entries older than every window asked for go in batches: a shift per send would copy the array each time. */
const SPLICE_AT = 256;

/** A charge of the record that D1 does not have yet, as a flush's batch carries it. */
export interface UnflushedCharge {
	seq: number;
	ref: string;
	reason: string;
	amount: number;
	at: number;
}
/** The record's charges above the watermark, in the order they were made, and the highest number given. */
export interface RecordCharges {
	maxSeq: number;
	unflushed: UnflushedCharge[];
}
/**
 * Kept in memory: the journal's size and a flush's batch come from here, not from a pass over
 * the record (which has no index on the charge number). A fast sender flushes every 500
 * charges; each flush was a pass over every row held, and after it the journal's size was
 * read again, a second pass, both in the sender's object between two of its messages.
 * Filled by the start's pass, appended by
 * every charged send (recordSent), cut by every flush that lands (markSendsFlushed); it holds
 * at most what the flush policy lets wait.
 */
const onRecord = storageMemo<RecordCharges>();

/** The record's charges up to this number are in D1 (the journal's watermark, kept with the rows it numbers). */
const SENDS_FLUSHED_KEY = "charged_sends_flushed";
export const sendsFlushedUpTo = (sql: SqlStorage): number => Number(readMeta(sql, SENDS_FLUSHED_KEY) ?? 0);
export function markSendsFlushed(sql: SqlStorage, upTo: number): void {
	if (upTo <= sendsFlushedUpTo(sql)) return;
	writeMeta(sql, SENDS_FLUSHED_KEY, String(upTo));
	onRecord.update(sql, (r) => ({ ...r, unflushed: r.unflushed.filter((c) => c.seq > upTo) }));
}

/**
 * One pass over the record gives what an object's start needs of it: the limits' window of
 * counted send times after `since` (the caller's; without one, the day's, which every limit
 * counts within, unless a window is already held: an object woken by its alarm flushes
 * credits, reading the journal, before the message that follows counts the limits), the newest sends
 * when the window holds them, the lifetime count (trust promotion) and the charges not yet in D1.
 * Before, the window and the journal each made a pass: two rows read per row held, at every
 * wake from hibernation, which for a heavy sender (30 days of sends on record) was most of what
 * a woken message cost. The window's times come back as one JSON array, so the pass stays a
 * single statement that SQLite aggregates, and so do the charges; both are sorted here
 * (SQLite's sort of a table without an index counts every row twice as read).
 */
function passOverRecord(sql: SqlStorage, asked?: number): void {
	const since = asked ?? (sendWindow.peek(sql) ? null : Date.now() - DAY_MS);
	const after = sendsFlushedUpTo(sql);
	const row = sql
		.exec<{ times: string; counted: number; maxSeq: number | null; unflushed: string }>(
			`SELECT json_group_array(at) FILTER (WHERE counted = 1 AND at > ?1) AS times,
				COUNT(*) FILTER (WHERE counted = 1) AS counted,
				MAX(charge_seq) AS maxSeq,
				json_group_array(json_array(charge_seq, id, charge_reason, price, at)) FILTER (WHERE charge_seq > ?2) AS unflushed
			FROM sent_messages`,
			// No window to fill: an empty one (nothing is after the largest time).
			since ?? Number.MAX_SAFE_INTEGER,
			after,
		)
		.one();
	lifetime.get(sql, () => prunedSends(sql) + row.counted);
	// One held is exact (every write moved it) and stays.
	onRecord.get(sql, () => ({
		maxSeq: Math.max(row.maxSeq ?? 0, after),
		unflushed: (JSON.parse(row.unflushed) as Array<[number, string, string, number, number]>)
			.map(([seq, ref, reason, amount, at]) => ({ seq, ref, reason, amount, at }))
			.sort((x, y) => x.seq - y.seq),
	}));
	if (since === null) return;
	const times = (JSON.parse(row.times) as number[]).sort((a, b) => a - b);
	// A window holding enough sends, or every counted send on record, ends with the newest ones:
	// their own query would be another pass at every start of the object.
	if (times.length >= NEWEST_SENDS_KEPT || times.length === row.counted)
		newestSends.get(sql, () => times.slice(-NEWEST_SENDS_KEPT).reverse());
	sendWindow.drop(sql);
	sendWindow.get(sql, () => ({ since, times }));
}

/**
 * The record's charges not yet in D1 and the highest charge number: from memory, after the
 * pass an object's start made anyway (the limits count before a send is priced) or, if there
 * was none (an alarm's flush woke the object), a pass of its own.
 */
export function recordCharges(sql: SqlStorage): RecordCharges {
	if (!onRecord.peek(sql)) passOverRecord(sql);
	return onRecord.peek(sql) as RecordCharges;
}

/** Counted sends already pruned from the record, kept as one number. */
const PRUNED_KEY = "sends_before_record";
/** The counter older code bumped on every send: a row written per message for a number this record gives. */
const LEGACY_KEY = "messages_sent";

/** A send's charge, journaled in its row: the price and the number credits/credit-journal.ts chargeSent gave it. */
export interface SentCharge {
	amount: number;
	seq: number;
}

export function recordSent(
	sql: SqlStorage,
	m: { id: string; to: string; kind: string; at: number; counted: boolean; charge?: SentCharge },
): void {
	const cursor = sql.exec(
		"INSERT OR IGNORE INTO sent_messages (id, to_account, kind, at, counted, price, charge_reason, charge_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		m.id,
		m.to,
		m.kind,
		m.at,
		m.counted ? 1 : 0,
		m.charge?.amount ?? 0,
		m.charge ? m.kind : null,
		m.charge?.seq ?? null,
	);
	if (m.charge && cursor.rowsWritten > 0) {
		const { amount, seq } = m.charge;
		onRecord.update(sql, (r) => {
			// Numbers are given in order, so the list stays in order.
			r.unflushed.push({ seq, ref: m.id, reason: m.kind, amount, at: m.at });
			return { ...r, maxSeq: Math.max(r.maxSeq, seq) };
		});
	}
	if (m.counted && cursor.rowsWritten > 0) {
		newestSends.update(sql, (times) => [m.at, ...times].sort((a, b) => b - a).slice(0, NEWEST_SENDS_KEPT));
		lifetime.update(sql, (n) => n + 1);
		sendWindow.update(sql, (w) => {
			if (m.at <= w.since) return w;
			// Sends come in time order; a clock that stepped back still lands in its place.
			const at = firstAbove(w.times, m.at);
			if (at === w.times.length) w.times.push(m.at);
			else w.times.splice(at, 0, m.at);
			return w;
		});
	}
}

export function sentMessage(sql: SqlStorage, id: string): { to: string; kind: string; at: number } | undefined {
	return sql
		.exec<{ to_account: string; kind: string; at: number }>("SELECT to_account, kind, at FROM sent_messages WHERE id = ?", id)
		.toArray()
		.map((r) => ({ to: r.to_account, kind: r.kind, at: r.at }))[0];
}

/** A deleted message can be neither edited nor deleted again; it still counted when it was sent. */
export function markSentDeleted(sql: SqlStorage, id: string): void {
	sql.exec("UPDATE sent_messages SET kind = 'deleted' WHERE id = ?", id);
}

/**
 * Counted sends in two windows ending now: `inShort` after `shortSince`, `inLong` after
 * `longSince` (shortSince >= longSince). From memory after the first call of an object's life;
 * a window reaching further back than the one held loads it again.
 */
export function countSends(sql: SqlStorage, shortSince: number, longSince: number): { inShort: number; inLong: number } {
	let w = sendWindow.peek(sql);
	// None yet, or one reaching less far back: the pass fills it (and what else a start needs).
	if (w === undefined || longSince < w.since) {
		passOverRecord(sql, longSince);
		w = sendWindow.peek(sql) as SendWindow;
	}
	const first = firstAbove(w.times, longSince);
	if (first >= SPLICE_AT) {
		w.times.splice(0, first);
		w.since = longSince;
	}
	const from = first >= SPLICE_AT ? 0 : first;
	const long = w.times.length - from;
	const short = w.times.length - firstAbove(w.times, shortSince);
	return { inShort: short, inLong: long };
}

/** The time of the n-th newest counted send (1-based). */
export function nthNewestSendTime(sql: SqlStorage, n: number): number | undefined {
	if (n <= NEWEST_SENDS_KEPT) {
		const known = newestSendTimes(sql, n);
		return known.length >= n ? known[n - 1] : undefined;
	}
	// The window holds every counted send since its start: the n-th newest is in it if it holds n.
	const held = sendWindow.peek(sql);
	if (held && held.times.length >= n) return held.times[held.times.length - n];
	return sql.exec<{ at: number }>("SELECT at FROM sent_messages WHERE counted = 1 ORDER BY at DESC LIMIT 1 OFFSET ?", n - 1).toArray()[0]
		?.at;
}

/** The newest `n` (at most NEWEST_SENDS_KEPT) counted send times, newest first. */
export function newestSendTimes(sql: SqlStorage, n: number): number[] {
	const times = newestSends.get(sql, () =>
		sql
			.exec<{ at: number }>("SELECT at FROM sent_messages WHERE counted = 1 ORDER BY at DESC LIMIT ?", NEWEST_SENDS_KEPT)
			.toArray()
			.map((r) => r.at),
	);
	return times.slice(0, Math.min(n, NEWEST_SENDS_KEPT));
}

const countedInRecord = (sql: SqlStorage, upTo = Number.MAX_SAFE_INTEGER): number =>
	sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sent_messages WHERE counted = 1 AND at <= ?", upTo).one().n;

/** The base the record's counted rows add to; takes over the counter older code kept (which counted them too). */
function prunedSends(sql: SqlStorage): number {
	const legacy = readMeta(sql, LEGACY_KEY);
	if (legacy !== undefined) {
		writeMeta(sql, PRUNED_KEY, String(Math.max(0, Number(legacy) - countedInRecord(sql))));
		deleteMeta(sql, LEGACY_KEY);
	}
	return Number(readMeta(sql, PRUNED_KEY) ?? 0);
}

/** Counted sends over the account's life (trust promotion, an admin's review): those pruned plus those on record. */
export function lifetimeSends(sql: SqlStorage): number {
	return lifetime.get(sql, () => prunedSends(sql) + countedInRecord(sql));
}

/**
 * Forget sends older than `before`, but never one whose charge D1 does not have yet (a flush
 * failing that long is an outage to fix, not a reason to let the charge go): those at or
 * under `flushedUpTo` only (credit-journal.ts sendsFlushedUpTo).
 */
export function pruneSent(sql: SqlStorage, before: number, flushedUpTo: number): void {
	const pruned = sql
		.exec<{ n: number }>(
			"SELECT COUNT(*) AS n FROM sent_messages WHERE counted = 1 AND at <= ? AND (charge_seq IS NULL OR charge_seq <= ?)",
			before,
			flushedUpTo,
		)
		.one().n;
	if (pruned > 0) writeMeta(sql, PRUNED_KEY, String(prunedSends(sql) + pruned));
	sql.exec("DELETE FROM sent_messages WHERE at <= ? AND (charge_seq IS NULL OR charge_seq <= ?)", before, flushedUpTo);
	newestSends.drop(sql);
	lifetime.drop(sql);
	sendWindow.drop(sql);
}
