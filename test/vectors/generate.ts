/**
 * Builds the protocol's test vectors (common/protocol/vectors/*.json) with the project's own
 * code: signing.ts, device-list.ts, contact-key.ts, identity-key.ts, link-code.ts,
 * safety-number.ts, message-seal.ts / text-frame.ts and file-seal.ts. `npm run vectors`
 * writes them (test/vectors/run.mjs); test/node/vectors.test.ts regenerates them in-process
 * and requires exactly the committed text, and test/node/independent-vectors.test.ts checks
 * them with TweetNaCl, libsodium and node:crypto alone, from PROTOCOL.md's description.
 *
 * Determinism: the project code draws every random byte (keys, ids, nonces, link secrets,
 * file prefixes, message ids) from `crypto.getRandomValues`, and a sealed message's `sentAt`
 * from `Date.now()`. While one value is being made, and only then, `seeded()` below replaces
 * `globalThis.crypto.getRandomValues` with a deterministic byte source (SHA-256 in counter
 * mode over a label naming the value: SHA-256("sm-vectors/1\n" + label + "\n" + u32be(i)),
 * i = 0, 1, …) and `Date.now` with a fixed clock, and puts both back before it returns. No
 * project code is changed, and nothing in the output is random: the same labels give the
 * same bytes on every run and every machine.
 *
 * The vectors tell one story, so each value is also a realistic input of the next: alice
 * registers from her laptop (A1, which makes her identity key) and publishes device list v1;
 * A1 shows a link code, her phone (A2) claims it and A1 approves it with list v2 and an
 * identity envelope; bob registers (B1) with list v1 and accepts alice, wrapping contact key
 * v1 for A1, A2 and B1; A2 sends bob a text and a file; alice removes A1 (list v3,
 * lastRemoval 3), which requires contact key v2; last, alice resets her identity key (v4).
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { wrapContactKey } from "../../client/core/contact-key.ts";
import { openFileStream, sealFileStream } from "../../client/core/file-seal.ts";
import { makeHistoryOffer } from "../../client/core/history-transfer.ts";
import { type AccountIdentity, generateAccountIdentity, wrapIdentityKey } from "../../client/core/identity-key.ts";
import type { DeviceIdentity } from "../../client/core/key-store.ts";
import { claimProof, deriveLinkKeys, formatLinkCode, linkConfirmation, newLinkCode, parseLinkCode } from "../../client/core/link-code.ts";
import { deviceFingerprint, type SafetyNumberSide, safetyNumber } from "../../client/core/safety-number.ts";
import { sealBody, sealText } from "../../client/core/text-frame.ts";
import { concatBytes, fromB64u, toB64u, utf8Decode, utf8Encode } from "../../common/encoding.ts";
import { FILE_CHUNK_BYTES, HEADER_BYTES, SEALED_CHUNK_BYTES, sealedFileSize } from "../../common/file-layout.ts";
import {
	boxPublicKeyFromEd25519,
	boxSecretKeyFromSeed,
	cryptoBoxOpen,
	type DeviceKeys,
	deviceKeysFromSeed,
	generateDeviceKeys,
	randomBytes,
	secretboxOpen,
	signDetached,
} from "../../common/nacl.ts";
import { type DeviceListBody, deviceListMessage, type SignedDeviceList, signDeviceList } from "../../common/protocol/device-list.ts";
import { identityProofMessage, linkClaimMessage, loginMessage, registrationMessage } from "../../common/protocol/signing.ts";

/** The directory the vectors are published in, relative to the repository root. */
export const VECTOR_DIR = "common/protocol/vectors";

/** 2026-01-01T00:00:00Z: every clock reading in the vectors counts from here. */
const T0 = 1_767_225_600_000;

// ---------------------------------------------------------------------------------------
// The deterministic byte source

const LABEL_HEAD = utf8Encode("sm-vectors/1\n");

function u32be(n: number): Uint8Array {
	const out = new Uint8Array(4);
	new DataView(out.buffer).setUint32(0, n);
	return out;
}

/** SHA-256 in counter mode over the label: as many bytes as asked for, the same every time. */
function byteStream(label: string): (out: Uint8Array) => void {
	let block = new Uint8Array(0);
	let used = 0;
	let counter = 0;
	return (out) => {
		for (let i = 0; i < out.length; i++) {
			if (used === block.length) {
				block = sha256(concatBytes(LABEL_HEAD, utf8Encode(label), utf8Encode("\n"), u32be(counter++)));
				used = 0;
			}
			out[i] = block[used++] as number;
		}
	};
}

/**
 * Runs `make` (synchronously) with `crypto.getRandomValues` drawing from the label's byte
 * stream and `Date.now()` reading `now`, and restores both before returning.
 */
function seeded<T>(label: string, make: () => T, now = T0): T {
	// Typed loosely: test/tsconfig has no DOM lib, and only this one property is touched.
	const webCrypto = (globalThis as unknown as { crypto: object }).crypto;
	const ownRandom = Object.getOwnPropertyDescriptor(webCrypto, "getRandomValues");
	const realNow = Date.now;
	const next = byteStream(label);
	Object.defineProperty(webCrypto, "getRandomValues", {
		configurable: true,
		writable: true,
		value: <A extends ArrayBufferView | null>(array: A): A => {
			if (!(array instanceof Uint8Array)) throw new TypeError("the vector generator only fills Uint8Arrays");
			next(array);
			return array;
		},
	});
	Date.now = () => now;
	try {
		const value = make();
		if (value instanceof Promise) throw new TypeError("seeded() runs synchronous code only: the patch must not outlive the call");
		return value;
	} finally {
		Date.now = realNow;
		if (ownRandom) Object.defineProperty(webCrypto, "getRandomValues", ownRandom);
		else Reflect.deleteProperty(webCrypto, "getRandomValues");
	}
}

