import type { IRequest } from "itty-router";
import { ApiError } from "../api-error.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import { reserveAttachmentRequest } from "../protocol/wire.ts";
import { blobKey } from "../relay/attachment-store.ts";

/** POST /api/attachments: reserve and pay for an upload (refunded if never sent). */
export async function reserveAttachment(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, reserveAttachmentRequest);
	const reserved = unwrap(await relayFor(env, s.accountId).reserveUpload(s.accountId, s.deviceId, body.to, body.size));
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
	const expected = unwrap(await relay.beginUpload(s.accountId, s.deviceId, attachmentId));
	const declared = Number(request.headers.get("content-length") ?? Number.NaN);
	if (declared !== expected) throw new ApiError("bad_request", `The upload must be exactly ${expected} bytes (send Content-Length).`);
	if (!request.body) throw new ApiError("bad_request", "The upload has no body.");
	const key = blobKey(owner, attachmentId);
	try {
		const stored = await env.ATTACHMENTS.put(key, request.body, { httpMetadata: { contentType: "application/octet-stream" } });
		if (stored.size !== expected) throw new Error("size mismatch");
	} catch {
		// A broken or short upload leaves nothing behind; the reservation can be retried.
		await env.ATTACHMENTS.delete(key);
		throw new ApiError("bad_request", "The upload did not arrive whole. Try again.");
	}
	await relay.finishUpload(s.accountId, attachmentId);
	return new Response(null, { status: 204 });
}

/** GET /api/attachments/:owner/:attachmentId: the sealed blob, for its sender's and recipient's devices. */
export async function downloadAttachment(request: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
	const s = await authenticate(request, env);
	const owner = pathId(request, "owner");
	const attachmentId = pathId(request, "attachmentId");
	const relay = relayFor(env, s.accountId);
	unwrap(await relay.mayDownload(s.accountId, s.deviceId, owner, attachmentId));
	const object = await env.ATTACHMENTS.get(blobKey(owner, attachmentId));
	if (!object) throw new ApiError("not_found", "No such attachment.");
	// Counted as fetched once the whole body has gone out, so a broken download can be retried.
	const { readable, writable } = new FixedLengthStream(object.size);
	ctx.waitUntil(
		object.body
			.pipeTo(writable)
			.then(() => relay.downloaded(s.accountId, s.deviceId, owner, attachmentId))
			.catch(() => undefined),
	);
	return new Response(readable, {
		headers: { "content-type": "application/octet-stream", "content-length": String(object.size), "cache-control": "private, no-store" },
	});
}
