import type { IRequest } from "itty-router";
import { reserveAttachmentRequest } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import { blobKey } from "../relay/attachments/attachment-store.ts";

/** How long a client waits before trying R2 again after a failure. */
const R2_RETRY_MS = 5_000;

/** POST /api/attachments: reserve and pay for an upload (refunded if never sent). */
export async function reserveAttachment(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, reserveAttachmentRequest);
	const reserved = unwrap(await relayFor(env, s.accountId).reserveUpload(s.deviceId, body.to, body.size));
	return Response.json(reserved, { status: 201 });
}

/**
 * PUT /api/attachments/:owner/:attachmentId: the sealed blob, streamed to R2 as it arrives.
 * Its length is fixed by the reservation; anything else is refused before R2 is touched.
 */
export async function uploadAttachment(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const owner = pathId(request, "owner");
	const attachmentId = pathId(request, "attachmentId");
	if (owner !== s.accountId) throw new ApiError("not_found", "No such attachment reservation.");
	const relay = relayFor(env, s.accountId);
	const expected = unwrap(await relay.beginUpload(s.deviceId, attachmentId));
	const declared = Number(request.headers.get("content-length") ?? Number.NaN);
	if (declared !== expected) throw new ApiError("bad_request", `The upload must be exactly ${expected} bytes (send Content-Length).`);
	if (!request.body) throw new ApiError("bad_request", "The upload has no body.");
	const key = blobKey(owner, attachmentId);
	try {
		const stored = await env.ATTACHMENTS.put(key, request.body, { httpMetadata: { contentType: "application/octet-stream" } });
		if (stored.size !== expected) throw new Error("size mismatch");
	} catch (err) {
		// A failed put stores nothing; the delete is for a put that landed short. Whether R2
		// answers it tells whose failure it was: a broken upload, or R2 itself. Either way the
		// reservation stays (paid once, refunded if never sent) and the upload can be retried.
		const r2Answers = await env.ATTACHMENTS.delete(key).then(
			() => true,
			() => false,
		);
		if (r2Answers) throw new ApiError("bad_request", "The upload did not arrive whole. Try again.");
		console.error(JSON.stringify({ event: "r2_put_failed", name: err instanceof Error ? err.name : typeof err }));
		throw new ApiError("unavailable", "The file store did not take the upload. Nothing was stored; try again shortly.", R2_RETRY_MS);
	}
	unwrap(await relay.finishUpload(attachmentId));
	return new Response(null, { status: 204 });
}

/** DELETE /api/attachments/:owner/:attachmentId: give up a reservation not yet sent; its price is released at once. */
export async function cancelAttachment(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const owner = pathId(request, "owner");
	const attachmentId = pathId(request, "attachmentId");
	if (owner !== s.accountId) throw new ApiError("not_found", "No such attachment reservation.");
	unwrap(await relayFor(env, s.accountId).cancelUpload(s.deviceId, attachmentId));
	return new Response(null, { status: 204 });
}

/** GET /api/attachments/:owner/:attachmentId: the sealed blob, for its sender's and recipient's devices. */
export async function downloadAttachment(request: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
	const s = await authenticate(request, env);
	const owner = pathId(request, "owner");
	const attachmentId = pathId(request, "attachmentId");
	const relay = relayFor(env, s.accountId);
	unwrap(await relay.mayDownload(s.deviceId, owner, attachmentId));
	let object: R2ObjectBody | null;
	try {
		object = await env.ATTACHMENTS.get(blobKey(owner, attachmentId));
	} catch (err) {
		console.error(JSON.stringify({ event: "r2_get_failed", name: err instanceof Error ? err.name : typeof err }));
		throw new ApiError("unavailable", "The file store is not answering. Try again shortly.", R2_RETRY_MS);
	}
	if (!object) throw new ApiError("not_found", "No such attachment.");
	// Counted as fetched once the whole body has gone out, so a broken download can be retried.
	const { readable, writable } = new FixedLengthStream(object.size);
	ctx.waitUntil(
		object.body
			.pipeTo(writable)
			.then(() => relay.downloaded(s.deviceId, owner, attachmentId))
			.catch(() => undefined),
	);
	return new Response(readable, {
		headers: { "content-type": "application/octet-stream", "content-length": String(object.size), "cache-control": "private, no-store" },
	});
}
