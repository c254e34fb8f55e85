import { describe, expect, test } from "vitest";
import { generateContactKey, orderedPair, unwrapContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { generateAccountIdentity, unwrapIdentityKey, wrapIdentityKey } from "../../client/core/identity-key.ts";
import {
	claimProof,
	deriveLinkKeys,
	formatLinkCode,
	linkConfirmation,
	macMatches,
	newLinkCode,
	parseLinkCode,
} from "../../client/core/link-code.ts";
import { openMessage, type RoutingHeader, type SealedHeader, sealMessage } from "../../client/core/message-seal.ts";
import { deviceFingerprint, safetyNumber } from "../../client/core/safety-number.ts";
import { concatBytes, equalBytes, fromB64u, toB64u, utf8Decode, utf8Encode } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes, secretboxSeal } from "../../common/nacl.ts";
import { expectCryptoError } from "../support/expect-crypto-error.ts";

const HEADER: SealedHeader = {
	id: "msg-01",
	from: "alice",
	fromDevice: "alice-phone",
	to: "bob",
	keyVersion: 2,
	kind: "text",
	sentAt: 1_760_000_000_000,
};
const { sentAt: _, ...ROUTING } = HEADER;

// Seals arbitrary plaintext under the message key, for feeding openMessage what a
// misbehaving sender could produce.
function sealRaw(key: Uint8Array, plaintext: Uint8Array): { nonce: string; box: string } {
	const nonce = randomBytes(24);
	return { nonce: toB64u(nonce), box: toB64u(secretboxSeal(key, nonce, plaintext)) };
}

function sealJson(key: Uint8Array, value: unknown): { nonce: string; box: string } {
	return sealRaw(key, utf8Encode(JSON.stringify(value)));
}

