-- Reports, behavioural flags and idempotent credit flushes (docs/decisions.md, "Abuse rules"
-- and "Credits without D1 on the message path").

ALTER TABLE accounts ADD COLUMN suspended_at INTEGER;
ALTER TABLE accounts ADD COLUMN suspension_reason TEXT;

CREATE TABLE reports (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	reporter_id TEXT NOT NULL REFERENCES accounts(id),
	reported_id TEXT NOT NULL REFERENCES accounts(id),
	reason TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX reports_by_reported ON reports(reported_id, created_at);

CREATE TABLE flags (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	kind TEXT NOT NULL,
	detail TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX flags_by_time ON flags(created_at);
CREATE INDEX flags_by_account ON flags(account_id, created_at);

-- A user's Durable Object journals charges locally and flushes them here in batches; each
-- batch carries an id recorded in the same transaction, so a batch retried after a crash is
-- refused instead of charged twice.
CREATE TABLE credit_flushes (
	id TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	created_at INTEGER NOT NULL
);
