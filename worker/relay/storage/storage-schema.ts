/**
 * The per-user Durable Object's SQLite schema. DO storage has no migration runner, so the
 * schema is versioned here and applied once per version when the object starts.
 */
const MIGRATIONS: string[][] = [
	[
		"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
		// Cache of D1's device rows for this account (D1 stays authoritative).
		"CREATE TABLE devices (id TEXT PRIMARY KEY, public_key TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL)",
		`CREATE TABLE contacts (
			peer_id TEXT PRIMARY KEY,
			peer_handle TEXT NOT NULL,
			state TEXT NOT NULL,
			peer_blocked INTEGER NOT NULL DEFAULT 0,
			key_version INTEGER,
			created_at INTEGER NOT NULL,
			updated_at INTEGER NOT NULL
		)`,
		`CREATE TABLE envelopes (
			peer_id TEXT NOT NULL,
			key_version INTEGER NOT NULL,
			device_id TEXT NOT NULL,
			from_account TEXT NOT NULL,
			from_device TEXT NOT NULL,
			from_public_key TEXT NOT NULL,
			nonce TEXT NOT NULL,
			box TEXT NOT NULL,
			PRIMARY KEY (peer_id, key_version, device_id)
		)`,
		// Ciphertext only: `frame` is the exact message frame pushed to the device.
		`CREATE TABLE queue (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			device_id TEXT NOT NULL,
			msg_id TEXT NOT NULL,
			frame TEXT NOT NULL,
			bytes INTEGER NOT NULL,
			expires_at INTEGER NOT NULL,
			UNIQUE (device_id, msg_id)
		)`,
		"CREATE INDEX queue_by_device ON queue (device_id, seq)",
		"CREATE INDEX queue_by_expiry ON queue (expires_at)",
		// Running totals so the per-device queue caps cost one row read per device, not a scan.
		"CREATE TABLE queue_stats (device_id TEXT PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL)",
		"CREATE TABLE used_challenges (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
	],
	[
		// What the limiter, the quota and the behavioural flags look back on: sends, contact
		// requests, refused sends. `ref` names the message or peer so a refused send can be undone.
		"CREATE TABLE events (kind TEXT NOT NULL, at INTEGER NOT NULL, ref TEXT)",
		"CREATE INDEX events_by_kind ON events (kind, at)",
		// Charges not yet written to D1. `held` while the send is in flight, `charged` once it
		// committed; `flush_id` is set when a batch to D1 is prepared and kept until it landed.
		`CREATE TABLE charges (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			ref TEXT,
			reason TEXT NOT NULL,
			amount INTEGER NOT NULL,
			at INTEGER NOT NULL,
			state TEXT NOT NULL,
			flush_id TEXT
		)`,
	],
	[
		// Set when a device of either side was revoked: the key version that must replace the
		// current one before anyone sends again.
		"ALTER TABLE contacts ADD COLUMN rotate_to INTEGER",
	],
	[
		// Who sent a queued message, so an ack can become a delivery receipt for them.
		"ALTER TABLE queue ADD COLUMN from_account TEXT",
		// Looking up a re-sent message id must not scan the day's sends.
		"CREATE INDEX events_by_ref ON events (ref) WHERE ref IS NOT NULL",
	],
	[
		// Attachments this account is sending: reserved (and paid for, as a held charge), then
		// uploaded to R2, then sent in a message.
		`CREATE TABLE uploads (
			id TEXT PRIMARY KEY,
			to_account TEXT NOT NULL,
			size INTEGER NOT NULL,
			sealed_size INTEGER NOT NULL,
			hold_id INTEGER NOT NULL,
			status TEXT NOT NULL,
			msg_id TEXT,
			expires_at INTEGER NOT NULL
		)`,
		// Messages this account sent, so only their sender can edit or delete them.
		"CREATE TABLE sent_messages (id TEXT PRIMARY KEY, to_account TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL)",
		"CREATE INDEX sent_messages_by_time ON sent_messages (at)",
		// Attachments sent to this account: who may still fetch them before the blob goes.
		"CREATE TABLE attachment_grants (attachment_id TEXT PRIMARY KEY, owner TEXT NOT NULL, msg_id TEXT NOT NULL, expires_at INTEGER NOT NULL)",
		"CREATE TABLE attachment_waiting (attachment_id TEXT NOT NULL, device_id TEXT NOT NULL, PRIMARY KEY (attachment_id, device_id))",
		// An edit queued in place of its original names the original here, so a later delete finds it.
		"ALTER TABLE queue ADD COLUMN replaces TEXT",
	],
	[
		// Whether this account takes calls from the contact; off until allowed.
		"ALTER TABLE contacts ADD COLUMN calls_allowed INTEGER NOT NULL DEFAULT 0",
		// Calls ringing or in progress (relay/call-store.ts): who talks to whom, never media or keys.
		`CREATE TABLE calls (
			call_id TEXT PRIMARY KEY,
			peer_id TEXT NOT NULL,
			role TEXT NOT NULL,
			own_device TEXT,
			peer_device TEXT,
			state TEXT NOT NULL,
			expires_at INTEGER NOT NULL
		)`,
		"CREATE INDEX calls_by_expiry ON calls (expires_at)",
	],
	[
		// R2 keys whose delete failed (an R2 outage): the alarm tries them again until they go.
		"CREATE TABLE blob_deletions (key TEXT PRIMARY KEY, since INTEGER NOT NULL)",
	],
	[
		// Older code held a send's price and logged it for the limiter before the delivery; an
		// eviction in between left both behind, not charged and not sent. Released once, here:
		// a send now writes nothing before its delivery (an attachment's hold belongs to its
		// upload row, written with it), so none can appear again.
		`DELETE FROM events WHERE kind = 'send'
			AND ref IN (SELECT ref FROM charges WHERE state = 'held' AND id NOT IN (SELECT hold_id FROM uploads))
			AND ref NOT IN (SELECT id FROM sent_messages)`,
		"DELETE FROM charges WHERE state = 'held' AND id NOT IN (SELECT hold_id FROM uploads)",
		// Only that release looked events up by `ref`.
		"DROP INDEX IF EXISTS events_by_ref",
	],
	[
		// Protocol v2. `IF NOT EXISTS`: a test that winds schema_version back to rerun the
		// release above reruns these too, over tables it already has.
		// The account's newest signed device list, exactly as its identity key signed it: one row.
		"CREATE TABLE IF NOT EXISTS device_list (only INTEGER PRIMARY KEY CHECK (only = 1), list TEXT NOT NULL)",
		// One-time link codes opened by an approved device, and the claim that used each
		// (devices/link-store.ts). Kept past their expiry while a claimed device may still wait.
		`CREATE TABLE IF NOT EXISTS links (
			link_id TEXT PRIMARY KEY,
			opened_by TEXT NOT NULL,
			expires_at INTEGER NOT NULL,
			claimed_by TEXT UNIQUE,
			proof TEXT
		)`,
		// The identity key as another device of the account wrapped it for this one (sealed; the relay cannot open it).
		`CREATE TABLE IF NOT EXISTS identity_envelopes (
			device_id TEXT PRIMARY KEY,
			from_device TEXT NOT NULL,
			from_public_key TEXT NOT NULL,
			nonce TEXT NOT NULL,
			box TEXT NOT NULL,
			link_confirm TEXT
		)`,
	],
	[
		// Account recovery (relay/recovery/). Only public or sealed data: the recovery PUBLIC key
		// with the identity key's signature over it (devices check it before they seal to it),
		// one row, replaced when the key is.
		"CREATE TABLE IF NOT EXISTS recovery_key (only INTEGER PRIMARY KEY CHECK (only = 1), public_key TEXT NOT NULL, signature TEXT NOT NULL)",
		// The account's one sealed key backup, exactly as a device uploaded it (the relay cannot open it).
		"CREATE TABLE IF NOT EXISTS key_backup (only INTEGER PRIMARY KEY CHECK (only = 1), version INTEGER NOT NULL, nonce TEXT NOT NULL, box TEXT NOT NULL)",
		// Pending devices created by a restore with the recovery key: only these may finish by
		// themselves (POST /api/devices/:id/recover); a device that joined by link code may not.
		"CREATE TABLE IF NOT EXISTS recovering_devices (device_id TEXT PRIMARY KEY)",
	],
	[
		// History transfers to a newly linked device (relay/history/): who sends to whom, the
		// offer box exactly as the approving device sealed it (the relay cannot open it), and
		// where the sealed archive stands. The archive itself is in R2; a row lives an hour.
		`CREATE TABLE IF NOT EXISTS history_transfers (
			transfer_id TEXT PRIMARY KEY,
			from_device TEXT NOT NULL,
			from_public_key TEXT NOT NULL,
			to_device TEXT NOT NULL,
			nonce TEXT NOT NULL,
			box TEXT NOT NULL,
			state TEXT NOT NULL,
			size INTEGER,
			created_at INTEGER NOT NULL,
			expires_at INTEGER NOT NULL
		)`,
		"CREATE INDEX IF NOT EXISTS history_transfers_by_expiry ON history_transfers (expires_at)",
	],
	[
		// Sealed signal bytes each call carried from this account's devices (relay/calls/): a
		// call's signaling is metered as a whole, so it cannot become a free channel.
		"CREATE TABLE IF NOT EXISTS call_budgets (call_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL)",
	],
	[
		// Message ids are unique per sender, not per account: a contact who sent under the id of
		// someone else's message must not have his frame skipped for theirs, nor his edit or
		// delete reach theirs. The queue's unique key gains the sender, which takes a rebuild
		// (SQLite cannot change a UNIQUE constraint in place). Safe to run again over the rebuilt
		// table: the copy names its columns and every step takes the table as it finds it.
		// The sender of a row from before `from_account` existed is the `from` of its frame.
		`CREATE TABLE IF NOT EXISTS queue_by_sender (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			device_id TEXT NOT NULL,
			from_account TEXT NOT NULL,
			msg_id TEXT NOT NULL,
			replaces TEXT,
			frame TEXT NOT NULL,
			bytes INTEGER NOT NULL,
			expires_at INTEGER NOT NULL,
			UNIQUE (device_id, from_account, msg_id)
		)`,
		`INSERT OR IGNORE INTO queue_by_sender (seq, device_id, from_account, msg_id, replaces, frame, bytes, expires_at)
			SELECT seq, device_id, COALESCE(from_account, json_extract(frame, '$.from'), ''), msg_id, replaces, frame, bytes, expires_at FROM queue`,
		// Sequence numbers go on from where the old table's stopped, not from its highest row
		// left: a hibernated socket remembers the last one it was pushed (SocketState.sentUpTo),
		// and a new row under it would never be pushed. A placeholder row takes the old high
		// mark (AUTOINCREMENT remembers it) and goes again at once.
		`INSERT INTO queue_by_sender (seq, device_id, from_account, msg_id, frame, bytes, expires_at)
			SELECT seq, '', '', '', '', 0, 0 FROM sqlite_sequence
			WHERE name = 'queue' AND seq > (SELECT COALESCE(MAX(seq), 0) FROM queue_by_sender)`,
		"DELETE FROM queue_by_sender WHERE device_id = '' AND msg_id = ''",
		"DROP TABLE queue",
		"ALTER TABLE queue_by_sender RENAME TO queue",
		"CREATE INDEX IF NOT EXISTS queue_by_device ON queue (device_id, seq)",
		"CREATE INDEX IF NOT EXISTS queue_by_expiry ON queue (expires_at)",
		// A sender's delete revokes the grants of its own message only: looked up by (owner, id).
		"CREATE INDEX IF NOT EXISTS attachment_grants_by_message ON attachment_grants (owner, msg_id)",
	],
	[
		// Messages (text, attachment, edit) received from each peer (messaging/received-counts.ts):
		// a report counts toward a suspension only from someone the reported account wrote to
		// (abuse/report-weight.ts). A count, never content; kept after a block, which is what
		// people do to an abuser before or while they report.
		"CREATE TABLE IF NOT EXISTS received_counts (peer_id TEXT PRIMARY KEY, messages INTEGER NOT NULL)",
	],
	[
		// Sealed delivery receipts for devices that were offline when they came
		// (messaging/receipt-queue.ts): apart from the message queue, since they are not acked
		// and never count as missed messages.
		`CREATE TABLE IF NOT EXISTS receipt_queue (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			device_id TEXT NOT NULL,
			frame TEXT NOT NULL,
			expires_at INTEGER NOT NULL
		)`,
		"CREATE INDEX IF NOT EXISTS receipt_queue_by_device ON receipt_queue (device_id, seq)",
		"CREATE INDEX IF NOT EXISTS receipt_queue_by_expiry ON receipt_queue (expires_at)",
	],
	[
		// Sealed bytes of read receipts this account sent each day (messaging/read-receipts.ts):
		// free, and not tied to an ack, so a daily budget keeps them from being a channel.
		"CREATE TABLE IF NOT EXISTS read_receipt_budget (day INTEGER PRIMARY KEY, bytes INTEGER NOT NULL)",
	],
	[
		// Call requests from contacts whose calls this account has not allowed (calls/call-requests.ts):
		// who asked and when, nothing else, one per contact, until answered or a day old.
		"CREATE TABLE IF NOT EXISTS call_requests (peer_id TEXT PRIMARY KEY, at INTEGER NOT NULL)",
	],
	[
		// Every index is one more row written (and billed) per queued message. Paging walks the
		// rowid instead (message-queue.ts pageQueue), the rare expiry sweep scans, and the
		// per-device totals are counted from the queue into memory instead of kept in a table
		// written twice per message.
		"DROP INDEX IF EXISTS queue_by_device",
		"DROP INDEX IF EXISTS queue_by_expiry",
		"DROP TABLE IF EXISTS queue_stats",
	],
	[
		// The limiter counts the sender's record of what it sent instead of a log of its own:
		// `counted` marks the sends the rate limit and the quota count (text, attachment, edit —
		// and a deleted one, which was one of those). Without a rowid the id is the table's own
		// key, not a second index: a send writes its row and its time, two rows where the record
		// and the log wrote five. Rebuilt (SQLite cannot drop a rowid); safe to run again over the
		// rebuilt table, which it copies as it finds it.
		`CREATE TABLE IF NOT EXISTS sent_messages_keyed (
			id TEXT PRIMARY KEY,
			to_account TEXT NOT NULL,
			kind TEXT NOT NULL,
			at INTEGER NOT NULL,
			counted INTEGER NOT NULL
		) WITHOUT ROWID`,
		`INSERT OR IGNORE INTO sent_messages_keyed (id, to_account, kind, at, counted)
			SELECT id, to_account, kind, at, kind IN ('text', 'attachment', 'edit', 'deleted') FROM sent_messages`,
		"DROP TABLE sent_messages",
		"ALTER TABLE sent_messages_keyed RENAME TO sent_messages",
		"CREATE INDEX IF NOT EXISTS sent_messages_by_time ON sent_messages (at)",
		"DELETE FROM events WHERE kind IN ('send')",
	],
	[
		// The credit journal without AUTOINCREMENT, whose counter is one more row written per
		// charge: an id need only be unique among the rows there are (a flushed charge is gone, and
		// the upload that held it never looks at its id again), which the rowid is. Rebuilt, as the sent record above.
		`CREATE TABLE IF NOT EXISTS charges_rowid (
			id INTEGER PRIMARY KEY,
			ref TEXT,
			reason TEXT NOT NULL,
			amount INTEGER NOT NULL,
			at INTEGER NOT NULL,
			state TEXT NOT NULL,
			flush_id TEXT
		)`,
		"INSERT OR IGNORE INTO charges_rowid (id, ref, reason, amount, at, state, flush_id) SELECT id, ref, reason, amount, at, state, flush_id FROM charges",
		"DROP TABLE charges",
		"ALTER TABLE charges_rowid RENAME TO charges",
	],
	[
		// Web Push (relay/push/): each device's subscription, one row per device, apart from the
		// device cache, which is rewritten from D1 whole. Where the device's push service takes a
		// push and the public key and auth secret a push is sealed for; never in D1.
		`CREATE TABLE IF NOT EXISTS push_subscriptions (
			device_id TEXT PRIMARY KEY,
			endpoint TEXT NOT NULL,
			p256dh TEXT NOT NULL,
			auth TEXT NOT NULL,
			updated_at INTEGER NOT NULL
		)`,
	],
	[
		// The sent record's time index was one more row written per send. The limits count the
		// day's sends from memory (messaging/sent-messages.ts), loaded by one scan per object
		// life; the other readers by time (the newest sends, the 30-day prune) are as rare.
		"DROP INDEX IF EXISTS sent_messages_by_time",
	],
	[
		// A text's, an edit's or a delete's charge is journaled in its row of the sender's record
		// (credits/credit-journal.ts chargeSent) instead of a row of `charges` written at the send
		// and deleted at the flush. `charge_seq` numbers the charges in the order they were made;
		// those above the meta watermark `charged_sends_flushed` are not in D1 yet. Not safe to
		// run twice on its own, but a replay from before the record's rebuild above finds the
		// table rebuilt without these columns.
		"ALTER TABLE sent_messages ADD COLUMN price INTEGER NOT NULL DEFAULT 0",
		"ALTER TABLE sent_messages ADD COLUMN charge_reason TEXT",
		"ALTER TABLE sent_messages ADD COLUMN charge_seq INTEGER",
	],
	[
		// The queue without AUTOINCREMENT, whose counter was one more row written per queued
		// message: the object numbers rows itself, above the highest row and above what any
		// open socket was pushed (messaging/message-queue.ts nextSeq), so numbers still only
		// rise. Rebuilt (SQLite cannot drop AUTOINCREMENT), rows and numbers as they are; safe to
		// run again over the rebuilt table.
		`CREATE TABLE IF NOT EXISTS queue_numbered (
			seq INTEGER PRIMARY KEY,
			device_id TEXT NOT NULL,
			from_account TEXT NOT NULL,
			msg_id TEXT NOT NULL,
			replaces TEXT,
			frame TEXT NOT NULL,
			bytes INTEGER NOT NULL,
			expires_at INTEGER NOT NULL,
			UNIQUE (device_id, from_account, msg_id)
		)`,
		`INSERT OR IGNORE INTO queue_numbered (seq, device_id, from_account, msg_id, replaces, frame, bytes, expires_at)
			SELECT seq, device_id, from_account, msg_id, replaces, frame, bytes, expires_at FROM queue`,
		// AUTOINCREMENT's high mark, which a row deleted at the top leaves above the rows: the
		// numbering goes on above it.
		`INSERT INTO meta (key, value) SELECT 'queue_seq_floor', seq FROM sqlite_sequence WHERE name = 'queue'
			ON CONFLICT (key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)`,
		"DROP TABLE queue",
		"ALTER TABLE queue_numbered RENAME TO queue",
		"DELETE FROM sqlite_sequence WHERE name IN ('queue', 'queue_numbered')",
	],
	[
		// The alarm's time is no longer mirrored in meta (durable-host.ts alarmPort): the runtime
		// keeps it, and the mirror cost a row written at every arm and every alarm.
		"DELETE FROM meta WHERE key = 'alarm_at'",
	],
	[
		// The queue keyed by what an ack names (device, sender, id) in a WITHOUT ROWID table, so
		// a queued message is one row written, not a row plus its unique index. Its number (the
		// delivery order) is a plain column: a draining device pages through an order kept in
		// memory (messaging/message-queue.ts). The frame is the last column, so a scan of the
		// numbers does not read the frames. Rebuilt with rows and numbers as they are; safe to run
		// again over the rebuilt table.
		`CREATE TABLE IF NOT EXISTS queue_keyed (
			device_id TEXT NOT NULL,
			from_account TEXT NOT NULL,
			msg_id TEXT NOT NULL,
			seq INTEGER NOT NULL,
			replaces TEXT,
			bytes INTEGER NOT NULL,
			expires_at INTEGER NOT NULL,
			frame TEXT NOT NULL,
			PRIMARY KEY (device_id, from_account, msg_id)
		) WITHOUT ROWID`,
		`INSERT OR IGNORE INTO queue_keyed (device_id, from_account, msg_id, seq, replaces, bytes, expires_at, frame)
			SELECT device_id, from_account, msg_id, seq, replaces, bytes, expires_at, frame FROM queue`,
		"DROP TABLE queue",
		"ALTER TABLE queue_keyed RENAME TO queue",
	],
];

