import { describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { collect, contactPair, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

describe("several devices through the SDK", () => {
	it("a new device waits as pending, is approved by an existing device and reads the next message with no further step", async () => {
		const { alice, bob } = await contactPair(factory);
		const phoneStore = new MemoryKeyStore();
		const phone = factory.client(phoneStore);
		const noticed = alice.client.waitFor("device", (d) => d.event === "pending");
		const joined = await phone.joinAccount(alice.account.handle, "alice's phone");
		expect(joined.accountId).toBe(alice.account.accountId);
		expect((await noticed).device).toMatchObject({ deviceId: joined.deviceId, status: "pending", name: "alice's phone" });
		await phone.connect();
		await expect(phone.contacts()).rejects.toMatchObject({ code: "device_pending" });

		const approvedHere = phone.waitFor("device", (d) => d.event === "approved" && d.device.deviceId === joined.deviceId);
		const bobSafety = bob.client.waitFor("safety_number_changed", (e) => e.peerId === alice.account.accountId);
		const before = await bob.client.safetyNumber(alice.account.accountId);
		await alice.client.approveDevice(joined.deviceId);
		await approvedHere;
		await bobSafety;
		expect(await bob.client.safetyNumber(alice.account.accountId)).not.toBe(before);

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

	it("revoking a device stops it at once and rotates the contact key; the remaining devices keep talking", async () => {
		const { alice, bob } = await contactPair(factory);
		const phone = factory.client(new MemoryKeyStore());
		const joined = await phone.joinAccount(alice.account.handle, "old phone");
		await alice.client.approveDevice(joined.deviceId);
		await phone.connect();
		const phoneStopped = phone.waitFor("error", (e) => e.code === "device_revoked", 10_000);
		const rotated = bob.client.waitFor("contact", (c) => c.event === "rotated", 10_000);
		await alice.client.revokeDevice(joined.deviceId);
		await phoneStopped;
		expect((await rotated).contact.keyVersion).toBe(2);

		const atAlice = collect(alice.client, 1);
		await bob.client.sendText(alice.account.accountId, "after the phone was lost");
		expect((await atAlice)[0]?.text).toBe("after the phone was lost");
		const devices = await alice.client.devices();
		expect(devices.find((d) => d.deviceId === joined.deviceId)?.status).toBe("revoked");
	});
});
