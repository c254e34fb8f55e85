import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, equalBytes, toB64u, utf8Encode } from "../../common/encoding.ts";
import { deviceKeysFromSeed, generateDeviceKeys } from "../../common/nacl.ts";
import { openFromDevice, sealForDevice } from "./device-box.ts";

/** An account's identity key pair: it signs the account's device lists; every approved device holds it. */
export interface AccountIdentity {
	seed: Uint8Array;
	publicKey: Uint8Array;
}

export function generateAccountIdentity(): AccountIdentity {
	const { seed, publicKey } = generateDeviceKeys();
	return { seed, publicKey };
}

function head(accountId: string, identityKey: string): Uint8Array {
	if (/\s/.test(accountId) || /\s/.test(identityKey)) throw new RangeError("ids and keys must not contain whitespace");
	return utf8Encode(`sm-identity-key/1\n${accountId}\n${identityKey}\n`);
}

/** The identity key sealed with crypto_box from one device of the account to another. */
export function wrapIdentityKey(p: { accountId: string; identity: AccountIdentity; senderSeed: Uint8Array; targetPublicKey: Uint8Array }): {
	nonce: string;
	box: string;
} {
	const plaintext = concatBytes(head(p.accountId, toB64u(p.identity.publicKey)), p.identity.seed);
	try {
		return sealForDevice(plaintext, p.senderSeed, p.targetPublicKey);
	} finally {
		plaintext.fill(0);
	}
}

/** Opens an identity envelope for this account and checks that the seed inside is the identity key it names. */
export function unwrapIdentityKey(p: {
	accountId: string;
	identityKey: string;
	nonce: string;
	box: string;
	senderPublicKey: Uint8Array;
	mySeed: Uint8Array;
}): AccountIdentity {
	const expected = head(p.accountId, p.identityKey);
	const plaintext = openFromDevice(p, p.senderPublicKey, p.mySeed);
	try {
		if (plaintext.length !== expected.length + 32 || !equalBytes(plaintext.subarray(0, expected.length), expected)) {
			throw new CryptoError("bad_envelope", "identity envelope is for another account or identity key");
		}
		const seed = plaintext.slice(expected.length);
		const { publicKey } = deviceKeysFromSeed(seed);
		if (toB64u(publicKey) !== p.identityKey) throw new CryptoError("bad_envelope", "identity envelope holds a different key than it names");
		return { seed, publicKey };
	} finally {
		plaintext.fill(0);
	}
}
