import type { ErrorCode } from "../../common/protocol/wire.ts";

/**
 * The relay's error codes, plus the client's own: `network` (the relay could not be reached
 * or answered garbage through a proxy), `undecryptable` (something arrived that no key of
 * this device opens), `closed` (the client was closed or replaced), `untrusted` (the relay
 * served keys or a device list that failed a check) and `identity_changed` (a verified
 * contact's identity key changed and the person has not acknowledged it), `cancelled` (a
 * send waiting for the send window was taken back: it never reached the relay).
 */
export type SdkErrorCode = ErrorCode | "network" | "undecryptable" | "closed" | "untrusted" | "identity_changed" | "cancelled";

/**
 * Which check an `untrusted` error failed, for an app to explain without reading the message:
 * a device list the relay served (`device_list`), a rotation the relay asked for without a
 * verified reason (`rotation`), a claim of a link code shown here without its secret
 * (`link_claim`), the approval this device received while linking (`link_approval`).
 */
export type UntrustedReason = "device_list" | "rotation" | "link_claim" | "link_approval";

export class SdkError extends Error {
	readonly code: SdkErrorCode;
	/** As the relay sent it with `rate_limited` and similar refusals. */
	readonly retryAfter?: number;
	/** For `untrusted`: which check failed. */
	readonly reason?: UntrustedReason;

	constructor(code: SdkErrorCode, message: string, opts: { retryAfter?: number; cause?: unknown; reason?: UntrustedReason } = {}) {
		super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
		this.name = "SdkError";
		this.code = code;
		if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
		if (opts.reason !== undefined) this.reason = opts.reason;
	}
}

/** Worth trying again later: the relay was unreachable or failed, not a refusal of the request. */
export const isTransient = (error: SdkError): boolean => error.code === "network" || error.code === "internal";

export function toSdkError(err: unknown): SdkError {
	if (err instanceof SdkError) return err;
	return new SdkError("internal", err instanceof Error ? err.message : String(err), { cause: err });
}