describe("message seal", () => {
	test("a sealed message opens to the same header and body", () => {
		const key = generateContactKey();
		const body = { text: "héllo 👋", attachments: [{ name: "a.png", size: 3 }] };
		const sealed = sealMessage(key, HEADER, body);
		expect(fromB64u(sealed.nonce)).toHaveLength(24);
		expect(openMessage(key, ROUTING, sealed.nonce, sealed.box)).toEqual({ header: HEADER, body });
	});

	test("sealing the same message twice uses fresh nonces", () => {
		const key = generateContactKey();
		const first = sealMessage(key, HEADER, "same");
		const second = sealMessage(key, HEADER, "same");
		expect(first.nonce).not.toBe(second.nonce);
		expect(first.box).not.toBe(second.box);
	});

	test("stray properties on the header are not sealed", () => {
		const key = generateContactKey();
		const withExtra = { ...HEADER, secretNote: "x" };
		const sealed = sealMessage(key, withExtra, null);
		expect(openMessage(key, ROUTING, sealed.nonce, sealed.box).header).toEqual(HEADER);
	});

	test.each([
		["id", "msg-02"],
		["from", "mallory"],
		["fromDevice", "alice-laptop"],
		["to", "carol"],
		["keyVersion", 3],
		["kind", "file"],
	] as const)("a routing header with a different %s is a header_mismatch", (field, value) => {
		const key = generateContactKey();
		const sealed = sealMessage(key, HEADER, "hi");
		const routing: RoutingHeader = { ...ROUTING, [field]: value };
		expectCryptoError(() => openMessage(key, routing, sealed.nonce, sealed.box), "header_mismatch");
	});

	test("a message sealed under another key or tampered with is open_failed", () => {
		const key = generateContactKey();
		const sealed = sealMessage(key, HEADER, "hi");
		expectCryptoError(() => openMessage(generateContactKey(), ROUTING, sealed.nonce, sealed.box), "open_failed");
		const box = fromB64u(sealed.box);
		const tampered = box.map((b, i) => (i === box.length - 1 ? b ^ 0x80 : b));
		expectCryptoError(() => openMessage(key, ROUTING, sealed.nonce, toB64u(tampered)), "open_failed");
		expectCryptoError(() => openMessage(key, ROUTING, toB64u(randomBytes(23)), sealed.box), "open_failed");
	});

	test("a nonce or box that is not base64url is bad_encoding", () => {
		const key = generateContactKey();
		const sealed = sealMessage(key, HEADER, "hi");
		expectCryptoError(() => openMessage(key, ROUTING, `${sealed.nonce}=`, sealed.box), "bad_encoding");
		expectCryptoError(() => openMessage(key, ROUTING, sealed.nonce, sealed.box.replace(/.$/, "+")), "bad_encoding");
	});

	test("a plaintext that is not UTF-8 JSON is bad_encoding", () => {
		const key = generateContactKey();
		for (const raw of [new Uint8Array([0x7b, 0xff, 0x7d]), utf8Encode("{not json"), new Uint8Array(0)]) {
			const sealed = sealRaw(key, raw);
			expectCryptoError(() => openMessage(key, ROUTING, sealed.nonce, sealed.box), "bad_encoding");
		}
	});

	test.each([
		["an array", [1, HEADER, "b"]],
		["null", null],
		["a wrong version", { v: 2, h: HEADER, b: 1 }],
		["a missing version", { h: HEADER, b: 1 }],
		["a missing body", { v: 1, h: HEADER }],
		["an unknown top-level field", { v: 1, h: HEADER, b: 1, x: 0 }],
		["a missing header", { v: 1, b: 1 }],
		["a header that is a string", { v: 1, h: "alice", b: 1 }],
		["a keyVersion given as a string", { v: 1, h: { ...HEADER, keyVersion: "2" }, b: 1 }],
		["a fractional keyVersion", { v: 1, h: { ...HEADER, keyVersion: 2.5 }, b: 1 }],
		["a numeric id", { v: 1, h: { ...HEADER, id: 1 }, b: 1 }],
		["a null kind", { v: 1, h: { ...HEADER, kind: null }, b: 1 }],
		["a missing sentAt", { v: 1, h: { ...ROUTING }, b: 1 }],
		["a negative sentAt", { v: 1, h: { ...HEADER, sentAt: -1 }, b: 1 }],
		["an unknown header field", { v: 1, h: { ...HEADER, admin: true }, b: 1 }],
	])("a sealed message with %s is bad_envelope", (_, value) => {
		const key = generateContactKey();
		const sealed = sealJson(key, value);
		expectCryptoError(() => openMessage(key, ROUTING, sealed.nonce, sealed.box), "bad_envelope");
	});

	test("sealing refuses a malformed header or a body JSON cannot carry", () => {
		const key = generateContactKey();
		expect(() => sealMessage(key, { ...HEADER, keyVersion: Number.NaN }, "x")).toThrow(TypeError);
		expect(() => sealMessage(key, HEADER, undefined)).toThrow(TypeError);
	});
});

