// The published test vectors (common/protocol/vectors/*.json) stay what the code does:
// regenerating them in-process gives exactly the committed text (`npm run vectors` rewrites
// them after a deliberate change), and the project's own open/verify functions accept them
// and refuse them once tampered with. test/node/independent-vectors.test.ts checks the same
// files without any project code.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { orderedPair, unwrapContactKey } from "../../client/core/contact-key.ts";
import { openFileStream } from "../../client/core/file-seal.ts";
import { openHistoryOffer } from "../../client/core/history-transfer.ts";
import { unwrapIdentityKey } from "../../client/core/identity-key.ts";
import { claimProof, deriveLinkKeys, formatLinkCode, linkConfirmation, macMatches, parseLinkCode } from "../../client/core/link-code.ts";
import { readBody } from "../../client/core/message-body.ts";
import { openMessage } from "../../client/core/message-seal.ts";
import { deviceFingerprint, safetyNumber } from "../../client/core/safety-number.ts";
import { fromB64u, toB64u, utf8Encode } from "../../common/encoding.ts";
import { sealedFileSize } from "../../common/file-layout.ts";
import { boxPublicKeyFromEd25519, boxSecretKeyFromSeed, deviceKeysFromSeed, verifyDetached } from "../../common/nacl.ts";
import {
	deviceListMessage,
	hasValidSignature,
	isCanonical,
	type ListedDevice,
	type SignedDeviceList,
	sameDevices,
	sortDevices,
} from "../../common/protocol/device-list.ts";
import { identityProofMessage, linkClaimMessage, loginMessage, registrationMessage } from "../../common/protocol/signing.ts";
import {
	acceptRequest,
	approveDeviceRequest,
	claimLinkRequest,
	clientFrame,
	envelope,
	historyTransfer,
	identityEnvelope,
	openLinkRequest,
	publishDeviceListRequest,
	registerRequest,
	revokeDeviceRequest,
	rotateRequest,
	serverFrame,
	sessionRequest,
	signedDeviceList,
} from "../../common/protocol/wire.ts";
import { expectCryptoError } from "../support/expect-crypto-error.ts";
import { generateVectors, VECTOR_DIR } from "../vectors/generate.ts";

// Taken before the generator first runs: it must put both back.
const REAL_RANDOM = crypto.getRandomValues;
const REAL_NOW = Date.now;
const ROOT = path.resolve(import.meta.dirname, "../..");
const DIR = path.join(ROOT, VECTOR_DIR);
const load = (name: string): any => JSON.parse(readFileSync(path.join(DIR, name), "utf8"));
const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
/** The same base64url value with one bit of its first byte flipped. */
const flipBit = (s: string): string => toB64u(fromB64u(s).map((b, i) => (i === 0 ? b ^ 1 : b)));

type Json = any;
const seedOf = (devices: Json[], label: string): Uint8Array => hex(devices.find((d) => d.device === label).ed25519SeedHex);

describe("test vectors: regenerated in-process", () => {
	let generated: Map<string, string>;
	beforeAll(async () => {
		generated = await generateVectors();
	});

	it("gives exactly the committed files, and the directory holds no others", () => {
		const committed = readdirSync(DIR).filter((name) => name.endsWith(".json"));
		expect(committed.sort()).toEqual([...generated.keys()].sort());
		for (const [name, text] of generated) expect(readFileSync(path.join(DIR, name), "utf8"), name).toBe(text);
	});

	it("gives the same bytes twice, and leaves crypto.getRandomValues and Date.now as they were", async () => {
		const again = await generateVectors();
		expect([...again.entries()]).toEqual([...generated.entries()]);
		expect(crypto.getRandomValues).toBe(REAL_RANDOM);
		expect(Object.hasOwn(crypto, "getRandomValues")).toBe(false);
		expect(Date.now).toBe(REAL_NOW);
		const a = crypto.getRandomValues(new Uint8Array(32));
		const b = crypto.getRandomValues(new Uint8Array(32));
		expect(toHex(a)).not.toBe(toHex(b));
	});
});

