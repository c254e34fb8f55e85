/**
 * The admins' review queue (migrations/0004): an account suspended before whose counting
 * reports reached the threshold again waits here, and only an admin's confirmation applies
 * the next level (docs/decisions.md, "Abuse rules").
 */
export type ReviewState = "pending" | "confirmed" | "dismissed";

/** The reported account's own counts when the review opened, from its Durable Object. */
export interface ActivityCounts {
	messagesSent: number;
	requestsSent: number;
	requestsAccepted: number;
	contacts: number;
}

export interface Review {
	id: number;
	accountId: string;
	state: ReviewState;
	/** The reports after this time are the wave under review. */
	since: number;
	openedAt: number;
	decidedAt: number | null;
	activity: ActivityCounts;
}

type ReviewRow = {
	id: number;
	account_id: string;
	state: ReviewState;
	since: number;
	opened_at: number;
	decided_at: number | null;
	messages_sent: number;
	requests_sent: number;
	requests_accepted: number;
	contacts: number;
};

const toReview = (r: ReviewRow): Review => ({
	id: r.id,
	accountId: r.account_id,
	state: r.state,
	since: r.since,
	openedAt: r.opened_at,
	decidedAt: r.decided_at,
	activity: { messagesSent: r.messages_sent, requestsSent: r.requests_sent, requestsAccepted: r.requests_accepted, contacts: r.contacts },
});

/** Whether a review waits for the account, and when an admin last decided one (reports before that were acted on). */
export async function reviewStanding(db: D1Database, accountId: string): Promise<{ pending: boolean; lastDecidedAt: number | null }> {
	const row = await db
		.prepare(
			`SELECT EXISTS (SELECT 1 FROM suspension_reviews WHERE account_id = ?1 AND state = 'pending') AS pending,
			   (SELECT MAX(decided_at) FROM suspension_reviews WHERE account_id = ?1) AS last_decided_at`,
		)
		.bind(accountId)
		.first<{ pending: number; last_decided_at: number | null }>();
	return { pending: row?.pending === 1, lastDecidedAt: row?.last_decided_at ?? null };
}

/** False when one already waits for the account (the partial unique index keeps it to one). */
export async function openReview(
	db: D1Database,
	r: { accountId: string; since: number; now: number; activity: ActivityCounts },
): Promise<boolean> {
	const { meta } = await db
		.prepare(
			`INSERT OR IGNORE INTO suspension_reviews (account_id, state, since, opened_at, messages_sent, requests_sent, requests_accepted, contacts)
			 VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?7)`,
		)
		.bind(r.accountId, r.since, r.now, r.activity.messagesSent, r.activity.requestsSent, r.activity.requestsAccepted, r.activity.contacts)
		.run();
	return meta.changes > 0;
}

export async function pendingReviews(db: D1Database, limit: number): Promise<Review[]> {
	const { results } = await db
		.prepare("SELECT * FROM suspension_reviews WHERE state = 'pending' ORDER BY opened_at, id LIMIT ?1")
		.bind(limit)
		.all<ReviewRow>();
	return results.map(toReview);
}

export async function pendingReviewOf(db: D1Database, accountId: string): Promise<Review | null> {
	const row = await db
		.prepare("SELECT * FROM suspension_reviews WHERE account_id = ?1 AND state = 'pending'")
		.bind(accountId)
		.first<ReviewRow>();
	return row ? toReview(row) : null;
}

/**
 * Confirm: the next suspension and the decision in one transaction, the suspension only while
 * the review still waits, so two admins deciding at once apply it once. False if it no longer waited.
 */
export async function confirmReview(
	db: D1Database,
	review: { id: number; accountId: string },
	next: { until: number; level: number; reason: string },
	now: number,
): Promise<boolean> {
	const [, decided] = await db.batch([
		db
			.prepare(
				`UPDATE accounts SET suspended_until = ?2, suspension_level = ?3, suspended_at = ?4, suspension_reason = ?5
				 WHERE id = ?1 AND EXISTS (SELECT 1 FROM suspension_reviews WHERE id = ?6 AND state = 'pending')`,
			)
			.bind(review.accountId, next.until, next.level, now, next.reason, review.id),
		db
			.prepare("UPDATE suspension_reviews SET state = 'confirmed', decided_at = ?2 WHERE id = ?1 AND state = 'pending'")
			.bind(review.id, now),
	]);
	return (decided?.meta.changes ?? 0) > 0;
}

/** Dismiss: nothing is applied, and the wave's reports are not counted again. False if it no longer waited. */
export async function dismissReview(db: D1Database, reviewId: number, now: number): Promise<boolean> {
	const { meta } = await db
		.prepare("UPDATE suspension_reviews SET state = 'dismissed', decided_at = ?2 WHERE id = ?1 AND state = 'pending'")
		.bind(reviewId, now)
		.run();
	return meta.changes > 0;
}