describe("contact key envelope", () => {
	const sender = generateDeviceKeys();
	const target = generateDeviceKeys();
	const key = generateContactKey();
	const lists = { alice: 3, bob: 7 };
	const wrapped = wrapContactKey({
		accounts: ["alice", "bob"],
		version: 4,
		lists,
		key,
		senderSeed: sender.seed,
		targetPublicKey: target.publicKey,
	});
	const base = {
		...wrapped,
		senderPublicKey: sender.publicKey,
		mySeed: target.seed,
		accounts: ["alice", "bob"] as [string, string],
		version: 4,
	};

	test("a contact key is 32 fresh random bytes", () => {
		const k = generateContactKey();
		expect(k).toHaveLength(32);
		expect(equalBytes(k, generateContactKey())).toBe(false);
	});

	test("the target device unwraps the key and the device-list versions it was shared under, whichever order the accounts are given in", () => {
		expect(unwrapContactKey(base)).toEqual({ key, lists });
		expect(unwrapContactKey({ ...base, accounts: ["bob", "alice"] })).toEqual({ key, lists });
	});

	test("the ids are ordered by their base64url text, not by their decoded bytes", () => {
		// As text "_" (0x5F) comes before "a" (0x61); decoded, "_" is 63 and "a" is 26, the other way round.
		const [a, u] = [`${"a".repeat(21)}A`, `${"_".repeat(21)}w`];
		expect(orderedPair(a, u)).toEqual([u, a]);
		expect((fromB64u(a)[0] as number) < (fromB64u(u)[0] as number)).toBe(true);
	});

	test("a wrong key version or a wrong account is bad_envelope", () => {
		expectCryptoError(() => unwrapContactKey({ ...base, version: 5 }), "bad_envelope");
		expectCryptoError(() => unwrapContactKey({ ...base, version: 3 }), "bad_envelope");
		expectCryptoError(() => unwrapContactKey({ ...base, accounts: ["alice", "carol"] }), "bad_envelope");
		expectCryptoError(() => unwrapContactKey({ ...base, accounts: ["alice", "bobby"] }), "bad_envelope");
	});

	test("another device, or a claimed sender that did not wrap it, cannot open the envelope", () => {
		expectCryptoError(() => unwrapContactKey({ ...base, mySeed: generateDeviceKeys().seed }), "open_failed");
		expectCryptoError(() => unwrapContactKey({ ...base, senderPublicKey: generateDeviceKeys().publicKey }), "open_failed");
	});

	test("account ids containing whitespace, or a missing list version, are refused because they would make the context ambiguous", () => {
		expect(() =>
			wrapContactKey({
				accounts: ["a\nb", "c"],
				version: 1,
				lists: { "a\nb": 1, c: 1 },
				key,
				senderSeed: sender.seed,
				targetPublicKey: target.publicKey,
			}),
		).toThrow(RangeError);
		expect(() =>
			wrapContactKey({
				accounts: ["a", "c"],
				version: 1,
				lists: { a: 1 },
				key,
				senderSeed: sender.seed,
				targetPublicKey: target.publicKey,
			}),
		).toThrow(RangeError);
	});

	test("a contact key of the wrong length is bad_key", () => {
		expectCryptoError(
			() =>
				wrapContactKey({
					accounts: ["a", "b"],
					version: 1,
					lists: { a: 1, b: 1 },
					key: new Uint8Array(16),
					senderSeed: sender.seed,
					targetPublicKey: target.publicKey,
				}),
			"bad_key",
		);
	});
});

describe("identity key envelope", () => {
	const sender = generateDeviceKeys();
	const target = generateDeviceKeys();
	const identity = generateAccountIdentity();
	const identityKey = toB64u(identity.publicKey);
	const wrapped = wrapIdentityKey({ accountId: "alice", identity, senderSeed: sender.seed, targetPublicKey: target.publicKey });
	const base = { ...wrapped, accountId: "alice", identityKey, senderPublicKey: sender.publicKey, mySeed: target.seed };

	test("the target device gets the identity key pair back", () => {
		const opened = unwrapIdentityKey(base);
		expect(opened.seed).toEqual(identity.seed);
		expect(opened.publicKey).toEqual(identity.publicKey);
	});

	test("an envelope for another account or naming another identity key is bad_envelope", () => {
		expectCryptoError(() => unwrapIdentityKey({ ...base, accountId: "alicia" }), "bad_envelope");
		expectCryptoError(() => unwrapIdentityKey({ ...base, identityKey: toB64u(generateAccountIdentity().publicKey) }), "bad_envelope");
	});

	test("an envelope naming one key but holding another seed is bad_envelope", () => {
		const other = generateAccountIdentity();
		const lying = wrapIdentityKey({
			accountId: "alice",
			identity: { seed: other.seed, publicKey: identity.publicKey },
			senderSeed: sender.seed,
			targetPublicKey: target.publicKey,
		});
		expectCryptoError(() => unwrapIdentityKey({ ...base, ...lying }), "bad_envelope");
	});
});

