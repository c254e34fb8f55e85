import type { ErrorBody, ErrorCode } from "../common/protocol/wire.ts";

const STATUS: Record<ErrorCode, number> = {
	bad_request: 400,
	unauthorized: 401,
	forbidden: 403,
	not_found: 404,
	handle_taken: 409,
	conflict: 409,
	already_contact: 409,
	not_a_contact: 403,
	too_large: 413,
	recipient_queue_full: 429,
	rate_limited: 429,
	quota_exceeded: 429,
	insufficient_credits: 402,
	suspended: 403,
	device_pending: 403,
	device_revoked: 401,
	too_many_devices: 409,
	stale_key: 409,
	peer_unreachable: 409,
	calls_not_allowed: 403,
	server_misconfigured: 500,
	not_configured: 404,
	unavailable: 503,
	internal: 500,
};

/** A refusal the client is meant to see: it carries its code and status, never a stack. */
export class ApiError extends Error {
	constructor(
		readonly code: ErrorCode,
		message: string,
		readonly retryAfter?: number,
	) {
		super(message);
	}

	get status(): number {
		return STATUS[this.code];
	}

	toBody(): ErrorBody {
		return {
			error: { code: this.code, message: this.message, ...(this.retryAfter !== undefined && { retryAfter: this.retryAfter }) },
		};
	}
}

/** The single place an error becomes a response; unexpected errors are logged and hidden. */
export function errorResponse(err: unknown): Response {
	const apiError = err instanceof ApiError ? err : internalError(err);
	return Response.json(apiError.toBody(), { status: apiError.status });
}

export function internalError(err: unknown): ApiError {
	if (err instanceof ApiError) return err;
	// Log the kind of failure only: an exception message could quote user data.
	console.error(JSON.stringify({ event: "internal_error", name: err instanceof Error ? err.name : typeof err }));
	return new ApiError("internal", "Something went wrong on the server. Try again.");
}
