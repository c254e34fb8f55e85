// Our NaCl layer against TweetNaCl and libsodium as independent peers: byte-identical
// output for fixed inputs, and each side opens what the other sealed.
import { ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import sodium from "libsodium-wrappers";
import nacl from "tweetnacl";
import { beforeAll, describe, expect, test } from "vitest";
import { unwrapContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { concatBytes, fromB64u, utf8Decode, utf8Encode } from "../../common/encoding.ts";
import {
	boxPublicKeyFromEd25519,
	boxSecretKeyFromSeed,
	cryptoBox,
	cryptoBoxAfter,
	cryptoBoxBefore,
	cryptoBoxOpen,
	cryptoBoxOpenAfter,
	deviceKeysFromSeed,
	secretboxOpen,
	secretboxSeal,
	signDetached,
	verifyDetached,
} from "../../common/nacl.ts";
import { expectCryptoError } from "../support/expect-crypto-error.ts";

function filled(length: number, start: number): Uint8Array {
	const out = new Uint8Array(length);
	for (let i = 0; i < length; i++) out[i] = (start + i * 31) & 255;
	return out;
}

function hex(s: string): Uint8Array {
	return Uint8Array.from(s.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
	return bytes.map((b, i) => (i === index ? b ^ 1 : b));
}

const KEY = filled(32, 1);
const NONCE = filled(24, 77);
const SEED_A = filled(32, 10);
const SEED_B = filled(32, 200);
const MESSAGES: [string, Uint8Array][] = [
	["empty", new Uint8Array(0)],
	["1-byte", new Uint8Array([42])],
	["64 KiB + 1", filled(65537, 3)],
];

// u = 325606250916557431795983626356110631294008115727848805560023387167927233504: a point of
// order 8 on Curve25519, from libsodium's and RFC 7748's low-order blocklist.
const ORDER_8_U = hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");

beforeAll(async () => {
	await sodium.ready;
});

describe("secretbox", () => {
	test.each(MESSAGES)("a %s message seals to the same bytes as TweetNaCl and libsodium", (_, msg) => {
		const ours = secretboxSeal(KEY, NONCE, msg);
		expect(ours.length).toBe(msg.length + 16);
		expect(ours).toEqual(nacl.secretbox(msg, NONCE, KEY));
		expect(ours).toEqual(sodium.crypto_secretbox_easy(msg, NONCE, KEY));
	});

	test.each(MESSAGES)("a %s message sealed by us opens in both libraries and theirs opens in ours", (_, msg) => {
		const ours = secretboxSeal(KEY, NONCE, msg);
		expect(nacl.secretbox.open(ours, NONCE, KEY)).toEqual(msg);
		expect(sodium.crypto_secretbox_open_easy(ours, NONCE, KEY)).toEqual(msg);
		expect(secretboxOpen(KEY, NONCE, nacl.secretbox(msg, NONCE, KEY))).toEqual(msg);
		expect(secretboxOpen(KEY, NONCE, sodium.crypto_secretbox_easy(msg, NONCE, KEY))).toEqual(msg);
	});

	test("a flipped bit, a wrong nonce or a wrong key fails everywhere, with open_failed in ours", () => {
		const box = secretboxSeal(KEY, NONCE, utf8Encode("attack at dawn"));
		const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
			[KEY, NONCE, flipBit(box, 20)],
			[KEY, NONCE, flipBit(box, 0)],
			[KEY, flipBit(NONCE, 23), box],
			[flipBit(KEY, 5), NONCE, box],
		];
		for (const [key, nonce, b] of cases) {
			expect(nacl.secretbox.open(b, nonce, key)).toBeNull();
			expect(() => sodium.crypto_secretbox_open_easy(b, nonce, key)).toThrow();
			expectCryptoError(() => secretboxOpen(key, nonce, b), "open_failed");
		}
	});

	test("a box shorter than the tag or a nonce of the wrong length is open_failed, not a crash", () => {
		expectCryptoError(() => secretboxOpen(KEY, NONCE, new Uint8Array(15)), "open_failed");
		expectCryptoError(() => secretboxOpen(KEY, NONCE.subarray(0, 23), secretboxSeal(KEY, NONCE, new Uint8Array(1))), "open_failed");
	});
});

describe("Ed25519 device identity", () => {
	test("the public key from a seed equals TweetNaCl's and libsodium's", () => {
		const ours = deviceKeysFromSeed(SEED_A);
		expect(ours.seed).toEqual(SEED_A);
		expect(ours.publicKey).toEqual(nacl.sign.keyPair.fromSeed(SEED_A).publicKey);
		expect(ours.publicKey).toEqual(sodium.crypto_sign_seed_keypair(SEED_A).publicKey);
	});

	test("signatures are identical to TweetNaCl's and verify both ways", () => {
		const msg = utf8Encode("login challenge 8f3a");
		const theirs = nacl.sign.keyPair.fromSeed(SEED_A);
		const ourSig = signDetached(SEED_A, msg);
		expect(ourSig).toEqual(nacl.sign.detached(msg, theirs.secretKey));
		expect(nacl.sign.detached.verify(msg, ourSig, theirs.publicKey)).toBe(true);
		expect(sodium.crypto_sign_verify_detached(ourSig, msg, theirs.publicKey)).toBe(true);
		expect(verifyDetached(theirs.publicKey, msg, nacl.sign.detached(msg, theirs.secretKey))).toBe(true);
		expect(
			verifyDetached(theirs.publicKey, msg, sodium.crypto_sign_detached(msg, sodium.crypto_sign_seed_keypair(SEED_A).privateKey)),
		).toBe(true);
	});

	test("a signature over another message or by another key does not verify", () => {
		const msg = utf8Encode("approve device 2");
		const sig = signDetached(SEED_A, msg);
		const otherPub = deviceKeysFromSeed(SEED_B).publicKey;
		expect(verifyDetached(otherPub, msg, sig)).toBe(false);
		expect(verifyDetached(deviceKeysFromSeed(SEED_A).publicKey, utf8Encode("approve device 3"), sig)).toBe(false);
		expect(nacl.sign.detached.verify(msg, sig, otherPub)).toBe(false);
	});

	test("verification returns false instead of throwing on malformed sizes", () => {
		const pub = deviceKeysFromSeed(SEED_A).publicKey;
		const msg = utf8Encode("x");
		const sig = signDetached(SEED_A, msg);
		expect(verifyDetached(pub.subarray(0, 31), msg, sig)).toBe(false);
		expect(verifyDetached(pub, msg, sig.subarray(0, 63))).toBe(false);
		expect(verifyDetached(pub, msg, concatBytes(sig, new Uint8Array(1)))).toBe(false);
		expect(verifyDetached(new Uint8Array(32).fill(255), msg, sig)).toBe(false);
	});
});

describe("crypto_box with Ed25519-derived keys", () => {
	test("our box key conversions equal libsodium's Ed25519 → Curve25519 conversions", () => {
		for (const seed of [SEED_A, SEED_B]) {
			const kp = sodium.crypto_sign_seed_keypair(seed);
			expect(boxPublicKeyFromEd25519(kp.publicKey)).toEqual(sodium.crypto_sign_ed25519_pk_to_curve25519(kp.publicKey));
			expect(boxSecretKeyFromSeed(seed)).toEqual(sodium.crypto_sign_ed25519_sk_to_curve25519(kp.privateKey));
		}
	});

	test("the derived secret key's public half is the derived public key", () => {
		const edPub = deviceKeysFromSeed(SEED_A).publicKey;
		expect(nacl.box.keyPair.fromSecretKey(boxSecretKeyFromSeed(SEED_A)).publicKey).toEqual(boxPublicKeyFromEd25519(edPub));
	});

	test.each(MESSAGES)("a %s message boxes to the same bytes as nacl.box and crypto_box_easy and opens both ways", (_, msg) => {
		const aSecret = boxSecretKeyFromSeed(SEED_A);
		const aPub = boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_A).publicKey);
		const bSecret = boxSecretKeyFromSeed(SEED_B);
		const bPub = boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_B).publicKey);

		const ours = cryptoBox(msg, NONCE, bPub, aSecret);
		expect(ours).toEqual(nacl.box(msg, NONCE, bPub, aSecret));
		expect(ours).toEqual(sodium.crypto_box_easy(msg, NONCE, bPub, aSecret));
		expect(cryptoBoxBefore(bPub, aSecret)).toEqual(nacl.box.before(bPub, aSecret));

		expect(nacl.box.open(ours, NONCE, aPub, bSecret)).toEqual(msg);
		expect(sodium.crypto_box_open_easy(ours, NONCE, aPub, bSecret)).toEqual(msg);
		expect(cryptoBoxOpen(nacl.box(msg, NONCE, aPub, bSecret), NONCE, bPub, aSecret)).toEqual(msg);
		expect(cryptoBoxOpen(sodium.crypto_box_easy(msg, NONCE, aPub, bSecret), NONCE, bPub, aSecret)).toEqual(msg);
	});

	test("a flipped bit, a wrong nonce or a wrong key fails everywhere, with open_failed in ours", () => {
		const aSecret = boxSecretKeyFromSeed(SEED_A);
		const aPub = boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_A).publicKey);
		const bSecret = boxSecretKeyFromSeed(SEED_B);
		const stranger = boxSecretKeyFromSeed(filled(32, 99));
		const box = nacl.box(utf8Encode("hello"), NONCE, boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_B).publicKey), aSecret);
		const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
			[flipBit(box, 17), NONCE, bSecret],
			[box, flipBit(NONCE, 0), bSecret],
			[box, NONCE, stranger],
		];
		for (const [b, nonce, secret] of cases) {
			expect(nacl.box.open(b, nonce, aPub, secret)).toBeNull();
			expect(() => sodium.crypto_box_open_easy(b, nonce, aPub, secret)).toThrow();
			expectCryptoError(() => cryptoBoxOpen(b, nonce, aPub, secret), "open_failed");
		}
	});

	test.each(
		MESSAGES,
	)("a %s message: the beforenm/afternm split equals nacl.box.before/after and libsodium's afternm, both ways", (_, msg) => {
		const aSecret = boxSecretKeyFromSeed(SEED_A);
		const aPub = boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_A).publicKey);
		const bSecret = boxSecretKeyFromSeed(SEED_B);
		const bPub = boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_B).publicKey);

		const shared = cryptoBoxBefore(bPub, aSecret);
		expect(shared).toEqual(sodium.crypto_box_beforenm(bPub, aSecret));
		// Both ends of the pair get the same key.
		expect(cryptoBoxBefore(aPub, bSecret)).toEqual(shared);

		const ours = cryptoBoxAfter(msg, NONCE, shared);
		expect(ours).toEqual(cryptoBox(msg, NONCE, bPub, aSecret));
		expect(ours).toEqual(nacl.box.after(msg, NONCE, nacl.box.before(bPub, aSecret)));
		expect(ours).toEqual(sodium.crypto_box_easy_afternm(msg, NONCE, sodium.crypto_box_beforenm(bPub, aSecret)));

		expect(nacl.box.open(ours, NONCE, aPub, bSecret)).toEqual(msg);
		expect(nacl.box.open.after(ours, NONCE, nacl.box.before(aPub, bSecret))).toEqual(msg);
		expect(sodium.crypto_box_open_easy_afternm(ours, NONCE, sodium.crypto_box_beforenm(aPub, bSecret))).toEqual(msg);
		expect(cryptoBoxOpen(ours, NONCE, bPub, aSecret)).toEqual(msg);
		const theirs = sodium.crypto_box_easy(msg, NONCE, aPub, bSecret);
		expect(cryptoBoxOpenAfter(theirs, NONCE, cryptoBoxBefore(aPub, bSecret))).toEqual(msg);
		expect(cryptoBoxOpenAfter(nacl.box.after(msg, NONCE, nacl.box.before(bPub, aSecret)), NONCE, shared)).toEqual(msg);
	});

	test("an afternm box fails to open with a flipped bit, another nonce or another pair's key: open_failed", () => {
		const aSecret = boxSecretKeyFromSeed(SEED_A);
		const bPub = boxPublicKeyFromEd25519(deviceKeysFromSeed(SEED_B).publicKey);
		const shared = cryptoBoxBefore(bPub, aSecret);
		const box = cryptoBoxAfter(utf8Encode("hello"), NONCE, shared);
		const otherPair = cryptoBoxBefore(bPub, boxSecretKeyFromSeed(filled(32, 99)));
		expectCryptoError(() => cryptoBoxOpenAfter(flipBit(box, 17), NONCE, shared), "open_failed");
		expectCryptoError(() => cryptoBoxOpenAfter(box, flipBit(NONCE, 0), shared), "open_failed");
		expectCryptoError(() => cryptoBoxOpenAfter(box, NONCE, otherPair), "open_failed");
		expectCryptoError(() => cryptoBoxOpenAfter(box.subarray(0, 15), NONCE, shared), "open_failed");
		expect(nacl.box.open.after(flipBit(box, 17), NONCE, shared)).toBeNull();
		expect(() => sodium.crypto_box_open_easy_afternm(box, NONCE, otherPair)).toThrow();
	});

	test("low-order X25519 public keys are rejected with bad_key, which TweetNaCl silently accepts", () => {
		const secret = boxSecretKeyFromSeed(SEED_A);
		for (const lowOrder of [new Uint8Array(32), ORDER_8_U]) {
			expect(nacl.box.before(lowOrder, secret)).toHaveLength(32);
			expect(() => sodium.crypto_box_beforenm(lowOrder, secret)).toThrow();
			expectCryptoError(() => cryptoBoxBefore(lowOrder, secret), "bad_key");
			expectCryptoError(() => cryptoBox(utf8Encode("hi"), NONCE, lowOrder, secret), "bad_key");
			expectCryptoError(() => cryptoBoxOpen(new Uint8Array(32), NONCE, lowOrder, secret), "bad_key");
		}
	});

	test("small-order Ed25519 public keys are refused for box key derivation, as libsodium does", () => {
		for (const torsion of ED25519_TORSION_SUBGROUP) {
			const edPub = hex(torsion);
			expect(() => sodium.crypto_sign_ed25519_pk_to_curve25519(edPub)).toThrow();
			expectCryptoError(() => boxPublicKeyFromEd25519(edPub), "bad_key");
		}
	});
});

