import type { IRequest } from "itty-router";
import { endHistoryRequest, type HistoryTransfer } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import { archiveLength, NO_SUCH_TRANSFER } from "../relay/history/history-rules.ts";
import { historyBlobKey } from "../relay/history/history-store.ts";

/** How long a client waits before trying R2 again after a failure. */
const R2_RETRY_MS = 5_000;

/** GET /api/devices/history: the live transfers of this device's history, or to it. */
export async function listHistoryTransfers(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const listing = unwrap(await relayFor(env, s.accountId).historyTransfers(s.deviceId));
	return Response.json(listing satisfies { transfers: HistoryTransfer[] });
}

/**
 * PUT /api/devices/history/:transferId: the sealed archive, by the approving device, streamed
 * to R2 as it arrives. Its Content-Length is checked against the cap before R2 is touched; a
 * second put replaces the first (a retry after a failure).
 */
export async function uploadHistory(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const transferId = pathId(request, "transferId", NO_SUCH_TRANSFER);
	const relay = relayFor(env, s.accountId);
	const maxBytes = unwrap(await relay.beginHistoryUpload(s.deviceId, transferId));
	const declared = unwrap(archiveLength(request.headers.get("content-length"), maxBytes));
	if (!request.body) throw new ApiError("bad_request", "The upload has no body.");
	const key = historyBlobKey(s.accountId, transferId);
	let stored: R2Object;
	try {
		stored = await env.ATTACHMENTS.put(key, request.body, { httpMetadata: { contentType: "application/octet-stream" } });
	} catch (err) {
		// R2 writes an object whole or not at all, so a failed put leaves what was there: nothing,
		// or the archive of an earlier put, which the transfer still stands on. It can be retried
		// as it is. Whether R2 answers a look at the key tells whose failure it was.
		const r2Answers = await env.ATTACHMENTS.head(key).then(
			() => true,
			() => false,
		);
		if (r2Answers) throw new ApiError("bad_request", "The archive did not arrive whole. Try again.");
		console.error(JSON.stringify({ event: "r2_put_failed", name: err instanceof Error ? err.name : typeof err }));
		throw new ApiError("unavailable", "The file store did not take the archive. Nothing was changed; try again shortly.", R2_RETRY_MS);
	}
	if (stored.size !== declared) {
		// A body framed by its Content-Length cannot land short; should one, what is under the key
		// is not the archive that was sent, so it goes and the transfer waits for a whole one.
		await relay.finishHistoryUpload(s.deviceId, transferId, null);
		throw new ApiError("bad_request", "The archive did not arrive whole. Try again.");
	}
	unwrap(await relay.finishHistoryUpload(s.deviceId, transferId, stored.size));
	return new Response(null, { status: 204 });
}

/**
 * GET /api/devices/history/:transferId/archive: the sealed archive, for the new device only.
 * It stays until the device ends the transfer, so a broken download can be retried.
 */
export async function downloadHistory(request: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
	const s = await authenticate(request, env);
	const transferId = pathId(request, "transferId", NO_SUCH_TRANSFER);
	unwrap(await relayFor(env, s.accountId).mayFetchHistory(s.deviceId, transferId));
	let object: R2ObjectBody | null;
	try {
		object = await env.ATTACHMENTS.get(historyBlobKey(s.accountId, transferId));
	} catch (err) {
		console.error(JSON.stringify({ event: "r2_get_failed", name: err instanceof Error ? err.name : typeof err }));
		throw new ApiError("unavailable", "The file store is not answering. Try again shortly.", R2_RETRY_MS);
	}
	// Ended between the check and the read.
	if (!object) throw new ApiError("not_found", NO_SUCH_TRANSFER);
	// A stream of known length, so the response carries its Content-Length for a progress bar.
	const { readable, writable } = new FixedLengthStream(object.size);
	ctx.waitUntil(object.body.pipeTo(writable).catch(() => undefined));
	return new Response(readable, {
		headers: { "content-type": "application/octet-stream", "content-length": String(object.size), "cache-control": "private, no-store" },
	});
}

/** POST /api/devices/history/:transferId/end: `imported` by the new device once it has the archive, `skipped` by either. */
export async function endHistory(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const transferId = pathId(request, "transferId", NO_SUCH_TRANSFER);
	const body = await readBody(request, endHistoryRequest);
	unwrap(await relayFor(env, s.accountId).endHistory(s.deviceId, transferId, body.outcome));
	return new Response(null, { status: 204 });
}