/** The schema version migrateStorage brings storage to. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The migrations, read-only: a test that winds `schema_version` back to replay one finds it
 * by what it does rather than by its distance from the newest, which changes with every
 * migration added.
 */
export const STORAGE_MIGRATIONS: ReadonlyArray<readonly string[]> = MIGRATIONS;

/**
 * Runs on every start of the object, including each wake from hibernation: one read (all of
 * `meta`, which also fills the meta cache below) when no migration is due.
 */
export function migrateStorage(sql: SqlStorage): void {
	const current = Number(readMeta(sql, "schema_version") ?? 0);
	for (let version = current; version < MIGRATIONS.length; version++) {
		for (const statement of MIGRATIONS[version] ?? []) sql.exec(statement);
		writeMeta(sql, "schema_version", String(version + 1));
	}
}

/**
 * Meta values are read on every message (the account, its balance, the alarm); the object
 * is the only writer of its storage, so a memory copy kept in step with every write is
 * exact. It belongs to this SqlStorage, so a restarted object starts from storage again.
 */
const metaCache = new WeakMap<SqlStorage, Map<string, string>>();

/** The whole meta table, read once per object start: a handful of rows, so absent means unset. */
function cacheOf(sql: SqlStorage): Map<string, string> {
	let cache = metaCache.get(sql);
	if (!cache) {
		let rows: Array<{ key: string; value: string }> = [];
		try {
			rows = sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta").toArray();
		} catch (err) {
			// A new object: no meta table until the first migration creates it. Anything else
			// must not pass for "no schema yet".
			if (!(err instanceof Error && /no such table/.test(err.message))) throw err;
		}
		cache = new Map(rows.map((r) => [r.key, r.value]));
		metaCache.set(sql, cache);
	}
	return cache;
}

export function readMeta(sql: SqlStorage, key: string): string | undefined {
	return cacheOf(sql).get(key);
}

export function writeMeta(sql: SqlStorage, key: string, value: string): void {
	// An upsert, not INSERT OR REPLACE: a replace deletes and inserts, two rows written for one.
	sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
	cacheOf(sql).set(key, value);
}

export function deleteMeta(sql: SqlStorage, key: string): void {
	sql.exec("DELETE FROM meta WHERE key = ?", key);
	cacheOf(sql).delete(key);
}
