import { expect } from "vitest";
import { CryptoError, type CryptoErrorCode } from "../../common/crypto-error.ts";

/** `fn` throws the client's CryptoError with this code (and nothing else passes). */
export function expectCryptoError(fn: () => unknown, code: CryptoErrorCode): void {
	let caught: unknown;
	try {
		fn();
	} catch (error) {
		caught = error;
	}
	expect(caught).toBeInstanceOf(CryptoError);
	expect(caught).toHaveProperty("code", code);
}