const B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A 16-byte id from the label's stream whose base64url text starts with `first` (its top 6 bits are fixed). */
function idStartingWith(label: string, first: string): string {
	const bytes = seeded(label, () => randomBytes(16));
	bytes[0] = (B64U.indexOf(first) << 2) | ((bytes[0] as number) & 3);
	const id = toB64u(bytes);
	if (id[0] !== first) throw new Error(`id for ${label} does not start with ${first}`);
	return id;
}

// ---------------------------------------------------------------------------------------
// Output helpers

const hex = (bytes: Uint8Array): string => bytesToHex(bytes);
const textHex = (text: string): string => hex(utf8Encode(text));

interface Device {
	label: string;
	accountId: string;
	deviceId: string;
	name: string;
	keys: DeviceKeys;
}

interface Account {
	label: string;
	accountId: string;
	handle: string;
	identity: AccountIdentity;
}

/** A device as a vector states it: its Ed25519 pair and the X25519 pair derived from it. */
function deviceKeysOf(d: Device) {
	const boxSecret = boxSecretKeyFromSeed(d.keys.seed);
	return {
		device: d.label,
		accountId: d.accountId,
		deviceId: d.deviceId,
		name: d.name,
		ed25519SeedHex: hex(d.keys.seed),
		publicKey: toB64u(d.keys.publicKey),
		publicKeyHex: hex(d.keys.publicKey),
		x25519PublicKeyHex: hex(boxPublicKeyFromEd25519(d.keys.publicKey)),
		x25519SecretKeyHex: hex(boxSecret),
	};
}

function identityOf(a: Account) {
	return {
		account: a.label,
		accountId: a.accountId,
		handle: a.handle,
		ed25519SeedHex: hex(a.identity.seed),
		identityKey: toB64u(a.identity.publicKey),
		identityKeyHex: hex(a.identity.publicKey),
	};
}

/**
 * JSON as biome formats it (tabs, one member per line), which the project's lint requires of
 * the committed files. Biome would pull an array of plain values onto one line, so the
 * vectors have none: every non-empty array holds objects.
 */
export function toJsonText(value: unknown): string {
	const check = (v: unknown, path: string): void => {
		if (Array.isArray(v)) {
			v.forEach((item, i) => {
				if (typeof item !== "object" || item === null || Array.isArray(item))
					throw new TypeError(`${path}[${i}]: arrays hold objects only`);
				check(item, `${path}[${i}]`);
			});
		} else if (typeof v === "object" && v !== null) {
			for (const [k, item] of Object.entries(v)) check(item, `${path}.${k}`);
		} else if (typeof v === "number" && !Number.isSafeInteger(v)) {
			throw new TypeError(`${path}: numbers are safe integers`);
		}
	};
	check(value, "$");
	return `${JSON.stringify(value, null, "\t")}\n`;
}

// ---------------------------------------------------------------------------------------
// The vectors

