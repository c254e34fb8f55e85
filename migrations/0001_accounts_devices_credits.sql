-- Accounts, device credentials and credits: the only things D1 holds (docs/architecture.md,
-- "Where data lives").
-- Nothing about contacts or messages belongs here; those live in each user's Durable Object.

CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	handle TEXT NOT NULL UNIQUE,
	trust TEXT NOT NULL DEFAULT 'untrusted' CHECK (trust IN ('untrusted', 'trusted', 'verified')),
	suspended_until INTEGER,
	suspension_level INTEGER NOT NULL DEFAULT 0,
	credits INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
	created_at INTEGER NOT NULL
);

CREATE TABLE devices (
	id TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	public_key TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
	-- The approving device's Ed25519 signature over the new key; NULL for an account's first device,
	-- whose registration signature is kept instead.
	approved_by TEXT,
	approval_signature TEXT,
	created_at INTEGER NOT NULL,
	approved_at INTEGER,
	revoked_at INTEGER,
	last_seen_at INTEGER
);
CREATE INDEX devices_by_account ON devices(account_id, status);

-- Every change of a balance, with the balance it left, so the ledger alone can be audited.
CREATE TABLE credit_ledger (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	delta INTEGER NOT NULL,
	balance_after INTEGER NOT NULL,
	reason TEXT NOT NULL,
	ref TEXT,
	created_at INTEGER NOT NULL
);
CREATE INDEX credit_ledger_by_account ON credit_ledger(account_id, id);
