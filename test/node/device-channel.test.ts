// The fast path of device approval: every contact key wrapped for the new device under one
// crypto_box_beforenm (DeviceChannel), with the sender's secret and the devices' X25519 public
// keys converted once. Its envelopes must be the ones the slow path made: opened by our
// unwrap and by plain TweetNaCl, byte for byte crypto_box for their nonce.
import { ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import nacl from "tweetnacl";
import { describe, expect, test } from "vitest";
import { orderedPair, unwrapContactKey, wrapContactKey, wrapContactKeyTo } from "../../client/core/contact-key.ts";
import { BOX_PUBLIC_KEYS_KEPT, BoxPublicKeys, boxPublicKeys, DeviceSender } from "../../client/core/device-box.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { fromB64u, toB64u, utf8Decode } from "../../common/encoding.ts";
import { boxPublicKeyFromEd25519, boxSecretKeyFromSeed, cryptoBox, generateDeviceKeys, randomBytes } from "../../common/nacl.ts";
import { expectCryptoError } from "../support/expect-crypto-error.ts";
import { offlineIdentity, offlineKeyRing, storeContactKeys } from "../support/offline-key-ring.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

describe("DeviceChannel: many envelopes under one shared key", () => {
	const sender = generateDeviceKeys();
	const target = generateDeviceKeys();
	const accounts: [string, string] = ["alice", "bob"];

	test("each envelope opens with unwrapContactKey and nacl.box.open, and is crypto_box of its plaintext for its nonce", () => {
		const channel = new DeviceSender(sender).channelTo(target.publicKey);
		const nonces = new Set<string>();
		for (let version = 1; version <= 20; version++) {
			const key = randomBytes(32);
			const lists = { alice: version, bob: 2 };
			const env = wrapContactKeyTo(channel, { accounts, version, lists, key });
			nonces.add(env.nonce);

			expect(unwrapContactKey({ ...env, senderPublicKey: sender.publicKey, mySeed: target.seed, accounts, version })).toEqual({
				key,
				lists,
			});
			const nonce = fromB64u(env.nonce);
			const plain = nacl.box.open(fromB64u(env.box), nonce, boxPublicKeyFromEd25519(sender.publicKey), boxSecretKeyFromSeed(target.seed));
			if (plain === null) throw new Error("nacl.box.open rejected an envelope of the channel");
			const prefix = `sm-contact-key/2\nalice\nbob\n${version}\n${version}\n2\n`;
			expect(utf8Decode(plain.subarray(0, prefix.length))).toBe(prefix);
			expect(plain.subarray(prefix.length)).toEqual(key);
			// The slow path (a whole crypto_box from the two Ed25519 keys) makes the same bytes.
			expect(toB64u(cryptoBox(plain, nonce, boxPublicKeyFromEd25519(target.publicKey), boxSecretKeyFromSeed(sender.seed)))).toBe(env.box);
		}
		expect(nonces.size).toBe(20);
		channel.wipe();
	});

	test("a channel to another device, or from another sender, does not open for this one", () => {
		const other = generateDeviceKeys();
		const env = wrapContactKeyTo(new DeviceSender(sender).channelTo(other.publicKey), {
			accounts,
			version: 1,
			lists: { alice: 1, bob: 1 },
			key: randomBytes(32),
		});
		expectCryptoError(
			() => unwrapContactKey({ ...env, senderPublicKey: sender.publicKey, mySeed: target.seed, accounts, version: 1 }),
			"open_failed",
		);
		expectCryptoError(
			() => unwrapContactKey({ ...env, senderPublicKey: target.publicKey, mySeed: other.seed, accounts, version: 1 }),
			"open_failed",
		);
	});

	test("a wiped channel or sender refuses to seal, and a target key that is no device's is bad_key", () => {
		const s = new DeviceSender(sender);
		expect(s.isFor(sender.publicKey)).toBe(true);
		expect(s.isFor(target.publicKey)).toBe(false);
		const channel = s.channelTo(target.publicKey);
		channel.wipe();
		expect(() => wrapContactKeyTo(channel, { accounts, version: 1, lists: { alice: 1, bob: 1 }, key: randomBytes(32) })).toThrow(/wipe/);
		for (const torsion of ED25519_TORSION_SUBGROUP) expectCryptoError(() => s.channelTo(hex(torsion)), "bad_key");
		s.wipe();
		expect(s.isFor(sender.publicKey)).toBe(false);
		expect(() => s.channelTo(target.publicKey)).toThrow(/wipe/);
	});

	test("wrapContactKey (the one-off path) still opens the same way", () => {
		const key = randomBytes(32);
		const env = wrapContactKey({
			accounts,
			version: 4,
			lists: { alice: 1, bob: 3 },
			key,
			senderSeed: sender.seed,
			targetPublicKey: target.publicKey,
		});
		expect(unwrapContactKey({ ...env, senderPublicKey: sender.publicKey, mySeed: target.seed, accounts, version: 4 })).toEqual({
			key,
			lists: { alice: 1, bob: 3 },
		});
	});
});

describe("ContactKeyRing.wrapAllFor (device approval)", () => {
	test("every version of the asked contacts' keys, wrapped for the new device, opens there to the stored key and lists", async () => {
		const store = new MemoryKeyStore();
		const me = offlineIdentity();
		const peers = await storeContactKeys(store, me, 5, 3);
		const ring = offlineKeyRing(store, me);
		const newDevice = generateDeviceKeys();
		// Four of the five contacts (say the fifth is blocked), in the order asked, each by version.
		const asked = peers.slice(1).reverse();
		const envelopes = await ring.wrapAllFor(asked, { deviceId: "new-device", publicKey: toB64u(newDevice.publicKey) });
		expect(envelopes.map((e) => [e.peerId, e.keyVersion])).toEqual(asked.flatMap((p) => [1, 2, 3].map((v) => [p, v])));
		expect(new Set(envelopes.map((e) => e.nonce)).size).toBe(12);
		for (const e of envelopes) {
			const accounts = orderedPair(me.accountId, e.peerId);
			const opened = unwrapContactKey({ ...e, version: e.keyVersion, senderPublicKey: me.publicKey, mySeed: newDevice.seed, accounts });
			expect(opened.key).toEqual(await store.getContactKey(e.peerId, e.keyVersion));
			expect(opened.lists).toEqual(await store.getKeyLists(e.peerId, e.keyVersion));
			const plain = nacl.box.open(
				fromB64u(e.box),
				fromB64u(e.nonce),
				boxPublicKeyFromEd25519(me.publicKey),
				boxSecretKeyFromSeed(newDevice.seed),
			);
			expect(plain?.subarray(plain.length - 32)).toEqual(opened.key);
		}
		// After close() (the session ended) it converts the secret again and still works.
		ring.close();
		const again = await ring.wrapAllFor(peers.slice(0, 1), { deviceId: "new-device", publicKey: toB64u(newDevice.publicKey) });
		expect(again).toHaveLength(3);
	});

	test("a new device whose key is no curve point in the prime-order group gets nothing: bad_key", async () => {
		const store = new MemoryKeyStore();
		const me = offlineIdentity();
		const peers = await storeContactKeys(store, me, 2);
		const ring = offlineKeyRing(store, me);
		const torsion = toB64u(hex(ED25519_TORSION_SUBGROUP[1] as string));
		await expect(ring.wrapAllFor(peers, { deviceId: "bad", publicKey: torsion })).rejects.toHaveProperty("code", "bad_key");
	});
});

describe("BoxPublicKeys: converted X25519 public keys, bounded", () => {
	test("holds at most its limit, dropping the least recently used, and converts as boxPublicKeyFromEd25519 does", () => {
		const table = new BoxPublicKeys(4);
		const devices = Array.from({ length: 10 }, () => generateDeviceKeys().publicKey);
		for (const d of devices) {
			expect(table.of(d)).toEqual(boxPublicKeyFromEd25519(d));
			expect(table.size).toBeLessThanOrEqual(4);
		}
		expect(table.size).toBe(4);
		// The last four are held; using the oldest of them keeps it when the next comes in.
		const first = devices[6] as Uint8Array;
		const second = devices[7] as Uint8Array;
		table.of(first);
		table.of(generateDeviceKeys().publicKey);
		table.of(generateDeviceKeys().publicKey);
		expect(table.size).toBe(4);
		const held = (table as unknown as { converted: Map<string, Uint8Array> }).converted;
		expect(held.has(toB64u(first))).toBe(true);
		expect(held.has(toB64u(second))).toBe(false);
	});

	test("a caller changing what it got changes nothing kept; a bad key is refused each time and not kept", () => {
		const table = new BoxPublicKeys(8);
		const d = generateDeviceKeys().publicKey;
		table.of(d).fill(0);
		expect(table.of(d)).toEqual(boxPublicKeyFromEd25519(d));
		for (const torsion of ED25519_TORSION_SUBGROUP) {
			expectCryptoError(() => table.of(hex(torsion)), "bad_key");
			expectCryptoError(() => table.of(hex(torsion)), "bad_key");
		}
		expectCryptoError(() => table.of(new Uint8Array(31)), "bad_key");
		expect(table.size).toBe(1);
		expect(() => new BoxPublicKeys(0)).toThrow(RangeError);
	});

	test("the process-wide table is bounded by BOX_PUBLIC_KEYS_KEPT", () => {
		expect(boxPublicKeys.limit).toBe(BOX_PUBLIC_KEYS_KEPT);
		expect(boxPublicKeys.size).toBeLessThanOrEqual(BOX_PUBLIC_KEYS_KEPT);
	});
});