/** Every vector file: name → JSON text, exactly as committed. */
export async function generateVectors(): Promise<Map<string, string>> {
	// Accounts and devices. alice's id starts with "a" and bob's with "0": as base64url text
	// bob's comes first ("0" is 0x30, "a" is 0x61), as decoded bytes alice's (0x69… < 0xd3…).
	const alice: Account = {
		label: "alice",
		accountId: idStartingWith("alice account id", "a"),
		handle: "alice",
		identity: seeded("alice identity key", generateAccountIdentity),
	};
	const bob: Account = {
		label: "bob",
		accountId: idStartingWith("bob account id", "0"),
		handle: "bob",
		identity: seeded("bob identity key", generateAccountIdentity),
	};
	// A1 starts with "Q" and A2 with "7": A2 comes first in the canonical (text) order, A1 in byte order.
	const a1: Device = {
		label: "A1",
		accountId: alice.accountId,
		deviceId: idStartingWith("A1 device id", "Q"),
		name: "Alice’s laptop",
		keys: seeded("A1 device key", generateDeviceKeys),
	};
	const a2: Device = {
		label: "A2",
		accountId: alice.accountId,
		deviceId: idStartingWith("A2 device id", "7"),
		name: "Alice’s phone",
		keys: seeded("A2 device key", generateDeviceKeys),
	};
	const b1: Device = {
		label: "B1",
		accountId: bob.accountId,
		deviceId: idStartingWith("B1 device id", "k"),
		name: "Bob’s tablet",
		keys: seeded("B1 device key", generateDeviceKeys),
	};
	const aliceReset: AccountIdentity = seeded("alice identity key after reset", generateAccountIdentity);
	const b64 = (bytes: Uint8Array) => toB64u(bytes);
	const listed = (d: Device) => ({ deviceId: d.deviceId, publicKey: b64(d.keys.publicKey) });

	// --- signed strings -----------------------------------------------------------------
	const signed = (name: string, builder: string, signer: string, seed: Uint8Array, fields: object, bytes: Uint8Array) => {
		const text = utf8Decode(bytes);
		const signature = b64(signDetached(seed, bytes));
		const publicKey = b64(deviceKeysFromSeed(seed).publicKey);
		return { name, builder, signer, fields, text, hex: hex(bytes), signerSeedHex: hex(seed), publicKey, signature };
	};

	const registration = (a: Account, d: Device) => {
		const fields = { handle: a.handle, publicKey: b64(d.keys.publicKey), deviceName: d.name, identityKey: b64(a.identity.publicKey) };
		const reg = signed(
			"registrationMessage",
			"signing.ts registrationMessage(handle, publicKey, deviceName, identityKey)",
			`${d.label} (${a.handle}'s first device)`,
			d.keys.seed,
			fields,
			registrationMessage(fields.handle, fields.publicKey, fields.deviceName, fields.identityKey),
		);
		const proofFields = { handle: a.handle, identityKey: fields.identityKey, publicKey: fields.publicKey };
		const proof = signed(
			"identityProofMessage",
			"signing.ts identityProofMessage(handle, identityKey, publicKey)",
			`${a.handle}'s identity key`,
			a.identity.seed,
			proofFields,
			identityProofMessage(proofFields.handle, proofFields.identityKey, proofFields.publicKey),
		);
		const request = {
			handle: a.handle,
			deviceName: d.name,
			publicKey: fields.publicKey,
			signature: reg.signature,
			identityKey: fields.identityKey,
			identitySignature: proof.signature,
		};
		return { reg, proof, request };
	};
	const aliceReg = registration(alice, a1);
	const bobReg = registration(bob, b1);

	const challenge = seeded("login challenge", () => `${b64(randomBytes(16))}.${T0 + 60_000}.${b64(randomBytes(32))}`);
	const login = signed("loginMessage", "signing.ts loginMessage(challenge)", "A1", a1.keys.seed, { challenge }, loginMessage(challenge));

	// --- the link code ------------------------------------------------------------------
	// The label is the first whose code has both a 0 and a 1, so the vector shows the look-alike letters.
	const code = seeded("alice link code 4", () => newLinkCode(alice.handle));
	const formatted = formatLinkCode(code);
	const groups = formatted.slice(alice.handle.length + 1);
	const linkKeys = deriveLinkKeys(parseLinkCode(formatted));
	const claimFields = { handle: alice.handle, linkId: linkKeys.linkId, publicKey: b64(a2.keys.publicKey), deviceName: a2.name };
	const claim = signed(
		"linkClaimMessage",
		"signing.ts linkClaimMessage(handle, linkId, publicKey, deviceName)",
		"A2 (the new device)",
		a2.keys.seed,
		claimFields,
		linkClaimMessage(claimFields.handle, claimFields.linkId, claimFields.publicKey, claimFields.deviceName),
	);
	const proof = claimProof(linkKeys, { handle: alice.handle, publicKey: claimFields.publicKey, deviceName: a2.name });
	const confirmFields = {
		accountId: alice.accountId,
		identityKey: b64(alice.identity.publicKey),
		deviceId: a2.deviceId,
		publicKey: claimFields.publicKey,
	};
	const confirm = linkConfirmation(linkKeys, confirmFields);
	// The MAC inputs are stated in the vector, so they are checked against what link-code.ts MACs.
	expectMac(linkKeys.macKey, proofText(alice.handle, linkKeys.linkId, claimFields.publicKey, a2.name), proof, "claim proof");
	expectMac(linkKeys.macKey, confirmText(linkKeys.linkId, confirmFields), confirm, "link confirmation");

	// --- device lists -------------------------------------------------------------------
	const aliceV1 = signDeviceList(
		{ accountId: alice.accountId, version: 1, lastRemoval: 0, identityKey: b64(alice.identity.publicKey), devices: [listed(a1)] },
		alice.identity.seed,
	);
	const aliceV2 = signDeviceList({ ...body(aliceV1), version: 2, devices: [listed(a1), listed(a2)] }, alice.identity.seed);
	const aliceV3 = signDeviceList({ ...body(aliceV2), version: 3, lastRemoval: 3, devices: [listed(a2)] }, alice.identity.seed);
	const aliceV4 = signDeviceList({ ...body(aliceV3), version: 4, identityKey: b64(aliceReset.publicKey) }, aliceReset.seed);
	const bobV1 = signDeviceList(
		{ accountId: bob.accountId, version: 1, lastRemoval: 0, identityKey: b64(bob.identity.publicKey), devices: [listed(b1)] },
		bob.identity.seed,
	);
	const listVector = (name: string, event: string, list: SignedDeviceList, request: { route: string; body: unknown }) => {
		const bytes = deviceListMessage(list);
		return { name, event, text: utf8Decode(bytes), hex: hex(bytes), deviceList: list, request };
	};

	// --- identity envelope (A1 → A2, on approval) -----------------------------------------
	const identityEnvelope = seeded("identity envelope A1 to A2", () =>
		wrapIdentityKey({ accountId: alice.accountId, identity: alice.identity, senderSeed: a1.keys.seed, targetPublicKey: a2.keys.publicKey }),
	);
	const identityHead = `sm-identity-key/1\n${alice.accountId}\n${b64(alice.identity.publicKey)}\n`;
	expectOpens(identityEnvelope, a1, a2, concatBytes(utf8Encode(identityHead), alice.identity.seed), "identity envelope");

	// --- history offer (A1 → A2, in the same approval) -----------------------------------
	const history = seeded("history offer A1 to A2", () =>
		makeHistoryOffer({ accountId: alice.accountId, seed: a1.keys.seed }, { deviceId: a2.deviceId, publicKey: b64(a2.keys.publicKey) }),
	);
	const historyHead = `sm-history/1\n${alice.accountId}\n${a2.deviceId}\n${history.offer.transferId}\n`;
	expectOpens(history.offer, a1, a2, concatBytes(utf8Encode(historyHead), history.key), "history offer");

	// --- contact key v1 (bob's B1 accepts alice) and v2 (after A1 is removed) -----------
	const pair: [string, string] = [bob.accountId, alice.accountId];
	const contactKey1 = seeded("contact key v1", () => randomBytes(32));
	const contactKey2 = seeded("contact key v2", () => randomBytes(32));
	const lists1 = { [alice.accountId]: aliceV2.version, [bob.accountId]: bobV1.version };
	const lists2 = { [alice.accountId]: aliceV3.version, [bob.accountId]: bobV1.version };
	const [lo, hi] = alice.accountId < bob.accountId ? [alice, bob] : [bob, alice];
	const contactHead = (version: number, lists: Record<string, number>) =>
		`sm-contact-key/2\n${lo.accountId}\n${hi.accountId}\n${version}\n${lists[lo.accountId]}\n${lists[hi.accountId]}\n`;
	const envelopeVector = (version: number, lists: Record<string, number>, key: Uint8Array, from: Device, to: Device) => {
		const wrapped = seeded(`contact key v${version} envelope ${from.label} to ${to.label}`, () =>
			wrapContactKey({ accounts: pair, version, lists, key, senderSeed: from.keys.seed, targetPublicKey: to.keys.publicKey }),
		);
		expectOpens(
			wrapped,
			from,
			to,
			concatBytes(utf8Encode(contactHead(version, lists)), key),
			`contact key v${version} ${from.label} → ${to.label}`,
		);
		return {
			from: from.label,
			to: to.label,
			nonceHex: hex(fromB64u(wrapped.nonce)),
			boxHex: hex(fromB64u(wrapped.box)),
			upload: { accountId: to.accountId, deviceId: to.deviceId, nonce: wrapped.nonce, box: wrapped.box },
			download: {
				keyVersion: version,
				fromAccount: from.accountId,
				fromDevice: from.deviceId,
				fromPublicKey: b64(from.keys.publicKey),
				nonce: wrapped.nonce,
				box: wrapped.box,
			},
		};
	};
	const keyVersion = (version: number, lists: Record<string, number>, key: Uint8Array, from: Device, targets: Device[]) => {
		const head = contactHead(version, lists);
		return {
			keyVersion: version,
			lists,
			keyHex: hex(key),
			plaintext: { text: head, textHex: textHex(head), keyHex: hex(key), hex: hex(concatBytes(utf8Encode(head), key)) },
			envelopes: targets.map((to) => envelopeVector(version, lists, key, from, to)),
		};
	};
	const v1 = keyVersion(1, lists1, contactKey1, b1, [a1, a2, b1]);
	const v2 = keyVersion(2, lists2, contactKey2, a2, [a2, b1]);
	// The approval of A2 came before bob's accept, so alice's approve body carries no contact keys.
	const approveBody = {
		deviceList: aliceV2,
		identityEnvelope,
		linkConfirm: confirm,
		envelopes: [],
		history: history.offer,
	};

	// --- sealed messages (A2 to bob, under contact key v1) --------------------------------
	const a2Identity: DeviceIdentity = {
		seed: a2.keys.seed,
		publicKey: a2.keys.publicKey,
		accountId: alice.accountId,
		deviceId: a2.deviceId,
		handle: alice.handle,
	};
	const sentAt = T0 + 3_600_000;
	const textMessage = seeded(
		"text message",
		() => sealText(a2Identity, bob.accountId, { version: 1, key: contactKey1 }, "Hello, Bob! 👋"),
		sentAt,
	);

	// --- sealed file ------------------------------------------------------------------------
	const fileSize = FILE_CHUNK_BYTES + 1000;
	const filePlain = Uint8Array.from({ length: fileSize }, (_, i) => i % 251);
	const fileKey = seeded("file key", () => randomBytes(32));
	const sealing = seeded("file nonce prefix", () => sealFileStream(fileKey, streamOf(filePlain)));
	const blob = await readAll(sealing.stream);
	const fileDigest = await sealing.digest;
	const reopened = openFileStream(fileKey, streamOf(blob), fileDigest);
	const reopenedPlain = await readAll(reopened.stream);
	if (hex(reopenedPlain) !== hex(filePlain)) throw new Error("file-seal did not give back the file");
	const attachmentId = seeded("attachment id", () => b64(randomBytes(16)));
	const attachment = {
		id: attachmentId,
		owner: alice.accountId,
		key: b64(fileKey),
		size: fileSize,
		type: "application/octet-stream",
		name: "pattern.bin",
		sha256: fileDigest.sha256,
	};
	const attachmentMessage = seeded(
		"attachment message",
		() => sealBody(a2Identity, bob.accountId, { version: 1, key: contactKey1 }, { kind: "attachment", body: { attachment }, attachmentId }),
		sentAt + 60_000,
	);
	const chunks: {
		index: number;
		last: boolean;
		nonceHex: string;
		plaintextOffset: number;
		plaintextBytes: number;
		sealedOffset: number;
		sealedBytes: number;
	}[] = [];
	for (let i = 0, plainAt = 0, sealedAt = HEADER_BYTES; sealedAt < blob.length; i++) {
		const sealedBytes = Math.min(SEALED_CHUNK_BYTES, blob.length - sealedAt);
		const last = sealedAt + sealedBytes === blob.length;
		const nonce = concatBytes(blob.subarray(4, HEADER_BYTES), u32be(i), u32be(last ? 1 : 0));
		const opened = secretboxOpen(fileKey, nonce, blob.subarray(sealedAt, sealedAt + sealedBytes));
		chunks.push({
			index: i,
			last,
			nonceHex: hex(nonce),
			plaintextOffset: plainAt,
			plaintextBytes: opened.length,
			sealedOffset: sealedAt,
			sealedBytes,
		});
		plainAt += opened.length;
		sealedAt += sealedBytes;
	}

	const messageVector = (name: string, sealed: { frame: Record<string, unknown> & { nonce: string; box: string }; sentAt: number }) => {
		const plaintext = secretboxOpen(contactKey1, fromB64u(sealed.frame.nonce), fromB64u(sealed.frame.box));
		const text = utf8Decode(plaintext);
		const { type: _type, ...routing } = sealed.frame;
		return {
			name,
			sealedHeader: (JSON.parse(text) as { h: unknown }).h,
			plaintext: { text, hex: hex(plaintext) },
			nonceHex: hex(fromB64u(sealed.frame.nonce)),
			boxHex: hex(fromB64u(sealed.frame.box)),
			boxBytes: fromB64u(sealed.frame.box).length,
			sendFrame: sealed.frame,
			messageFrame: {
				type: "message",
				...routing,
				from: alice.accountId,
				fromDevice: a2.deviceId,
				sentAt: sealed.sentAt + 250,
			},
		};
	};

	// --- assemble ---------------------------------------------------------------------------
	const files = new Map<string, unknown>();
	files.set("signatures.json", {
		description:
			"Every string a key signs (common/protocol/signing.ts and device-list.ts): the exact UTF-8 text, its bytes in hex, the signer's Ed25519 public key (base64url, as on the wire) and the Ed25519 signature (base64url). signerSeedHex is the signer's 32-byte seed: Ed25519 (RFC 8032) is deterministic, so signing hex with it gives signature again. `request` is the HTTP body that carries the signature.",
		vectors: [
			{ ...aliceReg.reg, request: { route: "POST /api/accounts", body: aliceReg.request } },
			{ ...aliceReg.proof, request: { route: "POST /api/accounts", body: aliceReg.request } },
			{ ...bobReg.reg, request: { route: "POST /api/accounts", body: bobReg.request } },
			{ ...bobReg.proof, request: { route: "POST /api/accounts", body: bobReg.request } },
			{
				...login,
				request: { route: "POST /api/auth/session", body: { publicKey: b64(a1.keys.publicKey), challenge, signature: login.signature } },
			},
			{
				...claim,
				request: {
					route: "POST /api/devices/link",
					body: {
						handle: alice.handle,
						linkId: linkKeys.linkId,
						deviceName: a2.name,
						publicKey: claimFields.publicKey,
						signature: claim.signature,
						proof,
					},
				},
			},
			{
				name: "deviceListMessage",
				builder: "device-list.ts deviceListMessage(list)",
				signer: "alice's identity key",
				fields: body(aliceV2),
				text: utf8Decode(deviceListMessage(aliceV2)),
				hex: hex(deviceListMessage(aliceV2)),
				signerSeedHex: hex(alice.identity.seed),
				publicKey: aliceV2.identityKey,
				signature: aliceV2.signature,
				request: { route: "POST /api/devices/:deviceId/approve", body: { deviceList: aliceV2 } },
			},
		],
	});
	files.set("device-list.json", {
		description:
			"Signed device lists (common/protocol/device-list.ts) through an account's life. text/hex are the signed bytes, deviceList the list exactly as on the wire (devices in canonical order: by deviceId, plain string comparison of the base64url text), request the body that publishes it.",
		identityKeys: [
			identityOf(alice),
			identityOf(bob),
			{ ...identityOf({ ...alice, identity: aliceReset }), account: "alice after her identity reset" },
		],
		devices: [deviceKeysOf(a1), deviceKeysOf(a2), deviceKeysOf(b1)],
		canonicalOrder: {
			note: 'A1 was added first and its id is smaller as decoded bytes, but A2\'s id is smaller as base64url text ("7" < "Q"), so A2 is listed first.',
			a1: { deviceId: a1.deviceId, idHex: hex(fromB64u(a1.deviceId)) },
			a2: { deviceId: a2.deviceId, idHex: hex(fromB64u(a2.deviceId)) },
		},
		lists: [
			listVector("alice v1", "the first list, published by A1 right after registration", aliceV1, {
				route: "POST /api/devices/list",
				body: { deviceList: aliceV1 },
			}),
			listVector("alice v2", "A1 approves A2 (lastRemoval stays 0)", aliceV2, {
				route: `POST /api/devices/${a2.deviceId}/approve`,
				body: approveBody,
			}),
			listVector("alice v3", "A2 removes A1 (lastRemoval = version = 3)", aliceV3, {
				route: `POST /api/devices/${a1.deviceId}/revoke`,
				body: { deviceList: aliceV3 },
			}),
			listVector(
				"alice v4",
				"A2 resets alice's identity key (new identityKey, version + 1, lastRemoval unchanged; no other approved device, so no identity envelopes)",
				aliceV4,
				{
					route: "POST /api/devices/list",
					body: { deviceList: aliceV4, identityEnvelopes: [] },
				},
			),
			listVector("bob v1", "the first list, published by B1 right after registration", bobV1, {
				route: "POST /api/devices/list",
				body: { deviceList: bobV1 },
			}),
		],
		rotation: {
			note: "Contact key v1 was shared under alice v2 and bob v1 (its envelopes say so). alice v3 has lastRemoval 3 > 2, so the key must be replaced (contact key v2, shared under alice v3 and bob v1). alice v4 has lastRemoval 3, not above 3, so v2 stays.",
			contactKeyVersion: 1,
			envelopeLists: lists1,
			newList: { accountId: alice.accountId, version: aliceV3.version, lastRemoval: aliceV3.lastRemoval },
			rotate: aliceV3.lastRemoval > (lists1[alice.accountId] as number),
			thenContactKeyVersion: 2,
			thenEnvelopeLists: lists2,
			afterReset: { accountId: alice.accountId, version: aliceV4.version, lastRemoval: aliceV4.lastRemoval },
			rotateAgain: aliceV4.lastRemoval > (lists2[alice.accountId] as number),
		},
	});
	files.set("contact-key.json", {
		description:
			'Contact-key envelopes v2 (client/core/contact-key.ts): crypto_box (X25519-XSalsa20-Poly1305) from the wrapping device to the target device, both X25519 keys derived from their Ed25519 keys. plaintext = "sm-contact-key/2\\n" + lo + "\\n" + hi + "\\n" + keyVersion + "\\n" + lists[lo] + "\\n" + lists[hi] + "\\n" ‖ the 32-byte key.',
		accounts: {
			alice: { accountId: alice.accountId, idHex: hex(fromB64u(alice.accountId)) },
			bob: { accountId: bob.accountId, idHex: hex(fromB64u(bob.accountId)) },
		},
		order: {
			rule: "lo/hi are the two account ids ordered by their base64url TEXT, plain code-unit comparison (as JavaScript's < on strings, or strcmp on the ASCII bytes of the text). Not by the decoded 16 bytes: for this pair the two orders differ.",
			byText: { lo: lo.accountId, hi: hi.accountId },
			byDecodedBytes: {
				lo: compareBytes(fromB64u(alice.accountId), fromB64u(bob.accountId)) < 0 ? alice.accountId : bob.accountId,
				hi: compareBytes(fromB64u(alice.accountId), fromB64u(bob.accountId)) < 0 ? bob.accountId : alice.accountId,
			},
		},
		devices: [deviceKeysOf(a1), deviceKeysOf(a2), deviceKeysOf(b1)],
		versions: [
			{
				...v1,
				note: "B1 accepts alice's request: one envelope per device of alice v2 and bob v1",
				request: {
					route: `POST /api/contacts/${alice.accountId}/accept`,
					body: { keyVersion: 1, envelopes: v1.envelopes.map((e) => e.upload) },
				},
			},
			{
				...v2,
				note: "A2 rotates after alice v3 removed A1: one envelope per device of alice v3 and bob v1",
				request: {
					route: `POST /api/contacts/${bob.accountId}/rotate`,
					body: { keyVersion: 2, envelopes: v2.envelopes.map((e) => e.upload) },
				},
			},
		],
	});
	files.set("identity-key.json", {
		description:
			'An identity envelope (client/core/identity-key.ts): alice\'s identity key wrapped by A1 for A2 when A1 approves A2. crypto_box from A1\'s X25519 key to A2\'s; plaintext = "sm-identity-key/1\\n" + accountId + "\\n" + identityKey + "\\n" ‖ the 32-byte identity seed (117 bytes; the box is 133).',
		identity: identityOf(alice),
		from: deviceKeysOf(a1),
		to: deviceKeysOf(a2),
		plaintext: {
			text: identityHead,
			textHex: textHex(identityHead),
			seedHex: hex(alice.identity.seed),
			hex: hex(concatBytes(utf8Encode(identityHead), alice.identity.seed)),
		},
		nonceHex: hex(fromB64u(identityEnvelope.nonce)),
		boxHex: hex(fromB64u(identityEnvelope.box)),
		approveRequest: { route: `POST /api/devices/${a2.deviceId}/approve`, body: approveBody },
		identityResponse: {
			route: "GET /api/devices/identity (by A2)",
			body: {
				fromDevice: a1.deviceId,
				fromPublicKey: b64(a1.keys.publicKey),
				nonce: identityEnvelope.nonce,
				box: identityEnvelope.box,
				linkConfirm: confirm,
			},
		},
	});
	files.set("history-offer.json", {
		description:
			'A history offer (client/core/history-transfer.ts): the one-time key of the history archive, sealed by A1 for A2 in the approval\'s `history`. crypto_box from A1\'s X25519 key to A2\'s; plaintext = "sm-history/1\\n" + accountId + "\\n" + A2\'s device id + "\\n" + transferId + "\\n" ‖ the 32-byte archive key (114 bytes; the box is 130). The archive is sealed under that key as file.json seals a file.',
		accountId: alice.accountId,
		from: deviceKeysOf(a1),
		to: deviceKeysOf(a2),
		plaintext: {
			text: historyHead,
			textHex: textHex(historyHead),
			keyHex: hex(history.key),
			hex: hex(concatBytes(utf8Encode(historyHead), history.key)),
		},
		offer: history.offer,
		transferResponse: {
			route: "GET /api/devices/history (by A2), one of transfers",
			body: { ...history.offer, fromDevice: a1.deviceId, fromPublicKey: b64(a1.keys.publicKey), toDevice: a2.deviceId },
		},
	});
	files.set("message.json", {
		description:
			'Sealed messages (client/core/message-seal.ts, text-frame.ts): secretbox (XSalsa20-Poly1305) under the contact key; plaintext = the UTF-8 JSON {"v":1,"h":header,"b":body} with the header\'s members in the order id, from, fromDevice, to, keyVersion, kind, sentAt. The relay refuses a box (tag included) longer than maxSealedTextBytes (GET /api/limits; 65536 by default) as too_large.',
		contactKey: { keyVersion: 1, keyHex: hex(contactKey1), between: { alice: alice.accountId, bob: bob.accountId } },
		sender: { accountId: alice.accountId, deviceId: a2.deviceId },
		maxSealedTextBytes: 65536,
		messages: [messageVector("text", textMessage), messageVector("attachment (the file of file.json)", attachmentMessage)],
	});
	files.set("file.json", {
		description:
			'A sealed file (client/core/file-seal.ts): blob = "SMF1" ‖ prefix (16 bytes) ‖ chunk₀ ‖ chunk₁ ‖ …; chunkᵢ = secretbox(fileKey, nonce = prefix ‖ u32be(i) ‖ u32be(last ? 1 : 0), plaintextᵢ); every chunk but the last holds 65536 plaintext bytes.',
		plaintext: {
			rule: "byte i of the file is i mod 251",
			size: fileSize,
			sha256Hex: hex(fromB64u(fileDigest.sha256)),
			sha256: fileDigest.sha256,
		},
		fileKeyHex: hex(fileKey),
		prefixHex: hex(blob.subarray(4, HEADER_BYTES)),
		sealedSize: sealedFileSize(fileSize),
		chunks,
		blob: b64(blob),
		attachment,
	});
	const aliceSide = { accountId: alice.accountId, identityKey: alice.identity.publicKey };
	const bobSide = { accountId: bob.accountId, identityKey: bob.identity.publicKey };
	const resetSide = { accountId: alice.accountId, identityKey: aliceReset.publicKey };
	files.set("safety-number.json", {
		description:
			'Safety number v2 (client/core/safety-number.ts) over the two accounts\' identity keys, and device fingerprints. Each side: h₀ = SHA-512("sm-safety-number/2" ‖ u32be(byte length of accountId) ‖ accountId (UTF-8) ‖ identityKey (32 bytes)); hᵢ₊₁ = SHA-512(hᵢ ‖ h₀[0..32]) for i = 0 … 1023; the first 30 bytes of h₁₀₂₄ as six 5-byte big-endian numbers mod 100000, zero-padded to 5 digits. The sides are joined in account-id order (base64url text, plain code-unit comparison), 12 groups separated by single spaces.',
		iterations: 1024,
		sides: [
			{
				accountId: alice.accountId,
				identityKey: b64(alice.identity.publicKey),
				identityKeyHex: hex(alice.identity.publicKey),
				digits: sideDigitsOf(aliceSide, bobSide),
			},
			{
				accountId: bob.accountId,
				identityKey: b64(bob.identity.publicKey),
				identityKeyHex: hex(bob.identity.publicKey),
				digits: sideDigitsOf(bobSide, aliceSide),
			},
		],
		safetyNumber: safetyNumber(aliceSide, bobSide),
		note: "bob's id comes first as text, so his digits come first; both sides compute the same number whichever side they call a.",
		afterAliceResets: {
			identityKey: b64(aliceReset.publicKey),
			identityKeyHex: hex(aliceReset.publicKey),
			digits: sideDigitsOf(resetSide, bobSide),
			safetyNumber: safetyNumber(resetSide, bobSide),
		},
		fingerprints: {
			description:
				"deviceFingerprint(publicKey): the first 20 bytes of SHA-256(the 32-byte Ed25519 public key) as four 5-byte big-endian numbers mod 100000, zero-padded, separated by single spaces.",
			devices: [a1, a2, b1].map((d) => ({
				device: d.label,
				publicKey: b64(d.keys.publicKey),
				publicKeyHex: hex(d.keys.publicKey),
				fingerprint: deviceFingerprint(d.keys.publicKey),
			})),
		},
	});
	files.set("link-code.json", {
		description:
			'A link code (client/core/link-code.ts) from its secret to the claim proof and the link confirmation. code = handle + "-" + the 15-byte secret in Crockford base32 (alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ, 24 characters, no padding) in four dash-separated groups of six. okm = HKDF-SHA-256(ikm = secret, salt = "sm-link/1", info = handle, 48 bytes); linkId = base64url(okm[0..16]); macKey = okm[16..48]. proof = HMAC-SHA-256(macKey, "sm-link-proof/1\\n" + handle + "\\n" + linkId + "\\n" + publicKey + "\\n" + deviceName); linkConfirm = HMAC-SHA-256(macKey, "sm-link-confirm/1\\n" + linkId + "\\n" + accountId + "\\n" + identityKey + "\\n" + deviceId + "\\n" + publicKey).',
		handle: alice.handle,
		secretHex: hex(code.secret),
		base32: groups.replaceAll("-", ""),
		code: formatted,
		alsoAccepted: [
			{ text: `@${formatted.toLowerCase()}`, note: "an @ before the handle, lower case" },
			{
				text: `${alice.handle.toUpperCase()}-${groups.replaceAll("0", "O").replace("1", "I").replaceAll("1", "L")}`,
				note: "upper case, O for 0, I and L for 1",
			},
			{ text: `  ${alice.handle}-${groups.replaceAll("-", " ")}  `, note: "spaces around the code and between the groups" },
			{ text: `${alice.handle}-${groups.replaceAll("-", "")}`, note: "the groups run together" },
		],
		hkdf: {
			saltText: "sm-link/1",
			infoText: alice.handle,
			okmHex: hex(concatBytes(fromB64u(linkKeys.linkId), linkKeys.macKey)),
			linkIdHex: hex(fromB64u(linkKeys.linkId)),
			linkId: linkKeys.linkId,
			macKeyHex: hex(linkKeys.macKey),
		},
		openRequest: { route: "POST /api/devices/links (by A1)", body: { linkId: linkKeys.linkId } },
		claim: {
			fields: { handle: alice.handle, linkId: linkKeys.linkId, publicKey: claimFields.publicKey, deviceName: a2.name },
			text: proofText(alice.handle, linkKeys.linkId, claimFields.publicKey, a2.name),
			hex: textHex(proofText(alice.handle, linkKeys.linkId, claimFields.publicKey, a2.name)),
			proofHex: hex(fromB64u(proof)),
			proof,
		},
		claimRequest: {
			route: "POST /api/devices/link (by A2, no token)",
			body: {
				handle: alice.handle,
				linkId: linkKeys.linkId,
				deviceName: a2.name,
				publicKey: claimFields.publicKey,
				signature: claim.signature,
				proof,
			},
		},
		confirmation: {
			fields: confirmFields,
			text: confirmText(linkKeys.linkId, confirmFields),
			hex: textHex(confirmText(linkKeys.linkId, confirmFields)),
			linkConfirmHex: hex(fromB64u(confirm)),
			linkConfirm: confirm,
		},
	});

	const out = new Map<string, string>();
	for (const [name, value] of files) out.set(name, toJsonText(value));
	return out;
}

