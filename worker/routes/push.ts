import type { IRequest } from "itty-router";
import { type PushKeyResponse, pushSubscriptionRequest } from "../../common/protocol/wire.ts";
import { readConfig } from "../config.ts";
import { authenticate, readBody, relayFor, unwrap } from "../http.ts";
import { vapidKeysOf } from "../relay/push/push-notifier.ts";

/**
 * GET /api/push/key (public): the VAPID public key a browser subscribes with, or null when
 * this deployment sends no pushes (no keys, or keys that do not make a pair): then the client
 * does not subscribe at all.
 */
export async function pushKey(_request: IRequest, env: Env): Promise<Response> {
	const push = readConfig(env).push;
	const keys = push === null ? null : await vapidKeysOf(push);
	const body: PushKeyResponse = { publicKey: keys?.publicKey ?? null };
	return Response.json(body, { headers: { "cache-control": "public, max-age=300" } });
}

/** PUT /api/devices/push: the calling device's own subscription (an approved device only; never another's). */
export async function setPushSubscription(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, pushSubscriptionRequest);
	unwrap(await relayFor(env, s.accountId).setPushSubscription(s.deviceId, body));
	return Response.json({ ok: true });
}

/** DELETE /api/devices/push: the calling device wants no more pushes (notifications turned off, or signing out). */
export async function deletePushSubscription(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	unwrap(await relayFor(env, s.accountId).deletePushSubscription(s.deviceId));
	return Response.json({ ok: true });
}
