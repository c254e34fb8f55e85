import type { IRequest } from "itty-router";
import { tokenFromProtocols } from "../common/protocol/socket-auth.ts";
import { parseJson, type Schema, ValidationError } from "../common/protocol/wire.ts";
import { ApiError } from "./api-error.ts";
import { type Session, verifySessionToken } from "./auth/session-token.ts";
import { readConfig } from "./config.ts";
import type { RelayResult } from "./relay/relay-result.ts";

export { relayFor } from "./relay/surfaces.ts";

/** Largest JSON body any route accepts; attachments have their own streamed route. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Read and validate a JSON body. Nothing is trusted before this returns. `maxBytes` raises
 * the ceiling for the one route whose body is larger by design (the sealed key backup).
 */
export async function readBody<T>(request: Request, schema: Schema<T>, opts: { emptyAs?: unknown; maxBytes?: number } = {}): Promise<T> {
	const maxBytes = opts.maxBytes ?? MAX_BODY_BYTES;
	const declared = Number(request.headers.get("content-length") ?? "0");
	if (declared > maxBytes) throw new ApiError("too_large", "The request body is too large.");
	const buffer = await request.arrayBuffer();
	if (buffer.byteLength > maxBytes) throw new ApiError("too_large", "The request body is too large.");
	let text: string;
	try {
		text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buffer);
	} catch {
		throw new ApiError("bad_request", "The body is not valid UTF-8.");
	}
	try {
		if (text.trim() === "" && "emptyAs" in opts) return schema.parse(opts.emptyAs, "");
		return parseJson(schema, text);
	} catch (err) {
		if (err instanceof ValidationError) throw new ApiError("bad_request", err.message);
		throw err;
	}
}

/**
 * Who is asking. Browsers cannot set headers on a WebSocket upgrade, so /api/ws takes the
 * token from the Sec-WebSocket-Protocol header (common/protocol/socket-auth.ts); every other
 * route takes it only from the Authorization header. Never from the URL, which logs keep.
 */
export async function authenticate(request: IRequest, env: Env, opts: { socket?: boolean } = {}): Promise<Session> {
	const header = request.headers.get("authorization");
	let token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
	if (token === undefined && opts.socket) token = tokenFromProtocols(request.headers.get("sec-websocket-protocol"));
	if (!token) throw new ApiError("unauthorized", "Sign in first: no session token was sent.");
	const session = await verifySessionToken(readConfig(env).authSecret, token, Date.now());
	if (!session) throw new ApiError("unauthorized", "The session token is invalid or expired. Sign in again.");
	return session;
}

/** Turn a Durable Object's refusal into the error the client sees. */
export function unwrap<T>(result: RelayResult<T>): T {
	if (result.ok) return result.value;
	throw new ApiError(result.code, result.message, result.retryAfter);
}

/** An id from the path; anything else names nothing that exists, so it is `missing` (by default an account). */
export function pathId(request: IRequest, name: string, missing = "No such account."): string {
	const value = request.params[name];
	if (typeof value !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(value)) throw new ApiError("not_found", missing);
	return value;
}
