-- Protocol v2: every account has an identity key that signs its device lists, and devices
-- join by one-time link code (docs/decisions.md, PROTOCOL.md). v1 accounts have no identity
-- key and their devices were approved without a signed list, so none of them can be carried
-- over: every v1 row goes, children before the accounts they reference.

DELETE FROM credit_flushes;
DELETE FROM flags;
DELETE FROM reports;
DELETE FROM credit_ledger;
DELETE FROM devices;
DELETE FROM accounts;

-- The account's identity key (Ed25519), as registered and after every identity reset: a
-- mirror of the one in the account's newest signed device list. Nullable only because SQLite
-- cannot add a NOT NULL column without a default; registration always sets it.
ALTER TABLE accounts ADD COLUMN identity_key TEXT;
