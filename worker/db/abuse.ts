import type { TrustLevel } from "./accounts.ts";

export interface Report {
	id: number;
	reporterId: string;
	reportedId: string;
	reason: string;
	createdAt: number;
}

export interface Flag {
	id: number;
	accountId: string;
	kind: string;
	detail: string;
	createdAt: number;
}

export async function suspendAccount(db: D1Database, accountId: string, s: { until: number; level: number; reason: string; now: number }) {
	await db
		.prepare("UPDATE accounts SET suspended_until = ?2, suspension_level = ?3, suspended_at = ?4, suspension_reason = ?5 WHERE id = ?1")
		.bind(accountId, s.until, s.level, s.now, s.reason)
		.run();
}

/** Lifting keeps the level, so the next suspension still escalates. */
export async function liftSuspension(db: D1Database, accountId: string): Promise<void> {
	await db.prepare("UPDATE accounts SET suspended_until = NULL WHERE id = ?1").bind(accountId).run();
}

export async function setTrust(db: D1Database, accountId: string, trust: TrustLevel): Promise<void> {
	await db.prepare("UPDATE accounts SET trust = ?2 WHERE id = ?1").bind(accountId, trust).run();
}

/** Promote only from untrusted, so a concurrent admin decision is never overwritten. */
export async function promoteToTrusted(db: D1Database, accountId: string): Promise<boolean> {
	const { meta } = await db.prepare("UPDATE accounts SET trust = 'trusted' WHERE id = ?1 AND trust = 'untrusted'").bind(accountId).run();
	return meta.changes > 0;
}

export async function insertReport(
	db: D1Database,
	r: { reporterId: string; reportedId: string; reason: string; now: number },
): Promise<void> {
	await db
		.prepare("INSERT INTO reports (reporter_id, reported_id, reason, created_at) VALUES (?1, ?2, ?3, ?4)")
		.bind(r.reporterId, r.reportedId, r.reason, r.now)
		.run();
}

export async function distinctReportersSince(db: D1Database, reportedId: string, since: number): Promise<number> {
	const row = await db
		.prepare("SELECT COUNT(DISTINCT reporter_id) AS n FROM reports WHERE reported_id = ?1 AND created_at > ?2")
		.bind(reportedId, since)
		.first<{ n: number }>();
	return row?.n ?? 0;
}

/** When the latest suspension started, so reports already acted on are not counted twice. */
export async function suspendedAt(db: D1Database, accountId: string): Promise<number | null> {
	const row = await db.prepare("SELECT suspended_at FROM accounts WHERE id = ?1").bind(accountId).first<{ suspended_at: number | null }>();
	return row?.suspended_at ?? null;
}

export async function listReports(db: D1Database, opts: { reportedId?: string; limit: number }): Promise<Report[]> {
	const query = opts.reportedId
		? db.prepare("SELECT * FROM reports WHERE reported_id = ?1 ORDER BY id DESC LIMIT ?2").bind(opts.reportedId, opts.limit)
		: db.prepare("SELECT * FROM reports ORDER BY id DESC LIMIT ?1").bind(opts.limit);
	const { results } = await query.all<{ id: number; reporter_id: string; reported_id: string; reason: string; created_at: number }>();
	return results.map((r) => ({
		id: r.id,
		reporterId: r.reporter_id,
		reportedId: r.reported_id,
		reason: r.reason,
		createdAt: r.created_at,
	}));
}

export async function insertFlag(db: D1Database, f: { accountId: string; kind: string; detail: string; now: number }): Promise<void> {
	await db
		.prepare("INSERT INTO flags (account_id, kind, detail, created_at) VALUES (?1, ?2, ?3, ?4)")
		.bind(f.accountId, f.kind, f.detail, f.now)
		.run();
}

export async function listFlags(db: D1Database, opts: { accountId?: string; limit: number }): Promise<Flag[]> {
	const query = opts.accountId
		? db.prepare("SELECT * FROM flags WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2").bind(opts.accountId, opts.limit)
		: db.prepare("SELECT * FROM flags ORDER BY id DESC LIMIT ?1").bind(opts.limit);
	const { results } = await query.all<{ id: number; account_id: string; kind: string; detail: string; created_at: number }>();
	return results.map((r) => ({ id: r.id, accountId: r.account_id, kind: r.kind, detail: r.detail, createdAt: r.created_at }));
}

export async function reportsAgainst(db: D1Database, accountId: string): Promise<number> {
	const row = await db.prepare("SELECT COUNT(*) AS n FROM reports WHERE reported_id = ?1").bind(accountId).first<{ n: number }>();
	return row?.n ?? 0;
}
