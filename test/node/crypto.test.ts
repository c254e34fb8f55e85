import { describe, expect, test } from "vitest";
import { generateContactKey, unwrapContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
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
	const wrapped = wrapContactKey({
		accounts: ["alice", "bob"],
		version: 4,
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

	test("the target device unwraps the key whichever order the accounts are given in", () => {
		expect(unwrapContactKey(base)).toEqual(key);
		expect(unwrapContactKey({ ...base, accounts: ["bob", "alice"] })).toEqual(key);
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

	test("account ids containing a newline are refused because they would make the context ambiguous", () => {
		expect(() =>
			wrapContactKey({ accounts: ["a\nb", "c"], version: 1, key, senderSeed: sender.seed, targetPublicKey: target.publicKey }),
		).toThrow(RangeError);
	});

	test("a contact key of the wrong length is bad_key", () => {
		expectCryptoError(
			() =>
				wrapContactKey({
					accounts: ["a", "b"],
					version: 1,
					key: new Uint8Array(16),
					senderSeed: sender.seed,
					targetPublicKey: target.publicKey,
				}),
			"bad_key",
		);
	});
});

describe("safety number", () => {
	const [phone, laptop] = [randomBytes(32), randomBytes(32)];
	const alice = { accountId: "alice", deviceKeys: [phone, laptop] };
	const bob = { accountId: "bob", deviceKeys: [randomBytes(32)] };

	test("is 12 groups of 5 digits", () => {
		expect(safetyNumber(alice, bob)).toMatch(/^\d{5}( \d{5}){11}$/);
	});

	test("is the same whichever side computes it", () => {
		expect(safetyNumber(alice, bob)).toBe(safetyNumber(bob, alice));
	});

	test("does not depend on device order or repeated keys", () => {
		const reordered = { accountId: "alice", deviceKeys: [laptop, phone.slice(), laptop] };
		expect(safetyNumber(reordered, bob)).toBe(safetyNumber(alice, bob));
	});

	test("changes when either side adds or removes a device, and only that side's half changes", () => {
		const before = safetyNumber(alice, bob).split(" ");
		const bobAdded = safetyNumber(alice, { ...bob, deviceKeys: [...bob.deviceKeys, randomBytes(32)] }).split(" ");
		expect(bobAdded.slice(0, 6)).toEqual(before.slice(0, 6));
		expect(bobAdded.slice(6)).not.toEqual(before.slice(6));
		const aliceRemoved = safetyNumber({ ...alice, deviceKeys: alice.deviceKeys.slice(1) }, bob).split(" ");
		expect(aliceRemoved.slice(0, 6)).not.toEqual(before.slice(0, 6));
		expect(aliceRemoved.slice(6)).toEqual(before.slice(6));
	});

	test("binds the account id, so the same devices under another account give another number", () => {
		expect(safetyNumber({ ...alice, accountId: "alicia" }, bob)).not.toBe(safetyNumber(alice, bob));
	});

	test("refuses device keys that are not 32 bytes", () => {
		expectCryptoError(() => safetyNumber({ accountId: "a", deviceKeys: [new Uint8Array(31)] }, bob), "bad_key");
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
