import { describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { toB64u } from "../../common/encoding.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { collect, contactPair, linkDevice, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

describe("several devices through the SDK", () => {
	it("a new device links with the code an approved device shows, is approved there and reads the next message with no further step", async () => {
		const { alice, bob } = await contactPair(factory);
		const phoneStore = new MemoryKeyStore();
		const phone = factory.client(phoneStore);
		const { code } = await alice.client.createLinkCode();
		const request = alice.client.waitFor("link_request", () => true);
		const joined = await phone.linkWithCode(code, "alice's phone");
		expect(joined.accountId).toBe(alice.account.accountId);
		const { device, fingerprint } = await request;
		expect(device).toMatchObject({ deviceId: joined.deviceId, status: "pending", name: "alice's phone" });
		// What the approver compares is the fingerprint of the key the new device made.
		const phoneKey = (await phoneStore.getIdentity())?.publicKey as Uint8Array;
		expect(fingerprint).toBe(phone.deviceFingerprint(toB64u(phoneKey)));
		await phone.connect();
		await expect(phone.contacts()).rejects.toMatchObject({ code: "device_pending" });

		const before = await bob.client.safetyNumber(alice.account.accountId);
		const approvedHere = phone.waitFor("device", (d) => d.event === "approved" && d.device.deviceId === joined.deviceId);
		await alice.client.approveDevice(joined.deviceId);
		await approvedHere;
		expect(await phone.finishLinking()).toBe(true);
		// Over identity keys: a new device of Alice's changes nothing Bob compared.
		expect(await bob.client.safetyNumber(alice.account.accountId)).toBe(before);
		expect(await phone.safetyNumber(bob.account.accountId)).toBe(before);
		expect((await alice.client.devices()).find((d) => d.deviceId === joined.deviceId)).toMatchObject({
			status: "approved",
			certified: true,
		});

		const atPhone = collect(phone, 1);
		const atLaptop = collect(alice.client, 1);
		await bob.client.sendText(alice.account.accountId, "hello both of you");
		expect((await atPhone)[0]?.text).toBe("hello both of you");
		expect((await atLaptop)[0]?.text).toBe("hello both of you");
		// Sent-sync: what the phone sends shows up on the laptop as outgoing.
		const synced = collect(alice.client, 1);
		await phone.sendText(bob.account.accountId, "from my phone");
		expect((await synced)[0]).toMatchObject({ text: "from my phone", outgoing: true, peerId: bob.account.accountId });
	});

	it("a link code works once, and a made-up one is refused without saying whether the account exists", async () => {
		const { alice } = await contactPair(factory);
		const { code } = await alice.client.createLinkCode();
		await factory.client(new MemoryKeyStore()).linkWithCode(code, "first");
		const refused = { code: "not_found", message: "This link code is not valid: it may have expired or been used." };
		await expect(factory.client(new MemoryKeyStore()).linkWithCode(code, "second")).rejects.toMatchObject(refused);
		const madeUp = `${alice.account.handle}-${"0".repeat(6)}-${"1".repeat(6)}-${"2".repeat(6)}-${"3".repeat(6)}`;
		await expect(factory.client(new MemoryKeyStore()).linkWithCode(madeUp, "guess")).rejects.toMatchObject(refused);
		const nobody = madeUp.replace(alice.account.handle, "nobody_by_this_name");
		await expect(factory.client(new MemoryKeyStore()).linkWithCode(nobody, "guess")).rejects.toMatchObject(refused);
	});

	it("revoking a device stops it at once and rotates the contact key; the remaining devices keep talking", async () => {
		const { alice, bob } = await contactPair(factory);
		const phone = await linkDevice(factory, alice, "old phone");
		const phoneStopped = phone.client.waitFor("error", (e) => e.code === "device_revoked", 10_000);
		const rotated = bob.client.waitFor("contact", (c) => c.event === "rotated", 10_000);
		await alice.client.revokeDevice(phone.account.deviceId);
		await phoneStopped;
		expect((await rotated).contact.keyVersion).toBe(2);

		const atAlice = collect(alice.client, 1);
		await bob.client.sendText(alice.account.accountId, "after the phone was lost");
		expect((await atAlice)[0]?.text).toBe("after the phone was lost");
		const devices = await alice.client.devices();
		expect(devices.find((d) => d.deviceId === phone.account.deviceId)?.status).toBe("revoked");
	});

	it("after a lost device is removed, an identity reset reaches the other device through a trusted envelope and shows every contact a change", async () => {
		const { alice, bob } = await contactPair(factory);
		const phone = await linkDevice(factory, alice, "alice's phone");
		const lost = await linkDevice(factory, alice, "lost tablet");
		await bob.client.setContactVerified(alice.account.accountId, true);
		const before = await bob.client.safetyNumber(alice.account.accountId);

		await alice.client.revokeDevice(lost.account.deviceId);
		const bobSees = bob.client.waitFor("trust", (t) => t.peerId === alice.account.accountId && t.state === "changed", 10_000);
		await alice.client.resetIdentity();
		await bobSees;

		// The phone takes the new key from the laptop's envelope, and agrees with the laptop.
		const phoneDevices = await phone.client.devices();
		expect(
			phoneDevices
				.filter((d) => d.certified)
				.map((d) => d.deviceId)
				.sort(),
		).toEqual([alice.account.deviceId, phone.account.deviceId].sort());
		const after = await phone.client.safetyNumber(bob.account.accountId);
		expect(after).toBe(await alice.client.safetyNumber(bob.account.accountId));
		expect(after).not.toBe(before);

		// Bob had verified Alice: he cannot write until he has looked.
		expect(await bob.client.contactTrust(alice.account.accountId)).toMatchObject({ state: "changed", blocked: true, safetyNumber: after });
		await expect(bob.client.sendText(alice.account.accountId, "is this still you?")).rejects.toMatchObject({ code: "identity_changed" });
		await bob.client.acknowledgeIdentityChange(alice.account.accountId);
		const atPhone = collect(phone.client, 1);
		await bob.client.sendText(alice.account.accountId, "welcome back");
		expect((await atPhone)[0]?.text).toBe("welcome back");
	});
});
