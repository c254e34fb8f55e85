import type { IRequest } from "itty-router";
import { type ContactResponse, callPermissionRequest, type TurnResponse } from "../../common/protocol/wire.ts";
import { iceServersFor } from "../auth/turn-credentials.ts";
import { readConfig } from "../config.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";

/** POST /api/contacts/:accountId/calls `{ allow }`: whether this account takes calls from the contact (off until allowed). */
export async function setCallPermission(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const body = await readBody(request, callPermissionRequest);
	const contact = unwrap(await relayFor(env, s.accountId).setCallPermission(s.deviceId, peerId, body.allow));
	return Response.json({ contact } satisfies ContactResponse);
}

/** DELETE /api/contacts/:accountId/call-request: "not now" to the contact's waiting call request; they are told, calmly. */
export async function dismissCallRequest(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	unwrap(await relayFor(env, s.accountId).dismissCallRequest(s.deviceId, peerId));
	return new Response(null, { status: 204 });
}

/**
 * GET /api/turn: the ICE servers for a call, with a TURN credential of this account's that
 * expires (approved devices of accounts that are not suspended only).
 */
export async function turnServers(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	unwrap(await relayFor(env, s.accountId).mayCall(s.deviceId));
	const body: TurnResponse = await iceServersFor(readConfig(env).turn, s.accountId, Date.now(), (input, init) => fetch(input, init));
	// Personal and short-lived: never kept by a cache on the way.
	return Response.json(body, { headers: { "cache-control": "no-store" } });
}