describe("safety number", () => {
	const alice = { accountId: "alice", identityKey: randomBytes(32) };
	const bob = { accountId: "bob", identityKey: randomBytes(32) };

	test("is 12 groups of 5 digits", () => {
		expect(safetyNumber(alice, bob)).toMatch(/^\d{5}( \d{5}){11}$/);
	});

	test("is the same whichever side computes it", () => {
		expect(safetyNumber(alice, bob)).toBe(safetyNumber(bob, alice));
	});

	test("changes when either side's identity key changes, and only that side's half changes", () => {
		const before = safetyNumber(alice, bob).split(" ");
		const bobReset = safetyNumber(alice, { ...bob, identityKey: randomBytes(32) }).split(" ");
		expect(bobReset.slice(0, 6)).toEqual(before.slice(0, 6));
		expect(bobReset.slice(6)).not.toEqual(before.slice(6));
	});

	test("binds the account id, so the same identity key under another account gives another number", () => {
		expect(safetyNumber({ ...alice, accountId: "alicia" }, bob)).not.toBe(safetyNumber(alice, bob));
	});

	test("refuses identity keys that are not 32 bytes", () => {
		expectCryptoError(() => safetyNumber({ accountId: "a", identityKey: new Uint8Array(31) }, bob), "bad_key");
	});
});

describe("link codes", () => {
	test("a code reads back the same from its typed form, whatever the case, spacing and look-alike letters", () => {
		const code = newLinkCode("Alice");
		const text = formatLinkCode(code);
		expect(text).toMatch(/^alice(-[0-9A-HJKMNP-TV-Z]{6}){4}$/);
		const sloppy = ` ${text.toLowerCase().replace(/0/g, "o").replace(/1/g, "l").replace(/-/g, " - ")} `.replace(/^ alice - /, "alice-");
		expect(parseLinkCode(sloppy)).toEqual(code);
		expect(deriveLinkKeys(parseLinkCode(text))).toEqual(deriveLinkKeys(code));
	});

	test("a code for one handle derives another link id for any other handle", () => {
		const code = newLinkCode("alice");
		expect(deriveLinkKeys({ ...code, handle: "alicia" }).linkId).not.toBe(deriveLinkKeys(code).linkId);
	});

	test("a code missing letters, with letters outside the alphabet, or without a handle is bad_encoding", () => {
		const text = formatLinkCode(newLinkCode("alice"));
		expectCryptoError(() => parseLinkCode(text.slice(0, -1)), "bad_encoding");
		expectCryptoError(() => parseLinkCode(`${text.slice(0, -1)}U`), "bad_encoding");
		expectCryptoError(() => parseLinkCode(text.slice(6)), "bad_encoding");
	});

	test("the claim proof binds the device key and name, and the confirmation binds the identity key", () => {
		const keys = deriveLinkKeys(newLinkCode("alice"));
		const claim = { handle: "alice", publicKey: toB64u(randomBytes(32)), deviceName: "laptop" };
		const proof = claimProof(keys, claim);
		expect(macMatches(proof, claimProof(keys, claim))).toBe(true);
		expect(macMatches(proof, claimProof(keys, { ...claim, deviceName: "laptop2" }))).toBe(false);
		expect(macMatches(proof, claimProof(keys, { ...claim, publicKey: toB64u(randomBytes(32)) }))).toBe(false);
		expect(macMatches(proof, claimProof(deriveLinkKeys(newLinkCode("alice")), claim))).toBe(false);
		const confirm = {
			accountId: "A".repeat(22),
			identityKey: toB64u(randomBytes(32)),
			deviceId: "B".repeat(22),
			publicKey: claim.publicKey,
		};
		expect(macMatches(linkConfirmation(keys, confirm), linkConfirmation(keys, { ...confirm, identityKey: toB64u(randomBytes(32)) }))).toBe(
			false,
		);
	});
});

