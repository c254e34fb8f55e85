// An independent client checks the published test vectors (common/protocol/vectors/*.json)
// from PROTOCOL.md's description alone. It imports no project code at all — only TweetNaCl,
// libsodium, node:crypto (HKDF, HMAC, SHA-256, SHA-512), node:fs to read the JSON files, and
// vitest — so a vector that only the project's own code agrees with fails here. The first
// test enforces that boundary on this file's own source.
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import sodium from "libsodium-wrappers";
import nacl from "tweetnacl";
import { beforeAll, describe, expect, it } from "vitest";

const VECTORS = new URL("../../common/protocol/vectors/", import.meta.url);
type Json = any;
const load = (name: string): Json => JSON.parse(readFileSync(new URL(name, VECTORS), "utf8"));

// ---------------------------------------------------------------------------------------
// Encodings, written out here rather than borrowed

const enc = new TextEncoder();
const utf8 = (s: string): Uint8Array => enc.encode(s);

/** Strict base64url without padding: only the one canonical spelling of the bytes decodes. */
function b64u(s: string): Uint8Array {
	expect(s).toMatch(/^[A-Za-z0-9_-]*$/);
	const bytes = new Uint8Array(Buffer.from(s, "base64url"));
	expect(Buffer.from(bytes).toString("base64url"), `canonical base64url ${s}`).toBe(s);
	return bytes;
}
const toB64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");
function unhex(s: string): Uint8Array {
	expect(s).toMatch(/^([0-9a-f]{2})*$/);
	return new Uint8Array(Buffer.from(s, "hex"));
}
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const u32be = (n: number): Uint8Array => {
	const out = new Uint8Array(4);
	new DataView(out.buffer).setUint32(0, n);
	return out;
};
/** Plain code-unit comparison of two strings, as PROTOCOL.md orders ids (JavaScript's `<`). */
const textLess = (a: string, b: string): boolean => a < b;
const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(bytes).digest());
const sha512 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha512").update(bytes).digest());
const hmac = (key: Uint8Array, text: string): Uint8Array => new Uint8Array(createHmac("sha256", key).update(utf8(text)).digest());

// ---------------------------------------------------------------------------------------
// The two NaCl libraries, side by side

const verifyBoth = (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean[] => [
	nacl.sign.detached.verify(message, signature, publicKey),
	sodium.crypto_sign_verify_detached(signature, message, publicKey),
];

/** An Ed25519 seed's X25519 pair, as libsodium converts it. */
function x25519FromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array; edPublicKey: Uint8Array } {
	const ed = sodium.crypto_sign_seed_keypair(seed);
	return {
		edPublicKey: ed.publicKey,
		publicKey: sodium.crypto_sign_ed25519_pk_to_curve25519(ed.publicKey),
		secretKey: sodium.crypto_sign_ed25519_sk_to_curve25519(ed.privateKey),
	};
}

/** Opens a crypto_box with both libraries (they must agree), then seals the plaintext again with both under the same nonce. */
function openBoxBoth(
	box: Uint8Array,
	nonce: Uint8Array,
	senderX: Uint8Array,
	recipientXSecret: Uint8Array,
	recipientX: Uint8Array,
	senderXSecret: Uint8Array,
) {
	const byNacl = nacl.box.open(box, nonce, senderX, recipientXSecret);
	expect(byNacl).not.toBeNull();
	const plain = byNacl as Uint8Array;
	expect(hex(sodium.crypto_box_open_easy(box, nonce, senderX, recipientXSecret))).toBe(hex(plain));
	expect(hex(nacl.box(plain, nonce, recipientX, senderXSecret))).toBe(hex(box));
	expect(hex(sodium.crypto_box_easy(plain, nonce, recipientX, senderXSecret))).toBe(hex(box));
	// One flipped bit and neither opens it.
	const bad = box.map((b, i) => (i === box.length - 1 ? b ^ 1 : b));
	expect(nacl.box.open(bad, nonce, senderX, recipientXSecret)).toBeNull();
	expect(() => sodium.crypto_box_open_easy(bad, nonce, senderX, recipientXSecret)).toThrow();
	return plain;
}

function openSecretboxBoth(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
	const byNacl = nacl.secretbox.open(box, nonce, key);
	expect(byNacl).not.toBeNull();
	const plain = byNacl as Uint8Array;
	expect(hex(sodium.crypto_secretbox_open_easy(box, nonce, key))).toBe(hex(plain));
	expect(hex(nacl.secretbox(plain, nonce, key))).toBe(hex(box));
	expect(hex(sodium.crypto_secretbox_easy(plain, nonce, key))).toBe(hex(box));
	return plain;
}

