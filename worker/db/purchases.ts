/** A paid Stripe Checkout, as the webhook reports it: the pack's credits for the account. */
export interface Purchase {
	/** Stripe's payment id (the PaymentIntent): what a refund names, and the ledger row's ref. */
	paymentId: string;
	accountId: string;
	checkoutSession: string;
	credits: number;
	/** What was paid, in the currency's smallest unit. */
	amount: number;
	currency: string;
}

export interface StoredPurchase extends Purchase {
	/** How much of the pack the refunds so far cover (already taken back, or found spent). */
	refundedCredits: number;
}

const UNIQUE_PURCHASE = /UNIQUE constraint failed: (credit_purchases\.payment_id|credit_ledger\.ref)/;

/**
 * Grant a purchase's credits, with its ledger row, once: the purchase row is inserted first,
 * so a webhook delivered again fails on its payment id as a whole and grants nothing.
 * Returns whether this call granted.
 */
export async function recordPurchase(db: D1Database, p: Purchase, now: number): Promise<boolean> {
	try {
		await db.batch([
			db
				.prepare(
					`INSERT INTO credit_purchases (payment_id, account_id, checkout_session, credits, amount, currency, created_at)
					 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
				)
				.bind(p.paymentId, p.accountId, p.checkoutSession, p.credits, p.amount, p.currency, now),
			db.prepare("UPDATE accounts SET credits = credits + ?2 WHERE id = ?1").bind(p.accountId, p.credits),
			db
				.prepare(
					"INSERT INTO credit_ledger (account_id, delta, balance_after, reason, ref, created_at) SELECT id, ?2, credits, 'purchase', ?3, ?4 FROM accounts WHERE id = ?1",
				)
				.bind(p.accountId, p.credits, p.paymentId, now),
		]);
		return true;
	} catch (err) {
		if (err instanceof Error && UNIQUE_PURCHASE.test(err.message)) return false;
		throw err;
	}
}

export async function findPurchase(db: D1Database, paymentId: string): Promise<StoredPurchase | null> {
	const row = await db
		.prepare(
			"SELECT payment_id, account_id, checkout_session, credits, amount, currency, refunded_credits FROM credit_purchases WHERE payment_id = ?1",
		)
		.bind(paymentId)
		.first<{
			payment_id: string;
			account_id: string;
			checkout_session: string;
			credits: number;
			amount: number;
			currency: string;
			refunded_credits: number;
		}>();
	if (!row) return null;
	return {
		paymentId: row.payment_id,
		accountId: row.account_id,
		checkoutSession: row.checkout_session,
		credits: row.credits,
		amount: row.amount,
		currency: row.currency,
		refundedCredits: row.refunded_credits,
	};
}

/**
 * A refund of a purchase: the refunds now cover `covered` credits of it (up from `before`), of
 * which `take` are taken back (the rest were already spent). Every statement is conditioned on
 * the purchase still standing at `before`, so a refund already applied changes nothing; the
 * last one moves it. Returns D1's new balance, or null when nothing was applied.
 */
export async function reverseRefund(
	db: D1Database,
	r: { paymentId: string; accountId: string; before: number; covered: number; take: number },
	now: number,
): Promise<number | null> {
	const standing = "EXISTS (SELECT 1 FROM credit_purchases WHERE payment_id = ?2 AND refunded_credits = ?3)";
	const [, , moved, balance] = await db.batch<{ credits: number }>([
		db.prepare(`UPDATE accounts SET credits = credits - ?4 WHERE id = ?1 AND ${standing}`).bind(r.accountId, r.paymentId, r.before, r.take),
		db
			.prepare(
				`INSERT INTO credit_ledger (account_id, delta, balance_after, reason, ref, created_at)
				 SELECT id, -?4, credits, 'refund', ?2, ?5 FROM accounts WHERE id = ?1 AND ${standing}`,
			)
			.bind(r.accountId, r.paymentId, r.before, r.take, now),
		db
			.prepare("UPDATE credit_purchases SET refunded_credits = ?3 WHERE payment_id = ?1 AND refunded_credits = ?2 RETURNING payment_id")
			.bind(r.paymentId, r.before, r.covered),
		db.prepare("SELECT credits FROM accounts WHERE id = ?1").bind(r.accountId),
	]);
	if ((moved?.results.length ?? 0) === 0) return null;
	return balance?.results[0]?.credits ?? 0;
}
