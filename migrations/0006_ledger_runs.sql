-- A flush of an account's charges writes one ledger row per run of charges of one kind
-- (docs/decisions.md, "Rows written are the bill"): "12 text messages, -48" instead of twelve
-- rows, each with its index entry, which were two of the ten rows written per message. It
-- also keeps each message's id and time out of D1, the one database that is not per user: the
-- account's own object keeps that detail for as long as it keeps its sent record.
-- `count` is how many charges the row sums.
ALTER TABLE credit_ledger ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
