export interface Charge {
	amount: number;
	reason: string;
	ref: string | null;
	at: number;
}

export interface LedgerEntry {
	delta: number;
	balanceAfter: number;
	reason: string;
	/** What the charge paid for (a message id, an attachment, a payment); null on a row that sums several. */
	ref: string | null;
	/** How many charges of one kind, made one after another, the row sums; absent for one. */
	count?: number;
	createdAt: number;
}

/** A ledger row a flush writes: a run of charges of one kind, in the order they were made. */
export interface LedgerRun {
	amount: number;
	reason: string;
	count: number;
	/** The charge's ref when the run is one charge; a run of several names none of them. */
	ref: string | null;
	/** When the run's last charge was made. */
	at: number;
}

/**
 * Folds charges, in order, into runs of one reason: a row per run, not per charge. An
 * attachment keeps a row of its own, with its ref: it is priced by its size, and a person
 * looks for it by name.
 */
export function ledgerRuns(charges: readonly Charge[]): LedgerRun[] {
	const runs: LedgerRun[] = [];
	for (const c of charges) {
		const last = runs[runs.length - 1];
		if (last && last.reason === c.reason && c.reason !== "attachment") {
			last.amount += c.amount;
			last.count += 1;
			last.ref = null;
			last.at = c.at;
		} else runs.push({ amount: c.amount, reason: c.reason, count: 1, ref: c.ref, at: c.at });
	}
	return runs;
}

export async function readCredits(db: D1Database, accountId: string): Promise<number> {
	const row = await db.prepare("SELECT credits FROM accounts WHERE id = ?1").bind(accountId).first<{ credits: number }>();
	return row?.credits ?? 0;
}

/**
 * Apply a batch of charges journaled by the account's Durable Object: a ledger row per run of
 * charges of one reason (ledgerRuns), the balance lowered by their sum, all in one
 * transaction. The batch id is inserted first, so replaying a batch that already landed (the
 * object crashed before it could note that) fails as a whole and charges nothing twice.
 */
export async function applyCharges(
	db: D1Database,
	accountId: string,
	flushId: string,
	charges: readonly Charge[],
	now: number,
): Promise<{ applied: true; credits: number } | { applied: false }> {
	// Three statements however many charges: the balance moves once by the total, and each
	// ledger row's balance_after is the new balance plus what the rows after it took
	// (`after`), so the rows read as if charged one by one, in order.
	const total = charges.reduce((sum, c) => sum + c.amount, 0);
	let after = total;
	const rows = ledgerRuns(charges).map((run) => {
		after -= run.amount;
		return { ...run, after };
	});
	const statements = [
		db.prepare("INSERT INTO credit_flushes (id, account_id, created_at) VALUES (?1, ?2, ?3)").bind(flushId, accountId, now),
		db.prepare("UPDATE accounts SET credits = credits - ?2 WHERE id = ?1 RETURNING credits").bind(accountId, total),
		db
			.prepare(
				`INSERT INTO credit_ledger (account_id, delta, balance_after, reason, ref, count, created_at)
				 SELECT a.id, -json_extract(j.value, '$.amount'), a.credits + json_extract(j.value, '$.after'),
				        json_extract(j.value, '$.reason'), json_extract(j.value, '$.ref'), json_extract(j.value, '$.count'),
				        json_extract(j.value, '$.at')
				 FROM accounts a, json_each(?2) j WHERE a.id = ?1 ORDER BY j.key`,
			)
			.bind(accountId, JSON.stringify(rows)),
	];
	try {
		const results = await db.batch<{ credits: number }>(statements);
		return { applied: true, credits: results[1]?.results[0]?.credits ?? 0 };
	} catch (err) {
		if (err instanceof Error && /UNIQUE constraint failed: credit_flushes\.id/.test(err.message)) return { applied: false };
		throw err;
	}
}

/** Add credits (admin grants, refunds), with its ledger row. Returns the new balance. */
export async function grantCredits(db: D1Database, accountId: string, amount: number, reason: string, now: number): Promise<number> {
	const [, , balance] = await db.batch<{ credits: number }>([
		db.prepare("UPDATE accounts SET credits = credits + ?2 WHERE id = ?1").bind(accountId, amount),
		db
			.prepare(
				"INSERT INTO credit_ledger (account_id, delta, balance_after, reason, created_at) SELECT id, ?2, credits, ?3, ?4 FROM accounts WHERE id = ?1",
			)
			.bind(accountId, amount, reason, now),
		db.prepare("SELECT credits FROM accounts WHERE id = ?1").bind(accountId),
	]);
	return balance?.results[0]?.credits ?? 0;
}

export async function ledger(db: D1Database, accountId: string, limit: number): Promise<LedgerEntry[]> {
	const { results } = await db
		.prepare(
			"SELECT delta, balance_after, reason, ref, count, created_at FROM credit_ledger WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
		)
		.bind(accountId, limit)
		.all<{ delta: number; balance_after: number; reason: string; ref: string | null; count: number; created_at: number }>();
	return results.map((r) => ({
		delta: r.delta,
		balanceAfter: r.balance_after,
		reason: r.reason,
		ref: r.ref,
		...(r.count > 1 && { count: r.count }),
		createdAt: r.created_at,
	}));
}
