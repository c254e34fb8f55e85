import type { ContactState } from "../../common/protocol/wire.ts";
import type { Wave } from "../abuse/report-weight.ts";
import type { TrustLevel } from "./accounts.ts";

export interface Report {
	id: number;
	reporterId: string;
	reportedId: string;
	reason: string;
	createdAt: number;
	/** 0 for a report that does not count toward a suspension. */
	weight: number;
}

/** What a report was weighed on, as it was when it was made (abuse/report-weight.ts). */
export interface ReportFacts {
	weight: number;
	reporterTrust: TrustLevel;
	reporterCreatedAt: number;
	contactState: ContactState;
	messagesReceived: number;
}

type ReportRow = { id: number; reporter_id: string; reported_id: string; reason: string; created_at: number; weight: number };

const toReport = (r: ReportRow): Report => ({
	id: r.id,
	reporterId: r.reporter_id,
	reportedId: r.reported_id,
	reason: r.reason,
	createdAt: r.created_at,
	weight: r.weight,
});

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

/** An admin's decision: remembered (`trust_set_at`), so automatic promotion never overrides it. */
export async function setTrust(db: D1Database, accountId: string, trust: TrustLevel, now: number): Promise<void> {
	await db.prepare("UPDATE accounts SET trust = ?2, trust_set_at = ?3 WHERE id = ?1").bind(accountId, trust, now).run();
}

/**
 * Promote only from untrusted and only while no admin holds the account back (heldByAdmin,
 * checked again in the same statement), so an admin decision made meanwhile is never overwritten.
 */
export async function promoteToTrusted(db: D1Database, accountId: string): Promise<boolean> {
	const { meta } = await db
		.prepare(
			`UPDATE accounts SET trust = 'trusted' WHERE id = ?1 AND trust = 'untrusted' AND trust_set_at IS NULL
			 AND NOT EXISTS (SELECT 1 FROM suspension_reviews WHERE account_id = ?1 AND state IN ('pending', 'confirmed'))`,
		)
		.bind(accountId)
		.run();
	return meta.changes > 0;
}

export async function insertReport(
	db: D1Database,
	r: { reporterId: string; reportedId: string; reason: string; now: number; facts: ReportFacts },
): Promise<void> {
	await db
		.prepare(
			`INSERT INTO reports (reporter_id, reported_id, reason, created_at, weight, reporter_trust, reporter_created_at, contact_state, messages_received)
			 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
		)
		.bind(
			r.reporterId,
			r.reportedId,
			r.reason,
			r.now,
			r.facts.weight,
			r.facts.reporterTrust,
			r.facts.reporterCreatedAt,
			r.facts.contactState,
			r.facts.messagesReceived,
		)
		.run();
}

/**
 * The counting reports against an account made after `since`: each reporter once, at the
 * most its reports weighed, so a repeat report by the same account adds nothing.
 */
export async function waveSince(db: D1Database, reportedId: string, since: number): Promise<Wave> {
	const row = await db
		.prepare(
			`SELECT COUNT(*) AS reporters, COALESCE(SUM(w), 0) AS weight FROM
			 (SELECT MAX(weight) AS w FROM reports WHERE reported_id = ?1 AND created_at > ?2 AND weight > 0 GROUP BY reporter_id)`,
		)
		.bind(reportedId, since)
		.first<{ reporters: number; weight: number }>();
	return { reporters: row?.reporters ?? 0, weight: row?.weight ?? 0 };
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
	const { results } = await query.all<ReportRow>();
	return results.map(toReport);
}

/** One report of a wave under review, with what it was weighed on (older rows: the reporter as it is now). */
export interface WaveReport extends Report {
	reporterTrust: TrustLevel;
	reporterCreatedAt: number;
	contactState: ContactState | null;
	messagesReceived: number;
}

/** The reports against an account made after `since` and up to `until`, newest first. */
export async function waveReports(db: D1Database, reportedId: string, since: number, until: number, limit: number): Promise<WaveReport[]> {
	const { results } = await db
		.prepare(
			`SELECT r.id, r.reporter_id, r.reported_id, r.reason, r.created_at, r.weight, r.contact_state, r.messages_received,
			   COALESCE(r.reporter_trust, a.trust) AS reporter_trust, COALESCE(r.reporter_created_at, a.created_at) AS reporter_created_at
			 FROM reports r JOIN accounts a ON a.id = r.reporter_id
			 WHERE r.reported_id = ?1 AND r.created_at > ?2 AND r.created_at <= ?3 ORDER BY r.id DESC LIMIT ?4`,
		)
		.bind(reportedId, since, until, limit)
		.all<
			ReportRow & { contact_state: ContactState | null; messages_received: number; reporter_trust: TrustLevel; reporter_created_at: number }
		>();
	return results.map((r) => ({
		...toReport(r),
		reporterTrust: r.reporter_trust,
		reporterCreatedAt: r.reporter_created_at,
		contactState: r.contact_state,
		messagesReceived: r.messages_received,
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

/**
 * Whether an admin holds the account back from automatic trust: a review of reports waits
 * for their decision or was confirmed, or they set its trust level themselves.
 */
export async function heldByAdmin(db: D1Database, accountId: string): Promise<boolean> {
	const row = await db
		.prepare(
			`SELECT (trust_set_at IS NOT NULL OR EXISTS
			   (SELECT 1 FROM suspension_reviews WHERE account_id = ?1 AND state IN ('pending', 'confirmed'))) AS held
			 FROM accounts WHERE id = ?1`,
		)
		.bind(accountId)
		.first<{ held: number }>();
	return row?.held === 1;
}