describe("contact key envelope", () => {
	const key = filled(32, 123);
	const accounts: [string, string] = ["bob", "alice"];
	const lists = { alice: 2, bob: 5 };
	const sender = deviceKeysFromSeed(SEED_A);
	const target = deviceKeysFromSeed(SEED_B);

	test("an envelope wrapped by us opens with plain nacl.box.open and shows the sorted context then the key", () => {
		const env = wrapContactKey({ accounts, version: 3, lists, key, senderSeed: sender.seed, targetPublicKey: target.publicKey });
		const nonce = fromB64u(env.nonce);
		expect(nonce).toHaveLength(24);
		const plain = nacl.box.open(fromB64u(env.box), nonce, boxPublicKeyFromEd25519(sender.publicKey), boxSecretKeyFromSeed(target.seed));
		if (plain === null) throw new Error("nacl.box.open rejected our envelope");
		const prefix = "sm-contact-key/2\nalice\nbob\n3\n2\n5\n";
		expect(utf8Decode(plain.subarray(0, prefix.length))).toBe(prefix);
		expect(plain.subarray(prefix.length)).toEqual(key);
	});

	test("an envelope made with nacl.box from libsodium-derived keys is unwrapped by us", () => {
		const senderKp = sodium.crypto_sign_seed_keypair(SEED_A);
		const targetKp = sodium.crypto_sign_seed_keypair(SEED_B);
		const plaintext = concatBytes(utf8Encode("sm-contact-key/2\nalice\nbob\n7\n4\n9\n"), key);
		const nonce = filled(24, 5);
		const box = nacl.box(
			plaintext,
			nonce,
			sodium.crypto_sign_ed25519_pk_to_curve25519(targetKp.publicKey),
			sodium.crypto_sign_ed25519_sk_to_curve25519(senderKp.privateKey),
		);
		const unwrapped = unwrapContactKey({
			nonce: sodium.to_base64(nonce, sodium.base64_variants.URLSAFE_NO_PADDING),
			box: sodium.to_base64(box, sodium.base64_variants.URLSAFE_NO_PADDING),
			senderPublicKey: senderKp.publicKey,
			mySeed: SEED_B,
			accounts,
			version: 7,
		});
		expect(unwrapped).toEqual({ key, lists: { alice: 4, bob: 9 } });
	});

	test("a tampered envelope fails in both libraries and in ours with open_failed", () => {
		const env = wrapContactKey({ accounts, version: 1, lists, key, senderSeed: sender.seed, targetPublicKey: target.publicKey });
		const tampered = flipBit(fromB64u(env.box), 40);
		const nonce = fromB64u(env.nonce);
		const senderBoxPub = boxPublicKeyFromEd25519(sender.publicKey);
		const targetBoxSecret = boxSecretKeyFromSeed(target.seed);
		expect(nacl.box.open(tampered, nonce, senderBoxPub, targetBoxSecret)).toBeNull();
		expect(() => sodium.crypto_box_open_easy(tampered, nonce, senderBoxPub, targetBoxSecret)).toThrow();
		expectCryptoError(
			() =>
				unwrapContactKey({
					nonce: env.nonce,
					box: sodium.to_base64(tampered, sodium.base64_variants.URLSAFE_NO_PADDING),
					senderPublicKey: sender.publicKey,
					mySeed: target.seed,
					accounts,
					version: 1,
				}),
			"open_failed",
		);
	});
});
