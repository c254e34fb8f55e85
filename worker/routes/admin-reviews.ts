import type { IRequest } from "itty-router";
import { type AdminReview, adminReviewDecision } from "../../common/protocol/wire.ts";
import { nextSuspension } from "../abuse/suspension.ts";
import { ApiError } from "../api-error.ts";
import { readConfig } from "../config.ts";
import { type WaveReport, waveReports } from "../db/abuse.ts";
import { type Account, getAccount } from "../db/accounts.ts";
import { confirmReview, dismissReview, pendingReviewOf, pendingReviews, type Review } from "../db/reviews.ts";
import { pathId, readBody, relayFor } from "../http.ts";
import { requireAdmin } from "./admin.ts";

/*
 * The admins' review queue: accounts suspended before whose counting reports reached the
 * threshold again (routes/reports.ts). Evidence is counts and levels, plus the reporters'
 * own words; never anything the reported account wrote.
 */

/** Enough for any real wave; a review's evidence lists at most this many reports. */
const WAVE_REPORTS_SHOWN = 500;
const REVIEWS_SHOWN = 100;

/** Each reporter of the wave once. */
function reporters(reports: WaveReport[]): AdminReview["reporters"] {
	const byReporter = new Map<string, AdminReview["reporters"][number]>();
	// Newest first: the first report seen of a reporter is its latest, whose facts are shown.
	for (const r of reports) {
		const known = byReporter.get(r.reporterId);
		if (known) {
			known.reports++;
			known.weight = Math.max(known.weight, r.weight);
			continue;
		}
		byReporter.set(r.reporterId, {
			reporterId: r.reporterId,
			trust: r.reporterTrust,
			accountAgeMs: Math.max(0, r.createdAt - r.reporterCreatedAt),
			contactState: r.contactState,
			messagesReceived: r.messagesReceived,
			reports: 1,
			weight: r.weight,
		});
	}
	return [...byReporter.values()];
}

async function reviewView(env: Env, review: Review, account: Account): Promise<AdminReview> {
	const { suspension } = readConfig(env);
	const reports = await waveReports(env.DB, account.id, review.since, review.decidedAt ?? Number.MAX_SAFE_INTEGER, WAVE_REPORTS_SHOWN);
	const who = reporters(reports);
	const counting = who.filter((r) => r.weight > 0);
	const next = nextSuspension(account.suspensionLevel, Date.now(), suspension.escalationMs);
	return {
		id: review.id,
		accountId: account.id,
		handle: account.handle,
		state: review.state,
		openedAt: review.openedAt,
		decidedAt: review.decidedAt,
		account: {
			createdAt: account.createdAt,
			trust: account.trust,
			suspensionLevel: account.suspensionLevel,
			suspendedUntil: account.suspendedUntil,
			...review.activity,
		},
		next: review.state === "pending" ? { level: next.level, durationMs: suspension.escalationMs[account.suspensionLevel] ?? null } : null,
		evidence: {
			reports: reports.length,
			countingReports: reports.filter((r) => r.weight > 0).length,
			reporters: counting.length,
			weight: counting.reduce((sum, r) => sum + r.weight, 0),
			weightNeeded: suspension.reporters,
		},
		reporters: who,
		reports: reports.map((r) => ({
			id: r.id,
			reporterId: r.reporterId,
			reportedId: r.reportedId,
			reason: r.reason,
			createdAt: r.createdAt,
			weight: r.weight,
		})),
	};
}

/** GET /api/admin/reviews — the reviews waiting for a decision, oldest first. */
export async function listPendingReviews(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const reviews: AdminReview[] = [];
	for (const review of await pendingReviews(env.DB, REVIEWS_SHOWN)) {
		const account = await getAccount(env.DB, review.accountId);
		if (account) reviews.push(await reviewView(env, review, account));
	}
	return Response.json({ reviews });
}

/**
 * POST /api/admin/accounts/:accountId/review `{ decision }`. `confirm` applies the next
 * suspension level (7 days, then until an admin lifts it) from now; `dismiss` applies
 * nothing. Either way the wave's reports are not counted again.
 */
export async function decideReview(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const { decision } = await readBody(request, adminReviewDecision);
	const account = await getAccount(env.DB, pathId(request, "accountId"));
	if (!account) throw new ApiError("not_found", "No such account.");
	const review = await pendingReviewOf(env.DB, account.id);
	const missing = new ApiError("not_found", "No review of reports waits for this account.");
	if (!review) throw missing;
	const now = Date.now();
	if (decision === "confirm") {
		const next = nextSuspension(account.suspensionLevel, now, readConfig(env).suspension.escalationMs);
		const reason = "reports from several contacts, confirmed by an administrator";
		if (!(await confirmReview(env.DB, review, { ...next, reason }, now))) throw missing;
		console.log(JSON.stringify({ event: "account_suspended", accountId: account.id, reason: "reports, confirmed", level: next.level }));
		await relayFor(env, account.id).reloadAccount();
	} else if (!(await dismissReview(env.DB, review.id, now))) {
		throw missing;
	}
	console.log(JSON.stringify({ event: "review_decided", accountId: account.id, decision }));
	const decided = { ...review, state: decision === "confirm" ? "confirmed" : "dismissed", decidedAt: now } as const;
	return Response.json({ review: await reviewView(env, decided, (await getAccount(env.DB, account.id)) as Account) });
}
