import type { IRequest } from "itty-router";
import { type AdminAccountView, adminGrantRequest, adminTrustRequest, handle } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { DEV_SECRET_PREFIX } from "../config.ts";
import { liftSuspension, listFlags, listReports, setTrust } from "../db/abuse.ts";
import { type Account, findAccountByHandle, getAccount, listDevices } from "../db/accounts.ts";
import { grantCredits, ledger } from "../db/credits.ts";
import { pathId, readBody, relayFor, unwrap } from "../http.ts";

const encoder = new TextEncoder();

/** Constant-time: compare digests, so neither length nor prefix of the token leaks. */
async function sameSecret(a: string, b: string): Promise<boolean> {
	const [da, db] = await Promise.all([
		crypto.subtle.digest("SHA-256", encoder.encode(a)),
		crypto.subtle.digest("SHA-256", encoder.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(da, db);
}

/** Admin routes need the deployment's ADMIN_TOKEN; without one configured they are closed. */
export async function requireAdmin(request: IRequest, env: Env): Promise<void> {
	const configured = env.ADMIN_TOKEN;
	const refused = new ApiError("unauthorized", "Admin token missing or wrong.");
	if (typeof configured !== "string" || configured.length < 24) throw refused;
	if (configured.startsWith(DEV_SECRET_PREFIX) && env.ENVIRONMENT === "production") throw refused;
	const header = request.headers.get("authorization");
	if (!header?.startsWith("Bearer ") || !(await sameSecret(header.slice(7), configured))) throw refused;
}

async function accountById(env: Env, request: IRequest): Promise<Account> {
	const account = await getAccount(env.DB, pathId(request, "accountId"));
	if (!account) throw new ApiError("not_found", "No such account.");
	return account;
}

async function view(env: Env, account: Account): Promise<AdminAccountView> {
	const [devices, reports, flags, entries] = await Promise.all([
		listDevices(env.DB, account.id),
		listReports(env.DB, { reportedId: account.id, limit: 100 }),
		listFlags(env.DB, { accountId: account.id, limit: 100 }),
		ledger(env.DB, account.id, 100),
	]);
	return {
		account: {
			id: account.id,
			handle: account.handle,
			trust: account.trust,
			credits: account.credits,
			suspendedUntil: account.suspendedUntil,
			suspensionLevel: account.suspensionLevel,
			createdAt: account.createdAt,
		},
		devices: devices.map(({ accountId: _, ...d }) => d),
		reports,
		flags,
		ledger: entries,
	};
}

/** GET /api/admin/accounts/:handle */
export async function lookUpAccount(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	let name: string;
	try {
		name = handle.parse(decodeURIComponent(request.params.handle ?? ""), "handle");
	} catch {
		throw new ApiError("not_found", "No such account.");
	}
	const found = await findAccountByHandle(env.DB, name);
	if (!found) throw new ApiError("not_found", "No such account.");
	// Charges still in the account's journal are written first, so balance and ledger agree.
	unwrap(await relayFor(env, found.id).flushCredits());
	return Response.json(await view(env, (await getAccount(env.DB, found.id)) as Account));
}

/**
 * POST /api/admin/accounts/:accountId/trust — the only way to `verified`. An admin's decision:
 * automatic promotion never overrides it (trust-promotion.ts).
 */
export async function setAccountTrust(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const body = await readBody(request, adminTrustRequest);
	const account = await accountById(env, request);
	await setTrust(env.DB, account.id, body.trust, Date.now());
	await relayFor(env, account.id).reloadAccount();
	return Response.json(await view(env, (await getAccount(env.DB, account.id)) as Account));
}

/** POST /api/admin/accounts/:accountId/credits */
export async function grantAccountCredits(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const body = await readBody(request, adminGrantRequest);
	const account = await accountById(env, request);
	await grantCredits(env.DB, account.id, body.amount, `admin: ${body.reason}`, Date.now());
	await relayFor(env, account.id).reloadAccount();
	return Response.json(await view(env, (await getAccount(env.DB, account.id)) as Account));
}

/** POST /api/admin/accounts/:accountId/unsuspend */
export async function unsuspendAccount(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const account = await accountById(env, request);
	await liftSuspension(env.DB, account.id);
	await relayFor(env, account.id).reloadAccount();
	return Response.json(await view(env, (await getAccount(env.DB, account.id)) as Account));
}

/** GET /api/admin/flags */
export async function listAllFlags(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	return Response.json({ flags: await listFlags(env.DB, { limit: 500 }) });
}

/** GET /api/admin/reports */
export async function listAllReports(request: IRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	return Response.json({ reports: await listReports(env.DB, { limit: 500 }) });
}
