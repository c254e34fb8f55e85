export type CryptoErrorCode = "bad_encoding" | "bad_key" | "open_failed" | "header_mismatch" | "bad_envelope";

// One error type for everything that can go wrong with untrusted input, so callers can
// drop a bad message or envelope by code without string-matching library messages.
export class CryptoError extends Error {
	constructor(
		readonly code: CryptoErrorCode,
		message: string,
	) {
		super(message);
		this.name = "CryptoError";
	}
}
