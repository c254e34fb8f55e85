-- Reports that cannot be weaponized (docs/decisions.md, "Abuse rules"): each report keeps what
-- it weighed and why, an escalated suspension waits for an admin in a review queue, and an
-- admin's own trust decision is remembered so automatic promotion never overrides it.

-- What the report weighed (0: it does not count) and the facts it was weighed on, as they
-- were when it was made: the reporter's trust and account creation time, its side of the
-- contact and how many messages it had received from the reported account. Counts only,
-- never message content. Reports from before this migration weigh 0: nobody checked them.
ALTER TABLE reports ADD COLUMN weight REAL NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN reporter_trust TEXT;
ALTER TABLE reports ADD COLUMN reporter_created_at INTEGER;
ALTER TABLE reports ADD COLUMN contact_state TEXT;
ALTER TABLE reports ADD COLUMN messages_received INTEGER NOT NULL DEFAULT 0;

-- An account whose counting reports reached SUSPEND_AFTER_REPORTERS after an earlier
-- suspension: the next level applies only when an admin confirms it. `since`: the reports
-- after this time are the wave under review. The reported account's own counts when the
-- review opened (from its Durable Object) are kept beside it.
CREATE TABLE suspension_reviews (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'dismissed')),
	since INTEGER NOT NULL,
	opened_at INTEGER NOT NULL,
	decided_at INTEGER,
	messages_sent INTEGER NOT NULL,
	requests_sent INTEGER NOT NULL,
	requests_accepted INTEGER NOT NULL,
	contacts INTEGER NOT NULL
);
-- At most one review waits per account, so two reports at once cannot open two.
CREATE UNIQUE INDEX suspension_reviews_one_pending ON suspension_reviews(account_id) WHERE state = 'pending';
CREATE INDEX suspension_reviews_by_account ON suspension_reviews(account_id, state);

-- When an admin last set the account's trust level (POST /api/admin/accounts/:id/trust).
ALTER TABLE accounts ADD COLUMN trust_set_at INTEGER;
