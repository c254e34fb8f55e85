import { fromB64u, toB64u } from "../../common/encoding.ts";
import { boxPublicKeyFromEd25519, boxSecretKeyFromSeed, cryptoBox, cryptoBoxOpen, NONCE_BYTES, randomBytes } from "../../common/nacl.ts";

/**
 * crypto_box from one device to another, both named by their Ed25519 keys (converted to
 * X25519): the one construction every envelope uses, for contact keys and the identity key.
 * The caller's plaintext is theirs to wipe; the derived secret key is wiped here.
 */
export function sealForDevice(plaintext: Uint8Array, senderSeed: Uint8Array, targetPublicKey: Uint8Array): { nonce: string; box: string } {
	const nonce = randomBytes(NONCE_BYTES);
	const secret = boxSecretKeyFromSeed(senderSeed);
	try {
		return { nonce: toB64u(nonce), box: toB64u(cryptoBox(plaintext, nonce, boxPublicKeyFromEd25519(targetPublicKey), secret)) };
	} finally {
		secret.fill(0);
	}
}

/** Opens what sealForDevice made; throws CryptoError (open_failed) if it was not sealed by that sender for this device. */
export function openFromDevice(sealed: { nonce: string; box: string }, senderPublicKey: Uint8Array, mySeed: Uint8Array): Uint8Array {
	const secret = boxSecretKeyFromSeed(mySeed);
	try {
		return cryptoBoxOpen(fromB64u(sealed.box), fromB64u(sealed.nonce), boxPublicKeyFromEd25519(senderPublicKey), secret);
	} finally {
		secret.fill(0);
	}
}