describe("test vectors: accepted by the project's own code", () => {
	it("signatures.json: each text is what signing.ts / device-list.ts builds from the fields, and each signature verifies", () => {
		const { vectors } = load("signatures.json");
		const build: Record<string, (f: Json) => Uint8Array> = {
			registrationMessage: (f) => registrationMessage(f.handle, f.publicKey, f.deviceName, f.identityKey),
			identityProofMessage: (f) => identityProofMessage(f.handle, f.identityKey, f.publicKey),
			loginMessage: (f) => loginMessage(f.challenge),
			linkClaimMessage: (f) => linkClaimMessage(f.handle, f.linkId, f.publicKey, f.deviceName),
			deviceListMessage: (f) => deviceListMessage(f),
		};
		expect(new Set(vectors.map((v: Json) => v.name))).toEqual(new Set(Object.keys(build)));
		for (const v of vectors) {
			const bytes = (build[v.name] as (f: Json) => Uint8Array)(v.fields);
			expect(toHex(bytes), v.name).toBe(v.hex);
			expect(toHex(utf8Encode(v.text)), v.name).toBe(v.hex);
			expect(toB64u(deviceKeysFromSeed(hex(v.signerSeedHex)).publicKey)).toBe(v.publicKey);
			expect(verifyDetached(fromB64u(v.publicKey), bytes, fromB64u(v.signature)), v.name).toBe(true);
			expect(verifyDetached(fromB64u(v.publicKey), bytes, fromB64u(flipBit(v.signature))), v.name).toBe(false);
			expect(verifyDetached(fromB64u(v.publicKey), utf8Encode(`${v.text} `), fromB64u(v.signature)), v.name).toBe(false);
		}
		const bodies = vectors.map((v: Json) => v.request);
		for (const r of bodies.filter((r: Json) => r.route === "POST /api/accounts")) expect(registerRequest.parse(r.body, "")).toEqual(r.body);
		for (const r of bodies.filter((r: Json) => r.route === "POST /api/auth/session"))
			expect(sessionRequest.parse(r.body, "")).toEqual(r.body);
		for (const r of bodies.filter((r: Json) => r.route === "POST /api/devices/link"))
			expect(claimLinkRequest.parse(r.body, "")).toEqual(r.body);
	});

	it("device-list.json: every list is canonical, signed by its identity key, parses as on the wire, and its text is deviceListMessage", () => {
		const { lists, rotation } = load("device-list.json");
		for (const { name, deviceList, text, hex: bytes, request } of lists) {
			const list = signedDeviceList.parse(deviceList, "") as SignedDeviceList;
			expect(isCanonical(list), name).toBe(true);
			expect(sortDevices(list.devices), name).toEqual(list.devices);
			expect(hasValidSignature(list), name).toBe(true);
			expect(toHex(deviceListMessage(list)), name).toBe(bytes);
			expect(toHex(utf8Encode(text)), name).toBe(bytes);
			// Tampering: another signature, a changed number, or the devices out of order.
			expect(hasValidSignature({ ...list, signature: flipBit(list.signature) })).toBe(false);
			expect(hasValidSignature({ ...list, version: list.version + 1 })).toBe(false);
			if (list.devices.length > 1) {
				expect(hasValidSignature({ ...list, devices: [...list.devices].reverse() })).toBe(false);
				// What the relay compares a list with: the same devices in any order, never one twice.
				const [first] = list.devices as [ListedDevice];
				expect(sameDevices(list.devices, [...list.devices].reverse())).toBe(true);
				expect(
					sameDevices(
						list.devices,
						list.devices.map(() => first),
					),
				).toBe(false);
				expect(
					sameDevices(
						list.devices.map(() => first),
						list.devices,
					),
				).toBe(false);
			}
			if (request.route === "POST /api/devices/list") expect(publishDeviceListRequest.parse(request.body, "")).toEqual(request.body);
			else if (request.route.endsWith("/approve")) expect(approveDeviceRequest.parse(request.body, "")).toEqual(request.body);
			else expect(revokeDeviceRequest.parse(request.body, "")).toEqual(request.body);
		}
		expect(rotation.rotate).toBe(true);
		expect(rotation.rotateAgain).toBe(false);
	});

	it("contact-key.json: unwrapContactKey opens every envelope to the key and both list versions, and refuses it for another version or pair", () => {
		const { accounts, order, devices, versions } = load("contact-key.json");
		expect(orderedPair(accounts.alice.accountId, accounts.bob.accountId)).toEqual([order.byText.lo, order.byText.hi]);
		expect(orderedPair(accounts.bob.accountId, accounts.alice.accountId)).toEqual([order.byText.lo, order.byText.hi]);
		expect(order.byDecodedBytes.lo).not.toBe(order.byText.lo);
		for (const d of devices) {
			expect(toHex(boxPublicKeyFromEd25519(fromB64u(d.publicKey)))).toBe(d.x25519PublicKeyHex);
			expect(toHex(boxSecretKeyFromSeed(hex(d.ed25519SeedHex)))).toBe(d.x25519SecretKeyHex);
		}
		for (const v of versions) {
			const pair: [string, string] = [accounts.alice.accountId, accounts.bob.accountId];
			const parsed = v.request.route.endsWith("/accept")
				? acceptRequest.parse(v.request.body, "")
				: rotateRequest.parse(v.request.body, "");
			expect(parsed).toEqual(v.request.body);
			for (const e of v.envelopes) {
				const down = envelope.parse(e.download, "");
				const open = (version: number, accounts: [string, string]) =>
					unwrapContactKey({
						nonce: down.nonce,
						box: down.box,
						senderPublicKey: fromB64u(down.fromPublicKey),
						mySeed: seedOf(devices, e.to),
						accounts,
						version,
					});
				const { key, lists } = open(v.keyVersion, pair);
				expect(toHex(key)).toBe(v.keyHex);
				expect(lists).toEqual(v.lists);
				// Either order of the pair names the same envelope.
				expect(toHex(open(v.keyVersion, [pair[1], pair[0]]).key)).toBe(v.keyHex);
				expectCryptoError(() => open(v.keyVersion + 1, pair), "bad_envelope");
				expectCryptoError(() => open(v.keyVersion, [pair[0], e.upload.deviceId]), "bad_envelope");
			}
		}
	});

	it("identity-key.json: unwrapIdentityKey opens the envelope to the identity seed, and the approve body parses", () => {
		const v = load("identity-key.json");
		expect(approveDeviceRequest.parse(v.approveRequest.body, "")).toEqual(v.approveRequest.body);
		expect(identityEnvelope.parse(v.identityResponse.body, "")).toEqual(v.identityResponse.body);
		const open = (identityKey: string) =>
			unwrapIdentityKey({
				accountId: v.identity.accountId,
				identityKey,
				nonce: v.identityResponse.body.nonce,
				box: v.identityResponse.body.box,
				senderPublicKey: fromB64u(v.identityResponse.body.fromPublicKey),
				mySeed: hex(v.to.ed25519SeedHex),
			});
		const identity = open(v.identity.identityKey);
		expect(toHex(identity.seed)).toBe(v.identity.ed25519SeedHex);
		expect(toB64u(identity.publicKey)).toBe(v.identity.identityKey);
		expectCryptoError(() => open(v.to.publicKey), "bad_envelope");
	});

	it("history-offer.json: openHistoryOffer opens the offer to its key for the device and transfer it names only", () => {
		const v = load("history-offer.json");
		const body = historyTransfer.parse({ ...v.transferResponse.body, state: "offered", createdAt: 0, expiresAt: 1 }, "");
		const me = { accountId: v.accountId, deviceId: v.to.deviceId, seed: hex(v.to.ed25519SeedHex) };
		expect(toHex(openHistoryOffer(me, body))).toBe(v.plaintext.keyHex);
		expectCryptoError(() => openHistoryOffer({ ...me, deviceId: v.from.deviceId }, body), "open_failed");
	});

	it("message.json: openMessage opens every message against its routing fields, and readBody accepts the body", () => {
		const { contactKey, messages } = load("message.json");
		const file = load("file.json");
		for (const m of messages) {
			expect(clientFrame.parse(m.sendFrame, "")).toEqual(m.sendFrame);
			const frame = serverFrame.parse(m.messageFrame, "");
			if (frame.type !== "message") throw new Error("not a message frame");
			const { header, body } = openMessage(hex(contactKey.keyHex), frame, frame.nonce, frame.box);
			expect(header).toEqual(m.sealedHeader);
			const content = readBody(frame, body);
			expect(content, m.name).not.toBeNull();
			if (frame.kind === "attachment") expect(content?.attachment).toEqual(file.attachment);
			expectCryptoError(
				() => openMessage(hex(contactKey.keyHex), { ...frame, fromDevice: frame.to }, frame.nonce, frame.box),
				"header_mismatch",
			);
		}
	});

	it("file.json: openFileStream opens the blob to the file, with its size and SHA-256, and refuses it cut at a chunk boundary", async () => {
		const v = load("file.json");
		const blob = fromB64u(v.blob);
		expect(blob.length).toBe(sealedFileSize(v.plaintext.size));
		const read = async (bytes: Uint8Array) => {
			const opened = openFileStream(hex(v.fileKeyHex), new Blob([bytes]).stream(), { size: v.plaintext.size, sha256: v.plaintext.sha256 });
			const plain = new Uint8Array(await new Response(opened.stream).arrayBuffer());
			return { plain, digest: await opened.digest };
		};
		const { plain, digest } = await read(blob);
		expect(plain.length).toBe(v.plaintext.size);
		expect(plain.every((b, i) => b === i % 251)).toBe(true);
		expect(digest).toEqual({ size: v.plaintext.size, sha256: v.plaintext.sha256 });
		const cut = blob.subarray(0, v.chunks[1].sealedOffset);
		await expect(read(cut)).rejects.toMatchObject({ code: "open_failed" });
	});

	it("safety-number.json: safetyNumber and deviceFingerprint give the stated digits, whichever side comes first", () => {
		const v = load("safety-number.json");
		const [a, b] = v.sides.map((s: Json) => ({ accountId: s.accountId, identityKey: fromB64u(s.identityKey) }));
		expect(safetyNumber(a, b)).toBe(v.safetyNumber);
		expect(safetyNumber(b, a)).toBe(v.safetyNumber);
		const reset = { accountId: a.accountId, identityKey: fromB64u(v.afterAliceResets.identityKey) };
		expect(safetyNumber(b, reset)).toBe(v.afterAliceResets.safetyNumber);
		expect(v.afterAliceResets.safetyNumber).not.toBe(v.safetyNumber);
		for (const d of v.fingerprints.devices) expect(deviceFingerprint(fromB64u(d.publicKey))).toBe(d.fingerprint);
	});

	it("link-code.json: the code parses (in every accepted spelling) to the secret, and the link keys, proof and confirmation are link-code.ts's", () => {
		const v = load("link-code.json");
		const code = parseLinkCode(v.code);
		expect(code).toEqual({ handle: v.handle, secret: hex(v.secretHex) });
		expect(formatLinkCode(code)).toBe(v.code);
		for (const { text } of v.alsoAccepted) expect(parseLinkCode(text), text).toEqual(code);
		const keys = deriveLinkKeys(code);
		expect(keys.linkId).toBe(v.hkdf.linkId);
		expect(toHex(keys.macKey)).toBe(v.hkdf.macKeyHex);
		expect(openLinkRequest.parse(v.openRequest.body, "")).toEqual(v.openRequest.body);
		expect(claimLinkRequest.parse(v.claimRequest.body, "")).toEqual(v.claimRequest.body);
		const proof = claimProof(keys, v.claim.fields);
		expect(proof).toBe(v.claim.proof);
		expect(macMatches(proof, v.claimRequest.body.proof)).toBe(true);
		expect(macMatches(proof, claimProof(keys, { ...v.claim.fields, deviceName: `${v.claim.fields.deviceName}!` }))).toBe(false);
		const confirm = linkConfirmation(keys, v.confirmation.fields);
		expect(confirm).toBe(v.confirmation.linkConfirm);
		expect(macMatches(confirm, linkConfirmation(keys, { ...v.confirmation.fields, identityKey: v.confirmation.fields.publicKey }))).toBe(
			false,
		);
	});
});
