import type { ErrorCode } from "../../common/protocol/wire.ts";

/**
 * What a Durable Object method returns across RPC. Thrown errors lose their class on the
 * way, so refusals travel as values and the worker turns them into ApiErrors.
 */
export type RelayResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string; retryAfter?: number };

export const ok = <T>(value: T): RelayResult<T> => ({ ok: true, value });
export const refuse = <T = never>(code: ErrorCode, message: string, retryAfter?: number): RelayResult<T> => ({
	ok: false,
	code,
	message,
	...(retryAfter !== undefined && { retryAfter }),
});
