import type { IRequest } from "itty-router";
import { reportRequest } from "../../common/protocol/wire.ts";
import { reportOutcome, reportWeight } from "../abuse/report-weight.ts";
import { nextSuspension } from "../abuse/suspension.ts";
import { ApiError } from "../api-error.ts";
import { readConfig } from "../config.ts";
import { insertReport, suspendAccount, suspendedAt, waveSince } from "../db/abuse.ts";
import { type Account, getAccount } from "../db/accounts.ts";
import { openReview, reviewStanding } from "../db/reviews.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";

/**
 * POST /api/contacts/:accountId/report. Every report is kept, but only one from an accepted
 * contact who received a message from the account weighs anything (abuse/report-weight.ts).
 * When the weight of the reports made since reports were last acted on reaches
 * SUSPEND_AFTER_REPORTERS, a first offender is suspended (the first level only); anyone
 * suspended before goes to the admins' review queue, where only an admin applies more.
 */
export async function reportContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const reportedId = pathId(request, "accountId");
	const body = await readBody(request, reportRequest);
	const reporterRelay = relayFor(env, s.accountId);
	const standing = unwrap(await reporterRelay.noteReport(s.deviceId, reportedId));
	const [reported, reporter] = await Promise.all([getAccount(env.DB, reportedId), getAccount(env.DB, s.accountId)]);
	if (!reported || !reporter) throw new ApiError("not_found", "No such account.");

	const now = Date.now();
	const weight = reportWeight(reporter, standing, now);
	const facts = { weight, reporterTrust: reporter.trust, reporterCreatedAt: reporter.createdAt, ...standing };
	await insertReport(env.DB, { reporterId: s.accountId, reportedId, reason: body.reason, now, facts });
	console.log(JSON.stringify({ event: "report", reporterId: s.accountId, reportedId, weight }));
	// A report that weighs nothing cannot have moved the wave.
	if (weight > 0) await actOnReports(env, reported, now);
	if (body.block) {
		unwrap(await reporterRelay.blockContact(s.deviceId, { id: reported.id, handle: reported.handle }));
	}
	return new Response(null, { status: 204 });
}

/** Only reports made since reports were last acted on count: after the last suspension, or the last admin decision. */
async function actOnReports(env: Env, reported: Account, now: number): Promise<void> {
	const rules = readConfig(env).suspension;
	const [lastSuspended, review] = await Promise.all([suspendedAt(env.DB, reported.id), reviewStanding(env.DB, reported.id)]);
	const since = Math.max(now - rules.reportWindowMs, lastSuspended ?? 0, review.lastDecidedAt ?? 0);
	const wave = await waveSince(env.DB, reported.id, since);
	const account = {
		suspensionLevel: reported.suspensionLevel,
		suspendedNow: reported.suspendedUntil !== null && reported.suspendedUntil > now,
		reviewPending: review.pending,
	};
	const outcome = reportOutcome(account, wave, rules.reporters);
	if (outcome === "suspend") {
		const next = nextSuspension(reported.suspensionLevel, now, rules.escalationMs);
		await suspendAccount(env.DB, reported.id, { until: next.until, level: next.level, reason: "reports from several contacts", now });
		console.log(JSON.stringify({ event: "account_suspended", accountId: reported.id, reason: "reports", level: next.level }));
		await relayFor(env, reported.id).reloadAccount();
	} else if (outcome === "review") {
		const activity = await relayFor(env, reported.id).activityCounts();
		if (await openReview(env.DB, { accountId: reported.id, since, now, activity })) {
			console.log(JSON.stringify({ event: "review_opened", accountId: reported.id, proposedLevel: reported.suspensionLevel + 1 }));
		}
	}
}
