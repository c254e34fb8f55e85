-- Credits bought with Stripe Checkout (docs/decisions.md, "Buying credits"). One row per paid
-- payment, keyed by Stripe's payment id: a webhook delivered again (Stripe retries until it
-- hears 200) finds its row and grants nothing twice. `refunded_credits` is how much of the
-- pack the refunds so far cover, so a repeated refund event reverses nothing twice either.
CREATE TABLE credit_purchases (
	payment_id TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	checkout_session TEXT NOT NULL,
	credits INTEGER NOT NULL CHECK (credits > 0),
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	refunded_credits INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX credit_purchases_by_account ON credit_purchases(account_id);
-- Belt and braces: the ledger row of a purchase carries the payment id, at most once.
CREATE UNIQUE INDEX credit_ledger_one_purchase ON credit_ledger(ref) WHERE reason = 'purchase';
