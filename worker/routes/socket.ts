import type { IRequest } from "itty-router";
import { SOCKET_PROTOCOL } from "../../common/protocol/socket-auth.ts";
import { ApiError } from "../api-error.ts";
import { touchDevice } from "../db/accounts.ts";
import { authenticate, relayFor } from "../http.ts";

/** GET /api/ws, the token in Sec-WebSocket-Protocol: hand the authenticated upgrade to the account's Durable Object. */
export async function openSocket(request: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
	if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
		throw new ApiError("bad_request", "This route only accepts a WebSocket upgrade.");
	}
	const s = await authenticate(request, env, { socket: true });
	// One option: a device that acks each message as soon as it stored it may be handed
	// messages held in memory instead of queued (relay/messaging/held-messages.ts).
	const query = new URL(request.url).searchParams;
	for (const [name, value] of query) {
		if (name !== "acks" || value !== "prompt" || query.getAll("acks").length > 1)
			throw new ApiError("bad_request", "The only query this route takes is `acks=prompt`.");
	}
	const headers = new Headers(request.headers);
	// The token has done its work here: it goes no further than this worker.
	headers.set("sec-websocket-protocol", SOCKET_PROTOCOL);
	// Set here, after authentication; the object is unreachable except through this worker.
	headers.set("x-sm-device", s.deviceId);
	const response = await relayFor(env, s.accountId).fetch(new Request(request.url, { headers }));
	// "Last seen" for the device list; off the connection's critical path.
	if (response.status === 101) ctx.waitUntil(touchDevice(env.DB, s.deviceId, Date.now()));
	return response;
}