// ---------------------------------------------------------------------------------------
// PROTOCOL.md's constructions, rebuilt

const SIGNED: Record<string, (f: Json) => string> = {
	registrationMessage: (f) => `sm-register/2\n${f.handle}\n${f.publicKey}\n${f.deviceName}\n${f.identityKey}`,
	identityProofMessage: (f) => `sm-identity/1\n${f.handle}\n${f.identityKey}\n${f.publicKey}`,
	loginMessage: (f) => `sm-login/1\n${f.challenge}`,
	linkClaimMessage: (f) => `sm-link-claim/1\n${f.handle}\n${f.linkId}\n${f.publicKey}\n${f.deviceName}`,
	deviceListMessage: (l) => {
		const lines = [
			"sm-device-list/1",
			l.accountId,
			String(l.version),
			String(l.lastRemoval),
			l.identityKey,
			String(l.devices.length),
			...l.devices.map((d: Json) => `${d.deviceId} ${d.publicKey}`),
		];
		return `${lines.join("\n")}\n`;
	},
};

function safetyDigits(accountId: string, identityKey: Uint8Array, iterations: number): string {
	const account = utf8(accountId);
	const h0 = sha512(concat(utf8("sm-safety-number/2"), u32be(account.length), account, identityKey));
	let h = h0;
	for (let i = 0; i < iterations; i++) h = sha512(concat(h, h0.subarray(0, 32)));
	return groups(h, 6);
}