describe("device fingerprint", () => {
	test("is 4 groups of 5 digits, stable for a key and different for another key", () => {
		const key = randomBytes(32);
		expect(deviceFingerprint(key)).toMatch(/^\d{5}( \d{5}){3}$/);
		expect(deviceFingerprint(key.slice())).toBe(deviceFingerprint(key));
		expect(deviceFingerprint(randomBytes(32))).not.toBe(deviceFingerprint(key));
	});

	test("is the first 20 bytes of SHA-256 read as 5-byte groups mod 100000", () => {
		// SHA-256 of 32 zero bytes starts 66687aadf8 62bd776c8f c18b8e9f8e 20089714856ee2...
		expect(deviceFingerprint(new Uint8Array(32))).toBe(
			[0x66687aadf8, 0x62bd776c8f, 0xc18b8e9f8e, 0x20089714_85].map((n) => String(n % 100000).padStart(5, "0")).join(" "),
		);
	});
});

describe("encoding", () => {
	test("base64url round-trips every length and matches Node's encoder", () => {
		for (let n = 0; n < 70; n++) {
			const bytes = randomBytes(n);
			const encoded = toB64u(bytes);
			expect(encoded).toBe(Buffer.from(bytes).toString("base64url"));
			expect(fromB64u(encoded)).toEqual(bytes);
		}
	});

	test("base64url handles 64 KiB inputs quickly", () => {
		const bytes = randomBytes(65536 + 1);
		const start = performance.now();
		const encoded = toB64u(bytes);
		const decoded = fromB64u(encoded);
		expect(performance.now() - start).toBeLessThan(200);
		expect(encoded).toBe(Buffer.from(bytes).toString("base64url"));
		expect(equalBytes(decoded, bytes)).toBe(true);
	});

	test.each([
		["padding", "AAA="],
		["standard base64 characters", "ab+/"],
		["whitespace", "AAAA AAAA"],
		["non-ASCII", "AAAé"],
		["an impossible length", "AAAAA"],
		["non-zero unused bits in a 2-character tail", "AB"],
		["non-zero unused bits in a 3-character tail", "AAB"],
	])("fromB64u rejects %s with bad_encoding", (_, input) => {
		expectCryptoError(() => fromB64u(input), "bad_encoding");
	});

	test("UTF-8 decoding is fatal on invalid bytes and keeps a leading BOM", () => {
		expectCryptoError(() => utf8Decode(new Uint8Array([0xc3, 0x28])), "bad_encoding");
		expectCryptoError(() => utf8Decode(new Uint8Array([0xed, 0xa0, 0x80])), "bad_encoding");
		expect(utf8Decode(utf8Encode("\ufeffhi ✓"))).toBe("\ufeffhi ✓");
	});

	test("concatBytes joins in order and equalBytes compares content and length", () => {
		const joined = concatBytes(new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3]));
		expect(joined).toEqual(new Uint8Array([1, 2, 3]));
		expect(equalBytes(joined, new Uint8Array([1, 2, 3]))).toBe(true);
		expect(equalBytes(joined, new Uint8Array([1, 2, 4]))).toBe(false);
		expect(equalBytes(joined, new Uint8Array([1, 2]))).toBe(false);
	});
});

describe("randomBytes", () => {
	test("serves requests larger than the 64 KiB getRandomValues quota, all of it random", () => {
		const bytes = randomBytes(200_000);
		expect(bytes).toHaveLength(200_000);
		// Each 64 KiB chunk must be filled; an unfilled chunk would be all zeros.
		for (let offset = 0; offset < bytes.length; offset += 65536) {
			expect(bytes.subarray(offset, offset + 65536).some((b) => b !== 0)).toBe(true);
		}
		expect(equalBytes(bytes.subarray(0, 65536), bytes.subarray(65536, 131072))).toBe(false);
		expect(randomBytes(0)).toHaveLength(0);
	});
});
