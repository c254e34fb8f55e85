import { hsalsa, secretbox } from "@noble/ciphers/salsa.js";
import { randomBytes as nobleRandomBytes } from "@noble/ciphers/utils.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { CryptoError } from "./crypto-error.ts";
import { utf8Encode } from "./encoding.ts";

export const NONCE_BYTES = 24;
export const KEY_BYTES = 32;
const MAX_RANDOM_CHUNK = 65536; // WebCrypto getRandomValues quota per call

export function randomBytes(n: number): Uint8Array {
	if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`randomBytes: bad length ${n}`);
	const out = new Uint8Array(n);
	for (let offset = 0; offset < n; offset += MAX_RANDOM_CHUNK) {
		out.set(nobleRandomBytes(Math.min(MAX_RANDOM_CHUNK, n - offset)), offset);
	}
	return out;
}

function requireKey(key: Uint8Array, what: string): void {
	if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
		throw new CryptoError("bad_key", `${what} must be ${KEY_BYTES} bytes`);
	}
}

// Ed25519 device identity. noble's secret key is the 32-byte seed; TweetNaCl and libsodium
// call seed ‖ publicKey (64 bytes) the secret key.
export interface DeviceKeys {
	seed: Uint8Array;
	publicKey: Uint8Array;
}

export function deviceKeysFromSeed(seed: Uint8Array): DeviceKeys {
	requireKey(seed, "Ed25519 seed");
	return { seed: seed.slice(), publicKey: ed25519.getPublicKey(seed) };
}

export function generateDeviceKeys(): DeviceKeys {
	return deviceKeysFromSeed(randomBytes(KEY_BYTES));
}

export function signDetached(seed: Uint8Array, msg: Uint8Array): Uint8Array {
	requireKey(seed, "Ed25519 seed");
	return ed25519.sign(msg, seed);
}

// Strict RFC 8032 verification (zip215: false), as libsodium does: rejects non-canonical
// encodings and small-order public keys, which noble's ZIP-215 default would accept.
export function verifyDetached(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
	if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
	if (!(sig instanceof Uint8Array) || sig.length !== 64 || !(msg instanceof Uint8Array)) return false;
	try {
		return ed25519.verify(sig, msg, publicKey, { zip215: false });
	} catch {
		return false;
	}
}

// Mirrors libsodium's crypto_sign_ed25519_pk_to_curve25519, which refuses keys that are not
// canonical points of the prime-order subgroup; noble's toMontgomery would convert them.
export function boxPublicKeyFromEd25519(edPub: Uint8Array): Uint8Array {
	requireKey(edPub, "Ed25519 public key");
	let point: ReturnType<typeof ed25519.Point.fromBytes>;
	try {
		point = ed25519.Point.fromBytes(edPub, false);
	} catch {
		throw new CryptoError("bad_key", "Ed25519 public key is not a curve point");
	}
	if (point.isSmallOrder() || !point.isTorsionFree()) {
		throw new CryptoError("bad_key", "Ed25519 public key is not in the prime-order subgroup");
	}
	return ed25519.utils.toMontgomery(edPub);
}

export function boxSecretKeyFromSeed(seed: Uint8Array): Uint8Array {
	requireKey(seed, "Ed25519 seed");
	// noble returns a view into the 64-byte SHA-512 of the seed, whose upper half is the
	// Ed25519 signing nonce prefix; copy the scalar out and wipe the digest (only when the
	// buffer is exactly that digest, never a shared pool).
	const view = ed25519.utils.toMontgomerySecret(seed);
	const scalar = view.slice();
	if (view.byteOffset === 0 && view.buffer.byteLength === 64) new Uint8Array(view.buffer).fill(0);
	else view.fill(0);
	return scalar;
}

const SIGMA = utf8Encode("expand 32-byte k");