// ---------------------------------------------------------------------------------------
// Small helpers

/** The plaintext a vector states must be what the box holds (the project's own open). */
function expectOpens(wrapped: { nonce: string; box: string }, from: Device, to: Device, plaintext: Uint8Array, what: string): void {
	const secret = boxSecretKeyFromSeed(to.keys.seed);
	const opened = cryptoBoxOpen(fromB64u(wrapped.box), fromB64u(wrapped.nonce), boxPublicKeyFromEd25519(from.keys.publicKey), secret);
	if (hex(opened) !== hex(plaintext)) throw new Error(`${what}: the stated plaintext is not what the box holds`);
}

function expectMac(key: Uint8Array, text: string, mac: string, what: string): void {
	if (toB64u(hmac(sha256, key, utf8Encode(text))) !== mac) throw new Error(`${what}: the stated MAC input is not what link-code.ts MACs`);
}

/** One side's 30 digits, as safetyNumber() puts them: the side whose account id is smaller as text comes first. */
function sideDigitsOf(side: SafetyNumberSide, other: SafetyNumberSide): string {
	const groups = safetyNumber(side, other).split(" ");
	return (side.accountId < other.accountId ? groups.slice(0, 6) : groups.slice(6)).join(" ");
}

function body(list: SignedDeviceList): DeviceListBody {
	const { signature: _signature, ...rest } = list;
	return rest;
}

function proofText(handle: string, linkId: string, publicKey: string, deviceName: string): string {
	return `sm-link-proof/1\n${handle}\n${linkId}\n${publicKey}\n${deviceName}`;
}

function confirmText(linkId: string, c: { accountId: string; identityKey: string; deviceId: string; publicKey: string }): string {
	return `sm-link-confirm/1\n${linkId}\n${c.accountId}\n${c.identityKey}\n${c.deviceId}\n${c.publicKey}`;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
	for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
	return a.length - b.length;
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
	return new ReadableStream({
		start(controller) {
			// In uneven pieces, as a real source would deliver them.
			for (let at = 0; at < bytes.length; at += 10_007) controller.enqueue(bytes.slice(at, at + 10_007));
			controller.close();
		},
	});
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	const parts: Uint8Array[] = [];
	for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
	return concatBytes(...parts);
}
