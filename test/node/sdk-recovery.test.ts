import { describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { newRecoveryWords } from "../../client/core/recovery-key.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes, signDetached } from "../../common/nacl.ts";
import { signDeviceList } from "../../common/protocol/device-list.ts";
import type { DeviceList } from "../../common/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { HostileRelay } from "../support/hostile-relay.ts";
import { collect, contactPair, linkDevice, registerMember, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

const NOT_MATCHING = { code: "unauthorized", message: "The recovery key does not match this account." };

describe("recovering an account with its recovery key", () => {
	it("restores on a new browser with nothing but the key: every contact key, the contact's pin, and a new device the contact sees", async () => {
		const { alice, bob } = await contactPair(factory);
		const bobPhone = await linkDevice(factory, bob, "bob's phone");
		const rotated = alice.client.waitFor("contact", (c) => c.event === "rotated" && c.contact.keyVersion === 2, 15_000);
		await bob.client.revokeDevice(bobPhone.account.deviceId);
		await rotated;
		await alice.client.loadContactKeys(bob.account.accountId);
		await alice.client.setContactVerified(bob.account.accountId, true);
		const words = await alice.client.setUpRecovery();
		expect(await alice.client.hasRecoveryKey()).toBe(true);
		expect(await alice.client.backUpKeys()).toBe(true);
		const numberBefore = await bob.client.safetyNumber(alice.account.accountId);
		const bobSeesDevice = bob.client.waitFor(
			"contact",
			(c) => c.event === "devices_changed" && c.contact.accountId === alice.account.accountId,
			15_000,
		);
		alice.client.close();

		const store = new MemoryKeyStore();
		const restored = factory.client(store);
		const account = await restored.restoreAccount(alice.account.handle, words.toUpperCase(), "new laptop");
		expect(account.accountId).toBe(alice.account.accountId);
		await bobSeesDevice;
		expect(await store.getContactKey(bob.account.accountId, 1)).toBeDefined();
		expect(await store.getContactKey(bob.account.accountId, 2)).toBeDefined();
		expect((await restored.contactTrust(bob.account.accountId)).state).toBe("verified");
		expect(await bob.client.safetyNumber(alice.account.accountId)).toBe(numberBefore);
		expect((await restored.devices()).find((d) => d.deviceId === account.deviceId)).toMatchObject({ status: "approved", certified: true });

		await restored.connect();
		const atRestored = collect(restored, 1);
		await bob.client.sendText(alice.account.accountId, "are you back?");
		expect((await atRestored)[0]?.text).toBe("are you back?");
		const atBob = collect(bob.client, 1);
		await restored.sendText(bob.account.accountId, "yes, with my recovery key");
		expect((await atBob)[0]?.text).toBe("yes, with my recovery key");
	});

	it("refuses a wrong key exactly as it refuses an unknown handle or an account without a recovery key, and leaves no device", async () => {
		const alice = await registerMember(factory, "alice");
		const bob = await registerMember(factory, "bob");
		await alice.client.setUpRecovery();
		const otherWords = await bob.client.setUpRecovery();
		const before = (await alice.client.devices()).length;
		await expect(factory.client(new MemoryKeyStore()).restoreAccount(alice.account.handle, otherWords, "thief")).rejects.toMatchObject(
			NOT_MATCHING,
		);
		await expect(factory.client(new MemoryKeyStore()).restoreAccount("nobody_is_called_this", otherWords, "thief")).rejects.toMatchObject(
			NOT_MATCHING,
		);
		const carol = await registerMember(factory, "carol");
		await expect(factory.client(new MemoryKeyStore()).restoreAccount(carol.account.handle, otherWords, "thief")).rejects.toMatchObject(
			NOT_MATCHING,
		);
		expect(await alice.client.devices()).toHaveLength(before);
	});

	it("checks words the person wrote down against the registered recovery key, on any approved device", async () => {
		const alice = await registerMember(factory, "alice");
		await alice.client.connect();
		expect(await alice.client.checkRecoveryKey(newRecoveryWords())).toBe(false);
		const words = await alice.client.setUpRecovery();
		const phone = await linkDevice(factory, alice, "alice's phone");
		expect(await alice.client.checkRecoveryKey(words)).toBe(true);
		expect(await phone.client.checkRecoveryKey(`  ${words.toUpperCase()} `)).toBe(true);
		expect(await phone.client.checkRecoveryKey(newRecoveryWords())).toBe(false);
		await expect(phone.client.checkRecoveryKey("not twelve words")).rejects.toMatchObject({ code: "bad_request" });
		// A replaced key is no longer the account's.
		await alice.client.setUpRecovery();
		expect(await phone.client.checkRecoveryKey(words)).toBe(false);
	});

	it("a replaced recovery key no longer restores, and the new one does", async () => {
		const alice = await registerMember(factory, "alice");
		const old = await alice.client.setUpRecovery();
		const fresh = await alice.client.setUpRecovery();
		await expect(factory.client(new MemoryKeyStore()).restoreAccount(alice.account.handle, old, "laptop")).rejects.toMatchObject(
			NOT_MATCHING,
		);
		const restored = await factory.client(new MemoryKeyStore()).restoreAccount(alice.account.handle, fresh, "laptop");
		expect(restored.accountId).toBe(alice.account.accountId);
	});

	it("words that are not a recovery key are refused before anything is sent", async () => {
		const alice = await registerMember(factory, "alice");
		await expect(
			factory.client(new MemoryKeyStore()).restoreAccount(alice.account.handle, "one two three", "laptop"),
		).rejects.toMatchObject({
			code: "bad_request",
		});
	});

	it("a relay that serves a recovery key of its own gets no backup sealed to it", async () => {
		const hostile = new HostileRelay();
		const alice = await registerMember(factory, "alice", hostile.WebSocket, hostile.fetch);
		await alice.client.setUpRecovery();
		const fake = generateDeviceKeys();
		hostile.rewrite("GET", /^\/api\/account\/recovery$/, () => ({
			recoveryKey: toB64u(fake.publicKey),
			signature: toB64u(signDetached(fake.seed, randomBytes(8))),
		}));
		const puts = () => hostile.uploads.filter((u) => u.route === "PUT /api/account/backup").length;
		const before = puts();
		await expect(alice.client.backUpKeys()).rejects.toMatchObject({
			code: "untrusted",
			message: /not signed by this account's identity key/,
		});
		expect(puts()).toBe(before);
	});

	it("keeps the recovery key working through an identity reset, and restores the new identity", async () => {
		const { alice, bob } = await contactPair(factory);
		const words = await alice.client.setUpRecovery();
		await alice.client.resetIdentity();
		const afterReset = await bob.client.safetyNumber(alice.account.accountId);
		const restored = factory.client(new MemoryKeyStore());
		await restored.restoreAccount(alice.account.handle, words, "new laptop");
		expect(await restored.safetyNumber(bob.account.accountId)).toBe(afterReset);
	});

	it("a restore the relay tampers with fails whole: this store is left empty and no waiting device stays on the account", async () => {
		const { alice } = await contactPair(factory);
		const words = await alice.client.setUpRecovery();
		const hostile = new HostileRelay();
		const fake = generateDeviceKeys();
		hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => ({
			...body,
			deviceList: body.deviceList && signDeviceList({ ...body.deviceList, identityKey: toB64u(fake.publicKey) }, fake.seed),
		}));
		const store = new MemoryKeyStore();
		const restoring = factory.client(store, { fetch: hostile.fetch, WebSocket: hostile.WebSocket });
		await expect(restoring.restoreAccount(alice.account.handle, words, "new laptop")).rejects.toMatchObject({ code: "untrusted" });
		expect(await store.getIdentity()).toBeNull();
		expect(await store.listContactKeys()).toEqual([]);
		expect((await alice.client.devices()).filter((d) => d.status === "pending")).toEqual([]);
		// And the person can simply try again (here without the tampering).
		const again = await factory.client(new MemoryKeyStore()).restoreAccount(alice.account.handle, words, "new laptop");
		expect(again.accountId).toBe(alice.account.accountId);
	});
});
