import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, equalBytes, fromB64u, toB64u, utf8Encode } from "../../common/encoding.ts";
import {
	boxPublicKeyFromEd25519,
	boxSecretKeyFromSeed,
	cryptoBox,
	cryptoBoxOpen,
	KEY_BYTES,
	NONCE_BYTES,
	randomBytes,
} from "../../common/nacl.ts";

export interface WrappedContactKey {
	nonce: string;
	box: string;
}

export function generateContactKey(): Uint8Array {
	return randomBytes(KEY_BYTES);
}

// The boxed plaintext starts with this context so an envelope cannot be replayed for another
// contact pair or key version. Ids are sorted with plain `<` so both sides build the same
// bytes; a newline inside an id would make the encoding ambiguous, so it is refused.
function contextPrefix(accounts: [string, string], version: number): Uint8Array {
	const [a, b] = accounts;
	if (typeof a !== "string" || typeof b !== "string" || a.includes("\n") || b.includes("\n")) {
		throw new RangeError("account ids must be strings without newlines");
	}
	if (!Number.isSafeInteger(version) || version < 0) {
		throw new RangeError(`contact key version must be a non-negative integer, got ${version}`);
	}
	const [lo, hi] = a < b ? [a, b] : [b, a];
	return utf8Encode(`sm-contact-key/1\n${lo}\n${hi}\n${version}\n`);
}

export function wrapContactKey(p: {
	accounts: [string, string];
	version: number;
	key: Uint8Array;
	senderSeed: Uint8Array;
	targetPublicKey: Uint8Array;
}): WrappedContactKey {
	if (!(p.key instanceof Uint8Array) || p.key.length !== KEY_BYTES) {
		throw new CryptoError("bad_key", `contact key must be ${KEY_BYTES} bytes`);
	}
	const plaintext = concatBytes(contextPrefix(p.accounts, p.version), p.key);
	const nonce = randomBytes(NONCE_BYTES);
	const secret = boxSecretKeyFromSeed(p.senderSeed);
	try {
		const box = cryptoBox(plaintext, nonce, boxPublicKeyFromEd25519(p.targetPublicKey), secret);
		return { nonce: toB64u(nonce), box: toB64u(box) };
	} finally {
		secret.fill(0);
		plaintext.fill(0);
	}
}

export function unwrapContactKey(p: {
	nonce: string;
	box: string;
	senderPublicKey: Uint8Array;
	mySeed: Uint8Array;
	accounts: [string, string];
	version: number;
}): Uint8Array {
	const prefix = contextPrefix(p.accounts, p.version);
	const nonce = fromB64u(p.nonce);
	const box = fromB64u(p.box);
	const secret = boxSecretKeyFromSeed(p.mySeed);
	let plaintext: Uint8Array;
	try {
		plaintext = cryptoBoxOpen(box, nonce, boxPublicKeyFromEd25519(p.senderPublicKey), secret);
	} finally {
		secret.fill(0);
	}
	try {
		if (plaintext.length !== prefix.length + KEY_BYTES || !equalBytes(plaintext.subarray(0, prefix.length), prefix)) {
			throw new CryptoError("bad_envelope", "contact key envelope is for another contact pair or key version");
		}
		return plaintext.slice(prefix.length);
	} finally {
		plaintext.fill(0);
	}
}