function groups(bytes: Uint8Array, count: number): string {
	const out: string[] = [];
	for (let g = 0; g < count; g++) {
		const n = Number(BigInt(`0x${hex(bytes.subarray(g * 5, g * 5 + 5))}`) % 100000n);
		out.push(String(n).padStart(5, "0"));
	}
	return out.join(" ");
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
function crockford(bytes: Uint8Array): string {
	let n = BigInt(`0x${hex(bytes)}`);
	let out = "";
	for (let i = 0; i < (bytes.length * 8) / 5; i++) {
		out = CROCKFORD[Number(n & 31n)] + out;
		n >>= 5n;
	}
	return out;
}
/** A typed code as PROTOCOL.md reads it: trim, handle before the first dash (an @ and ASCII case aside), then the 24 letters with spaces and dashes dropped, case folded, O read as 0 and I or L as 1. */
function readCode(text: string): { handle: string; secret: Uint8Array } {
	const t = text.trim();
	const cut = t.indexOf("-");
	const handle = t.slice(0, cut).replace(/^@/, "").toLowerCase();
	const letters = t
		.slice(cut + 1)
		.replace(/[\s-]/g, "")
		.toUpperCase()
		.replace(/O/g, "0")
		.replace(/[IL]/g, "1");
	expect(letters).toMatch(/^[0-9A-HJKMNP-TV-Z]{24}$/);
	let n = 0n;
	for (const c of letters) n = (n << 5n) | BigInt(CROCKFORD.indexOf(c));
	return { handle, secret: unhex(n.toString(16).padStart(30, "0")) };
}

// ---------------------------------------------------------------------------------------

beforeAll(async () => {
	await sodium.ready;
});

describe("independent client: the import boundary", () => {
	it("this file imports only TweetNaCl, libsodium, node:crypto, node:fs and vitest, and reads only the vector files", () => {
		const source = readFileSync(new URL(import.meta.url), "utf8");
		const specifiers = [...source.matchAll(/^\s*import\s[^;]*?from\s*"([^"]+)"/gms)].map((m) => m[1]);
		expect(specifiers.sort()).toEqual(["libsodium-wrappers", "node:crypto", "node:fs", "tweetnacl", "vitest"]);
		// Nothing else comes in: no dynamic import, no require, no re-export (regexes, whose own text cannot match them).
		expect(source.match(/\bimport\s*\(/g)).toBeNull();
		expect(source.match(/\brequire\s*\(/g)).toBeNull();
		expect(source.match(/^\s*export\s/gm)).toBeNull();
		// The one path it reads from is the vector directory.
		expect([...source.matchAll(/new URL\("(\.[^"]*)"/g)].map((m) => m[1])).toEqual(["../../common/protocol/vectors/"]);
	});
});

describe("independent client: signatures.json", () => {
	const { vectors } = load("signatures.json");

	it("covers every signed string of PROTOCOL.md", () => {
		expect(new Set(vectors.map((v: Json) => v.name))).toEqual(new Set(Object.keys(SIGNED)));
	});

	it.each<[string, Json]>(
		vectors.map((v: Json) => [`${v.name} by ${v.signer}`, v]),
	)("%s: rebuilt from its fields, verified by both libraries, re-signed to the same bytes", (_, v: Json) => {
		const text = (SIGNED[v.name] as (f: Json) => string)(v.fields);
		expect(text).toBe(v.text);
		const message = unhex(v.hex);
		expect(hex(utf8(text))).toBe(v.hex);
		const publicKey = b64u(v.publicKey);
		const signature = b64u(v.signature);
		expect(signature).toHaveLength(64);
		expect(verifyBoth(message, signature, publicKey)).toEqual([true, true]);
		expect(verifyBoth(concat(message, utf8("\n")), signature, publicKey)).toEqual([false, false]);
		const pair = nacl.sign.keyPair.fromSeed(unhex(v.signerSeedHex));
		expect(toB64u(pair.publicKey)).toBe(v.publicKey);
		expect(toB64u(nacl.sign.detached(message, pair.secretKey))).toBe(v.signature);
		expect(toB64u(sodium.crypto_sign_detached(message, sodium.crypto_sign_seed_keypair(unhex(v.signerSeedHex)).privateKey))).toBe(
			v.signature,
		);
	});

	it("the request bodies carry the same fields and signatures", () => {
		for (const v of vectors) {
			const body = v.request.body;
			if (v.name === "registrationMessage") {
				expect(body).toMatchObject({
					handle: v.fields.handle,
					publicKey: v.fields.publicKey,
					deviceName: v.fields.deviceName,
					identityKey: v.fields.identityKey,
					signature: v.signature,
				});
			} else if (v.name === "identityProofMessage") {
				expect(body).toMatchObject({
					handle: v.fields.handle,
					publicKey: v.fields.publicKey,
					identityKey: v.fields.identityKey,
					identitySignature: v.signature,
				});
				expect(v.publicKey).toBe(v.fields.identityKey);
			} else if (v.name === "loginMessage") {
				expect(body).toEqual({ publicKey: v.publicKey, challenge: v.fields.challenge, signature: v.signature });
			} else if (v.name === "linkClaimMessage") {
				expect(body).toMatchObject({ ...v.fields, signature: v.signature });
			} else {
				expect(body.deviceList).toEqual({ ...v.fields, signature: v.signature });
			}
		}
	});
});

describe("independent client: device-list.json", () => {
	const { lists, identityKeys, devices, canonicalOrder, rotation } = load("device-list.json");
	const byName = (name: string): Json => lists.find((l: Json) => l.name === name);
	const deviceKey = (label: string): string => devices.find((d: Json) => d.device === label).publicKey;

	it("the identity and device keys are the seeds' Ed25519 keys", () => {
		for (const k of [...identityKeys, ...devices]) {
			const pub = nacl.sign.keyPair.fromSeed(unhex(k.ed25519SeedHex)).publicKey;
			expect(toB64u(pub)).toBe(k.identityKey ?? k.publicKey);
		}
	});

	it.each<[string, Json]>(
		lists.map((l: Json) => [l.name, l]),
	)("%s: canonical, rebuilt to the signed bytes, verified by both libraries under its identityKey", (_, l: Json) => {
		const list = l.deviceList;
		expect(Object.keys(list)).toEqual(["accountId", "version", "lastRemoval", "identityKey", "devices", "signature"]);
		expect(Number.isSafeInteger(list.version) && list.version >= 1).toBe(true);
		expect(list.lastRemoval >= 0 && list.lastRemoval <= list.version).toBe(true);
		for (let i = 1; i < list.devices.length; i++) expect(textLess(list.devices[i - 1].deviceId, list.devices[i].deviceId)).toBe(true);
		const { signature, ...body } = list;
		expect(SIGNED.deviceListMessage?.(body)).toBe(l.text);
		expect(hex(utf8(l.text))).toBe(l.hex);
		expect(verifyBoth(unhex(l.hex), b64u(signature), b64u(list.identityKey))).toEqual([true, true]);
		// The same devices in another order are other bytes, so that signature no longer verifies.
		if (list.devices.length > 1) {
			const swapped = SIGNED.deviceListMessage?.({ ...body, devices: [...body.devices].reverse() }) as string;
			expect(verifyBoth(utf8(swapped), b64u(signature), b64u(list.identityKey))).toEqual([false, false]);
		}
		expect(l.request.body.deviceList).toEqual(list);
	});

	it("canonical order is by base64url text, which here differs from the order of the decoded ids", () => {
		const { a1, a2 } = canonicalOrder;
		expect(Buffer.compare(b64u(a1.deviceId), b64u(a2.deviceId))).toBeLessThan(0);
		expect(textLess(a2.deviceId, a1.deviceId)).toBe(true);
		expect(byName("alice v2").deviceList.devices.map((d: Json) => d.deviceId)).toEqual([a2.deviceId, a1.deviceId]);
	});

	it("each change follows the version and lastRemoval rules", () => {
		const [v1, v2, v3, v4] = ["alice v1", "alice v2", "alice v3", "alice v4"].map((n) => byName(n).deviceList);
		const ids = (l: Json) => l.devices.map((d: Json) => `${d.deviceId} ${d.publicKey}`).sort();
		expect([v1.version, v1.lastRemoval]).toEqual([1, 0]);
		expect(v1.devices).toEqual([{ deviceId: canonicalOrder.a1.deviceId, publicKey: deviceKey("A1") }]);
		// Approval: one more, one device added, lastRemoval unchanged, same identity key.
		expect([v2.version, v2.lastRemoval, v2.identityKey]).toEqual([v1.version + 1, v1.lastRemoval, v1.identityKey]);
		expect(ids(v2)).toEqual([...ids(v1), `${canonicalOrder.a2.deviceId} ${deviceKey("A2")}`].sort());
		// Removal: one more, lastRemoval = version.
		expect([v3.version, v3.lastRemoval, v3.identityKey]).toEqual([v2.version + 1, v2.version + 1, v2.identityKey]);
		expect(ids(v3)).toEqual(ids(v2).filter((d: string) => !d.startsWith(canonicalOrder.a1.deviceId)));
		// Identity reset: a new key, one more, lastRemoval and devices unchanged.
		expect([v4.version, v4.lastRemoval]).toEqual([v3.version + 1, v3.lastRemoval]);
		expect(v4.identityKey).not.toBe(v3.identityKey);
		expect(ids(v4)).toEqual(ids(v3));
		expect(v4.identityKey).toBe(identityKeys.find((k: Json) => k.account.includes("reset")).identityKey);
	});

	it("rotation: a key is replaced when a list's lastRemoval is above the version its envelopes name", () => {
		const alice = rotation.newList.accountId;
		expect(rotation.rotate).toBe(rotation.newList.lastRemoval > rotation.envelopeLists[alice]);
		expect(rotation.rotate).toBe(true);
		expect(rotation.rotateAgain).toBe(rotation.afterReset.lastRemoval > rotation.thenEnvelopeLists[alice]);
		expect(rotation.rotateAgain).toBe(false);
	});
});

describe("independent client: contact-key.json", () => {
	const { accounts, order, devices, versions } = load("contact-key.json");
	const lists = load("device-list.json").lists;
	const device = (label: string): Json => devices.find((d: Json) => d.device === label);

	it("orders the pair by base64url text, which for this pair is not the order of the decoded bytes", () => {
		const ids = [accounts.alice.accountId, accounts.bob.accountId];
		const [lo, hi] = textLess(ids[0], ids[1]) ? ids : [ids[1], ids[0]];
		expect(order.byText).toEqual({ lo, hi });
		expect(hex(b64u(accounts.alice.accountId))).toBe(accounts.alice.idHex);
		expect(hex(b64u(accounts.bob.accountId))).toBe(accounts.bob.idHex);
		const bytesFirst = Buffer.compare(b64u(ids[0]), b64u(ids[1])) < 0 ? ids : [ids[1], ids[0]];
		expect(order.byDecodedBytes).toEqual({ lo: bytesFirst[0], hi: bytesFirst[1] });
		expect(order.byDecodedBytes.lo).toBe(order.byText.hi);
	});

	it("libsodium converts every device's Ed25519 key to the stated X25519 pair", () => {
		for (const d of devices) {
			const x = x25519FromSeed(unhex(d.ed25519SeedHex));
			expect(toB64u(x.edPublicKey)).toBe(d.publicKey);
			expect(hex(x.publicKey)).toBe(d.x25519PublicKeyHex);
			expect(hex(x.secretKey)).toBe(d.x25519SecretKeyHex);
		}
	});

	it.each<[string, Json]>(
		versions.map((v: Json) => [String(v.keyVersion), v]),
	)("key version %s: the plaintext is the PROTOCOL.md layout, and every envelope opens to it and re-seals to the same box with both libraries", (_, v: Json) => {
		const { lo, hi } = order.byText;
		const head = `sm-contact-key/2\n${lo}\n${hi}\n${v.keyVersion}\n${v.lists[lo]}\n${v.lists[hi]}\n`;
		expect(v.plaintext.text).toBe(head);
		expect(v.plaintext.textHex).toBe(hex(utf8(head)));
		expect(unhex(v.keyHex)).toHaveLength(32);
		expect(v.plaintext.hex).toBe(hex(utf8(head)) + v.keyHex);
		for (const e of v.envelopes) {
			const from = device(e.from);
			const to = device(e.to);
			const nonce = unhex(e.nonceHex);
			const box = unhex(e.boxHex);
			expect(nonce).toHaveLength(24);
			const plain = openBoxBoth(
				box,
				nonce,
				unhex(from.x25519PublicKeyHex),
				unhex(to.x25519SecretKeyHex),
				unhex(to.x25519PublicKeyHex),
				unhex(from.x25519SecretKeyHex),
			);
			expect(hex(plain)).toBe(v.plaintext.hex);
			expect(box.length).toBe(plain.length + 16);
			// As uploaded and as the target downloads it.
			expect(e.upload).toEqual({ accountId: to.accountId, deviceId: to.deviceId, nonce: toB64u(nonce), box: toB64u(box) });
			expect(e.download).toEqual({
				keyVersion: v.keyVersion,
				fromAccount: from.accountId,
				fromDevice: from.deviceId,
				fromPublicKey: from.publicKey,
				nonce: toB64u(nonce),
				box: toB64u(box),
			});
			expect([lo, hi]).toContain(e.download.fromAccount);
		}
		expect(v.request.body).toEqual({ keyVersion: v.keyVersion, envelopes: v.envelopes.map((e: Json) => e.upload) });
	});

	it("each key version has exactly one envelope per device of the verified lists it names, wrapped by a device in its own account's list", () => {
		for (const v of versions) {
			const named = Object.entries(v.lists).map(
				([accountId, version]) =>
					lists.find((l: Json) => l.deviceList.accountId === accountId && l.deviceList.version === version).deviceList,
			);
			const expected = named.flatMap((l: Json) => l.devices.map((d: Json) => `${l.accountId} ${d.deviceId} ${d.publicKey}`)).sort();
			const targets = v.envelopes.map((e: Json) => `${device(e.to).accountId} ${device(e.to).deviceId} ${device(e.to).publicKey}`).sort();
			expect(targets).toEqual(expected);
			for (const e of v.envelopes) {
				const fromList = named.find((l: Json) => l.accountId === e.download.fromAccount);
				expect(fromList.devices).toContainEqual({ deviceId: e.download.fromDevice, publicKey: e.download.fromPublicKey });
			}
		}
	});
});

describe("independent client: identity-key.json", () => {
	const v = load("identity-key.json");

	it("the identity seed is the identity key's, and the plaintext is the PROTOCOL.md layout", () => {
		expect(toB64u(nacl.sign.keyPair.fromSeed(unhex(v.identity.ed25519SeedHex)).publicKey)).toBe(v.identity.identityKey);
		const head = `sm-identity-key/1\n${v.identity.accountId}\n${v.identity.identityKey}\n`;
		expect(v.plaintext.text).toBe(head);
		expect(v.plaintext.textHex).toBe(hex(utf8(head)));
		expect(v.plaintext.hex).toBe(hex(utf8(head)) + v.identity.ed25519SeedHex);
		expect(unhex(v.plaintext.hex)).toHaveLength(117);
	});

	it("the envelope opens with both libraries, holds the seed of the key it names, and re-seals to the same box", () => {
		for (const d of [v.from, v.to]) {
			const x = x25519FromSeed(unhex(d.ed25519SeedHex));
			expect(hex(x.publicKey)).toBe(d.x25519PublicKeyHex);
			expect(hex(x.secretKey)).toBe(d.x25519SecretKeyHex);
		}
		const body = v.identityResponse.body;
		expect(body.fromDevice).toBe(v.from.deviceId);
		expect(body.fromPublicKey).toBe(v.from.publicKey);
		const box = b64u(body.box);
		expect(box).toHaveLength(133);
		expect(hex(box)).toBe(v.boxHex);
		const plain = openBoxBoth(
			box,
			b64u(body.nonce),
			unhex(v.from.x25519PublicKeyHex),
			unhex(v.to.x25519SecretKeyHex),
			unhex(v.to.x25519PublicKeyHex),
			unhex(v.from.x25519SecretKeyHex),
		);
		expect(hex(plain)).toBe(v.plaintext.hex);
		const seed = plain.subarray(plain.length - 32);
		expect(toB64u(nacl.sign.keyPair.fromSeed(seed).publicKey)).toBe(v.identity.identityKey);
		expect(v.approveRequest.body.identityEnvelope).toEqual({ nonce: body.nonce, box: body.box });
		expect(v.approveRequest.body.linkConfirm).toBe(body.linkConfirm);
	});

	it("what the new device checks: the confirmation, and that the next signed list (under that key) lists it with its key, and its approver", () => {
		const link = load("link-code.json");
		const macKey = unhex(link.hkdf.macKeyHex);
		const confirmText = `sm-link-confirm/1\n${link.hkdf.linkId}\n${v.identity.accountId}\n${v.identity.identityKey}\n${v.to.deviceId}\n${v.to.publicKey}`;
		expect(toB64u(hmac(macKey, confirmText))).toBe(v.identityResponse.body.linkConfirm);
		const list = v.approveRequest.body.deviceList;
		expect(list.accountId).toBe(v.identity.accountId);
		expect(list.identityKey).toBe(v.identity.identityKey);
		const { signature, ...rest } = list;
		expect(verifyBoth(utf8(SIGNED.deviceListMessage?.(rest) as string), b64u(signature), b64u(list.identityKey))).toEqual([true, true]);
		expect(list.devices).toContainEqual({ deviceId: v.to.deviceId, publicKey: v.to.publicKey });
		expect(list.devices).toContainEqual({ deviceId: v.from.deviceId, publicKey: v.from.publicKey });
	});
});

describe("independent client: history-offer.json", () => {
	const v = load("history-offer.json");

	it("the offer opens with both libraries to the PROTOCOL.md layout: this account, the new device, this transfer, then the key", () => {
		const body = v.transferResponse.body;
		expect(body.fromDevice).toBe(v.from.deviceId);
		expect(body.fromPublicKey).toBe(v.from.publicKey);
		expect(body.toDevice).toBe(v.to.deviceId);
		const head = `sm-history/1\n${v.accountId}\n${v.to.deviceId}\n${body.transferId}\n`;
		expect(v.plaintext.text).toBe(head);
		const box = b64u(body.box);
		expect(box).toHaveLength(130);
		const plain = openBoxBoth(
			box,
			b64u(body.nonce),
			unhex(v.from.x25519PublicKeyHex),
			unhex(v.to.x25519SecretKeyHex),
			unhex(v.to.x25519PublicKeyHex),
			unhex(v.from.x25519SecretKeyHex),
		);
		expect(plain).toHaveLength(114);
		expect(hex(plain.subarray(0, plain.length - 32))).toBe(hex(utf8(head)));
		expect(hex(plain.subarray(plain.length - 32))).toBe(v.plaintext.keyHex);
		// The approval carries the same offer.
		expect(load("identity-key.json").approveRequest.body.history).toEqual(v.offer);
	});
});

describe("independent client: message.json", () => {
	const { contactKey, messages, maxSealedTextBytes, sender } = load("message.json");
	const file = load("file.json");

	it.each<[string, Json]>(
		messages.map((m: Json) => [m.name, m]),
	)("%s: opens with both libraries to the PROTOCOL.md plaintext, whose header matches the routing fields, and re-seals to the same box", (_, m: Json) => {
		const frame = m.messageFrame;
		const key = unhex(contactKey.keyHex);
		const nonce = b64u(frame.nonce);
		const box = b64u(frame.box);
		expect(hex(nonce)).toBe(m.nonceHex);
		expect(hex(box)).toBe(m.boxHex);
		const plain = openSecretboxBoth(box, nonce, key);
		expect(hex(plain)).toBe(m.plaintext.hex);
		const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plain));
		const header = {
			id: frame.id,
			from: frame.from,
			fromDevice: frame.fromDevice,
			to: frame.to,
			keyVersion: frame.keyVersion,
			kind: frame.kind,
			sentAt: parsed.h.sentAt,
		};
		expect(JSON.stringify({ v: 1, h: header, b: parsed.b })).toBe(m.plaintext.text);
		expect(parsed.h).toEqual(m.sealedHeader);
		expect([frame.from, frame.fromDevice]).toEqual([sender.accountId, sender.deviceId]);
		// The relay's frame carries what the device sent, plus who and when.
		const { type: _sendType, ...sent } = m.sendFrame;
		const { type: _messageType, from: _from, fromDevice: _fromDevice, sentAt: _sentAt, ...relayed } = frame;
		expect(relayed).toEqual(sent);
		expect(box.length).toBe(plain.length + 16);
		expect(box.length).toBe(m.boxBytes);
		expect(box.length).toBeLessThanOrEqual(maxSealedTextBytes);
		if (frame.kind === "text") expect(Object.keys(parsed.b)).toEqual(["text"]);
		if (frame.kind === "attachment") {
			expect(parsed.b.attachment).toEqual(file.attachment);
			expect(parsed.b.attachment.id).toBe(frame.attachmentId);
			expect(parsed.b.attachment.owner).toBe(frame.from);
		}
	});
});

describe("independent client: file.json", () => {
	const v = load("file.json");

	it("opens chunk by chunk with both libraries, with nonces prefix ‖ u32be(i) ‖ u32be(last), to the file and its SHA-256", () => {
		const blob = b64u(v.blob);
		const key = unhex(v.fileKeyHex);
		const size = v.plaintext.size;
		expect(blob.length).toBe(20 + size + 16 * Math.max(1, Math.ceil(size / 65536)));
		expect(blob.length).toBe(v.sealedSize);
		expect(new TextDecoder().decode(blob.subarray(0, 4))).toBe("SMF1");
		const prefix = blob.subarray(4, 20);
		expect(hex(prefix)).toBe(v.prefixHex);
		const parts: Uint8Array[] = [];
		const layout: Json[] = [];
		for (let i = 0, at = 20, plainAt = 0; at < blob.length; i++) {
			const sealed = blob.subarray(at, Math.min(at + 65536 + 16, blob.length));
			const last = at + sealed.length === blob.length;
			const nonce = concat(prefix, u32be(i), u32be(last ? 1 : 0));
			const plain = openSecretboxBoth(sealed, nonce, key);
			if (!last) expect(plain.length).toBe(65536);
			// The last flag is in the nonce: the same chunk under the other flag does not open (a cut is caught).
			expect(nacl.secretbox.open(sealed, concat(prefix, u32be(i), u32be(last ? 0 : 1)), key)).toBeNull();
			layout.push({
				index: i,
				last,
				nonceHex: hex(nonce),
				plaintextOffset: plainAt,
				plaintextBytes: plain.length,
				sealedOffset: at,
				sealedBytes: sealed.length,
			});
			parts.push(plain);
			plainAt += plain.length;
			at += sealed.length;
		}
		expect(layout.length).toBeGreaterThanOrEqual(2);
		expect(layout).toEqual(v.chunks);
		const file = concat(...parts);
		expect(file.length).toBe(size);
		expect(file.every((b, i) => b === i % 251)).toBe(true);
		expect(hex(sha256(file))).toBe(v.plaintext.sha256Hex);
		expect(toB64u(sha256(file))).toBe(v.plaintext.sha256);
		expect(v.attachment).toMatchObject({ key: toB64u(key), size, sha256: v.plaintext.sha256 });
	});
});

describe("independent client: safety-number.json", () => {
	const v = load("safety-number.json");

	it("each side's digits and the joined number, from PROTOCOL.md's description", () => {
		for (const side of v.sides) {
			expect(hex(b64u(side.identityKey))).toBe(side.identityKeyHex);
			expect(safetyDigits(side.accountId, b64u(side.identityKey), v.iterations)).toBe(side.digits);
		}
		const [a, b] = v.sides;
		const [first, second] = textLess(a.accountId, b.accountId) ? [a, b] : [b, a];
		expect(v.safetyNumber).toBe(`${first.digits} ${second.digits}`);
		expect(v.safetyNumber).toMatch(/^\d{5}( \d{5}){11}$/);
		const reset = safetyDigits(a.accountId, b64u(v.afterAliceResets.identityKey), v.iterations);
		expect(reset).toBe(v.afterAliceResets.digits);
		expect(v.afterAliceResets.safetyNumber).toBe(textLess(a.accountId, b.accountId) ? `${reset} ${b.digits}` : `${b.digits} ${reset}`);
	});

	it("device fingerprints: the first 20 bytes of SHA-256(public key) as four groups", () => {
		for (const d of v.fingerprints.devices) {
			expect(hex(b64u(d.publicKey))).toBe(d.publicKeyHex);
			expect(groups(sha256(b64u(d.publicKey)), 4)).toBe(d.fingerprint);
		}
	});
});

describe("independent client: link-code.json", () => {
	const v = load("link-code.json");
	const signatures = load("signatures.json").vectors;

	it("the code is the handle and the secret in Crockford base32, four groups of six; every accepted spelling reads back to it", () => {
		const secret = unhex(v.secretHex);
		expect(secret).toHaveLength(15);
		expect(crockford(secret)).toBe(v.base32);
		expect(v.code).toBe(`${v.handle}-${(v.base32.match(/.{6}/g) as string[]).join("-")}`);
		for (const spelling of [{ text: v.code }, ...v.alsoAccepted]) {
			const read = readCode(spelling.text);
			expect(read.handle, spelling.text).toBe(v.handle);
			expect(hex(read.secret), spelling.text).toBe(v.secretHex);
		}
	});

	it("HKDF-SHA-256 gives the link id and the MAC key", () => {
		const okm = new Uint8Array(hkdfSync("sha256", unhex(v.secretHex), utf8(v.hkdf.saltText), utf8(v.hkdf.infoText), 48));
		expect([v.hkdf.saltText, v.hkdf.infoText]).toEqual(["sm-link/1", v.handle]);
		expect(hex(okm)).toBe(v.hkdf.okmHex);
		expect(hex(okm.subarray(0, 16))).toBe(v.hkdf.linkIdHex);
		expect(toB64u(okm.subarray(0, 16))).toBe(v.hkdf.linkId);
		expect(hex(okm.subarray(16))).toBe(v.hkdf.macKeyHex);
		expect(v.openRequest.body).toEqual({ linkId: v.hkdf.linkId });
	});

	it("the claim proof: what the approver checks before approving", () => {
		const f = v.claim.fields;
		const text = `sm-link-proof/1\n${f.handle}\n${f.linkId}\n${f.publicKey}\n${f.deviceName}`;
		expect(text).toBe(v.claim.text);
		expect(hex(utf8(text))).toBe(v.claim.hex);
		const macKey = unhex(v.hkdf.macKeyHex);
		expect(hex(hmac(macKey, text))).toBe(v.claim.proofHex);
		expect(toB64u(hmac(macKey, text))).toBe(v.claim.proof);
		// A relay that swapped in its own key or name would need the MAC key to fix the proof.
		expect(toB64u(hmac(macKey, text.replace(f.publicKey, v.confirmation.fields.identityKey)))).not.toBe(v.claim.proof);
		const body = v.claimRequest.body;
		expect(body).toEqual({
			handle: f.handle,
			linkId: f.linkId,
			deviceName: f.deviceName,
			publicKey: f.publicKey,
			signature: body.signature,
			proof: v.claim.proof,
		});
		const claim = signatures.find((s: Json) => s.name === "linkClaimMessage");
		expect(claim.signature).toBe(body.signature);
		const signed = `sm-link-claim/1\n${body.handle}\n${body.linkId}\n${body.publicKey}\n${body.deviceName}`;
		expect(verifyBoth(utf8(signed), b64u(body.signature), b64u(body.publicKey))).toEqual([true, true]);
	});

	it("the link confirmation: what the new device checks before it trusts the identity key", () => {
		const f = v.confirmation.fields;
		const text = `sm-link-confirm/1\n${v.hkdf.linkId}\n${f.accountId}\n${f.identityKey}\n${f.deviceId}\n${f.publicKey}`;
		expect(text).toBe(v.confirmation.text);
		expect(hex(utf8(text))).toBe(v.confirmation.hex);
		const mac = hmac(unhex(v.hkdf.macKeyHex), text);
		expect(hex(mac)).toBe(v.confirmation.linkConfirmHex);
		expect(toB64u(mac)).toBe(v.confirmation.linkConfirm);
		expect(f.publicKey).toBe(v.claim.fields.publicKey);
	});
});
