import type { IRequest } from "itty-router";
import { reportRequest } from "../../common/protocol/wire.ts";
import { nextSuspension } from "../abuse/suspension.ts";
import { ApiError } from "../api-error.ts";
import { readConfig } from "../config.ts";
import { distinctReportersSince, insertReport, suspendAccount, suspendedAt } from "../db/abuse.ts";
import { getAccount } from "../db/accounts.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";

/**
 * POST /api/contacts/:accountId/report. Reports from enough distinct accounts within the
 * window suspend the reported account (escalating); only reports made since its last
 * suspension count, so one wave of reports is acted on once.
 */
export async function reportContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const reportedId = pathId(request, "accountId");
	const body = await readBody(request, reportRequest);
	const reporterRelay = relayFor(env, s.accountId);
	unwrap(await reporterRelay.mayReport(s.deviceId, reportedId));
	const reported = await getAccount(env.DB, reportedId);
	if (!reported) throw new ApiError("not_found", "No such account.");

	const now = Date.now();
	const rules = readConfig(env).suspension;
	await insertReport(env.DB, { reporterId: s.accountId, reportedId, reason: body.reason, now });
	const since = Math.max(now - rules.reportWindowMs, (await suspendedAt(env.DB, reportedId)) ?? 0);
	const alreadySuspended = reported.suspendedUntil !== null && reported.suspendedUntil > now;
	if (!alreadySuspended && (await distinctReportersSince(env.DB, reportedId, since)) >= rules.reporters) {
		const next = nextSuspension(reported.suspensionLevel, now, rules.escalationMs);
		await suspendAccount(env.DB, reportedId, { until: next.until, level: next.level, reason: "reports from several accounts", now });
		console.log(JSON.stringify({ event: "account_suspended", accountId: reportedId, reason: "reports", level: next.level }));
		await relayFor(env, reportedId).reloadAccount();
	}
	if (body.block) {
		unwrap(await reporterRelay.blockContact(s.deviceId, { id: reported.id, handle: reported.handle }));
	}
	return new Response(null, { status: 204 });
}