/**
 * NaCl crypto_box_beforenm (TweetNaCl's nacl.box.before): HSalsa20(key = X25519(mySecret,
 * theirPub), nonce = 0^16). The X25519 is nearly all of a crypto_box's cost, so a sender with
 * many boxes for one device computes this once and seals each with cryptoBoxAfter. The result
 * is as secret as mySecret: the caller wipes it.
 */
export function cryptoBoxBefore(theirBoxPub: Uint8Array, mySecret: Uint8Array): Uint8Array {
	requireKey(theirBoxPub, "X25519 public key");
	requireKey(mySecret, "X25519 secret key");
	let shared: Uint8Array;
	try {
		// noble 2.4 already refuses the low-order u values before running the ladder.
		shared = x25519.getSharedSecret(mySecret, theirBoxPub);
	} catch {
		throw new CryptoError("bad_key", "X25519 public key has low order");
	}
	// Kept even though noble checks: TweetNaCl does not, and a zero secret would be a key
	// anyone can compute.
	if (shared.every((b) => b === 0)) throw new CryptoError("bad_key", "X25519 shared secret is zero");
	// hsalsa takes 32-bit word views of the raw little-endian bytes (it byte-swaps itself on
	// big-endian hosts); fresh arrays keep the views 4-byte aligned.
	const sigma = new Uint32Array(SIGMA.slice().buffer);
	const key = new Uint32Array(shared.slice().buffer);
	const out = new Uint32Array(8);
	hsalsa(sigma, key, new Uint32Array(4), out);
	shared.fill(0);
	key.fill(0);
	return new Uint8Array(out.buffer);
}

export function secretboxSeal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
	requireKey(key, "secretbox key");
	if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
		throw new RangeError(`secretbox nonce must be ${NONCE_BYTES} bytes`);
	}
	return secretbox(key, nonce).seal(msg);
}

// noble throws on a bad tag (TweetNaCl returns null); every failure here, including a nonce
// or box of impossible length from the wire, becomes one typed error.
export function secretboxOpen(key: Uint8Array, nonce: Uint8Array, box: Uint8Array): Uint8Array {
	requireKey(key, "secretbox key");
	if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES || !(box instanceof Uint8Array) || box.length < 16) {
		throw new CryptoError("open_failed", "secretbox nonce or box has the wrong length");
	}
	try {
		return secretbox(key, nonce).open(box);
	} catch {
		throw new CryptoError("open_failed", "secretbox authentication failed");
	}
}

/**
 * NaCl crypto_box_afternm (nacl.box.after, libsodium crypto_box_easy_afternm): the secretbox
 * (XSalsa20-Poly1305) under a key from cryptoBoxBefore. Byte for byte what cryptoBox makes for
 * the same pair and nonce; the nonce must never repeat under one shared key.
 */
export function cryptoBoxAfter(msg: Uint8Array, nonce: Uint8Array, shared: Uint8Array): Uint8Array {
	return secretboxSeal(shared, nonce, msg);
}

/** NaCl crypto_box_open_afternm: opens what cryptoBox or cryptoBoxAfter made; CryptoError open_failed otherwise. */
export function cryptoBoxOpenAfter(box: Uint8Array, nonce: Uint8Array, shared: Uint8Array): Uint8Array {
	return secretboxOpen(shared, nonce, box);
}

export function cryptoBox(msg: Uint8Array, nonce: Uint8Array, theirBoxPub: Uint8Array, mySecret: Uint8Array): Uint8Array {
	const k = cryptoBoxBefore(theirBoxPub, mySecret);
	try {
		return cryptoBoxAfter(msg, nonce, k);
	} finally {
		k.fill(0);
	}
}

export function cryptoBoxOpen(box: Uint8Array, nonce: Uint8Array, theirBoxPub: Uint8Array, mySecret: Uint8Array): Uint8Array {
	const k = cryptoBoxBefore(theirBoxPub, mySecret);
	try {
		return cryptoBoxOpenAfter(box, nonce, k);
	} finally {
		k.fill(0);
	}
}
