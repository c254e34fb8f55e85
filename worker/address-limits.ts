import { addressKey } from "./abuse/client-address.ts";
import { ApiError } from "./api-error.ts";

/**
 * Limits per client address on the routes anyone may call without a token. Without them one
 * machine could make accounts (each with its starting credits), ask for challenges and try
 * sessions, link claims and restores as fast as it can send. Each family of routes has its
 * own bucket: a `[[ratelimits]]` binding of wrangler.toml, where its limit and period are set.
 *
 * GET /api/limits is not limited: it reads nothing but the vars, writes nothing, and is
 * served with `cache-control: public, max-age=300`, so a flood of it costs no D1 row and no
 * Durable Object.
 */
export const ADDRESS_LIMITERS = {
	/** POST /api/accounts: every account comes with STARTING_CREDITS, so the strictest. */
	registration: "REGISTRATION_LIMITER",
	/** POST /api/auth/challenge and POST /api/auth/session, counted together: one sign-in is both. */
	sign_in: "SIGN_IN_LIMITER",
	/** POST /api/devices/link: claiming a link code. */
	link_claim: "LINK_CLAIM_LIMITER",
	/** POST /api/recovery: a restore with the recovery key. */
	recovery: "RECOVERY_LIMITER",
} as const satisfies Record<string, keyof Env>;

export type AddressFamily = keyof typeof ADDRESS_LIMITERS;

/**
 * The binding answers yes or no and does not tell the worker its period, so a refusal says to
 * come back after 60 s: the longest period the binding has, so never too early, whether a
 * deployment set 10 or 60.
 */
export const ADDRESS_RETRY_AFTER_MS = 60_000;

const REFUSAL: Record<AddressFamily, string> = {
	registration: "Too many accounts were made from this network just now. Try again in a minute.",
	sign_in: "Too many sign-ins came from this network just now. Try again in a minute.",
	link_claim: "Too many link codes were tried from this network just now. Try again in a minute.",
	recovery: "Too many restores were tried from this network just now. Try again in a minute.",
};

/**
 * A route handler that runs first (itty-router goes on to the next handler while one returns
 * nothing): it counts the request against its family's bucket for the client's address and
 * refuses it with `rate_limited` past the limit, before the body is read, D1 is asked or any
 * Durable Object is called, so a refused request changes nothing. A request that fails
 * later (a bad signature, a taken handle) has been counted all the same: the limit is on
 * attempts.
 */
export function limitByAddress(family: AddressFamily): (request: Request, env: Env) => Promise<void> {
	const binding = ADDRESS_LIMITERS[family];
	return async (request, env) => {
		const limiter: RateLimit | undefined = env[binding];
		// A deployment whose wrangler.toml lost the binding must not run these routes unlimited.
		if (!limiter) {
			console.error(JSON.stringify({ event: "config_error", problem: `the ${binding} rate limiting binding is missing` }));
			throw new ApiError("server_misconfigured", `The server has no ${binding} binding. Add it to wrangler.toml ([[ratelimits]]).`);
		}
		const { success } = await limiter.limit({ key: addressKey(request.headers.get("CF-Connecting-IP")) });
		if (success) return;
		// The family only, never the address: the relay's logs hold no client addresses.
		console.log(JSON.stringify({ event: "address_limited", family }));
		throw new ApiError("rate_limited", REFUSAL[family], ADDRESS_RETRY_AFTER_MS);
	};
}
