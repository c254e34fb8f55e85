import type { IRequest } from "itty-router";
import { type AccountStatus, type CreditHistory, deleteAccountRequest } from "../../common/protocol/wire.ts";
import { ledger } from "../db/credits.ts";
import { authenticate, readBody, relayFor, unwrap } from "../http.ts";

/** GET /api/account: balance, trust, quota left and when the next send is allowed. */
export async function accountStatus(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const status: AccountStatus = unwrap(await relayFor(env, s.accountId).accountStatus(s.deviceId));
	return Response.json(status);
}

/**
 * GET /api/account/credits: the ledger, newest first. Charges reach D1 in batches; the
 * account's object writes the waiting ones first, so the list is complete.
 */
export async function creditHistory(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	unwrap(await relayFor(env, s.accountId).flushCredits(s.deviceId));
	const entries = await ledger(env.DB, s.accountId, 200);
	return Response.json({ entries } satisfies CreditHistory);
}

/**
 * DELETE /api/account `{ handle }`: the account is deleted for good, by one of its approved
 * devices, with its own handle typed again. 204; contacts hear `deleted`.
 */
export async function deleteAccount(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, deleteAccountRequest);
	unwrap(await relayFor(env, s.accountId).deleteAccount(s.deviceId, body.handle));
	return new Response(null, { status: 204 });
}
