import { describe, expect, it, vi } from "vitest";
import { ContactLoads, Contacts, contactNotice, withContact } from "../../client/app/features/contacts.ts";
import { Devices, uncertified, withDevice } from "../../client/app/features/devices.ts";
import { Notices } from "../../client/app/features/notices.ts";
import type { Contact } from "../../common/protocol/wire.ts";
import { ALICE, BOB, contactOf, deferred, deviceOf, relayId, storeWith } from "./client-fakes.ts";

function contactsOf(relayList: () => Promise<Contact[]>, phase: "ready" | "pending" = "ready") {
	const store = storeWith({ phase });
	const client = {
		contacts: vi.fn(relayList),
		requestContact: vi.fn(async (handle: string) => ({ ...contactOf(BOB, "outgoing"), handle })),
		acceptContact: vi.fn(async (peerId: string) => contactOf(peerId, "accepted", 5)),
		declineContact: vi.fn(),
		setCallPermission: vi.fn(),
		blockContact: vi.fn(),
		unblockContact: vi.fn(),
		report: vi.fn(async () => {}),
	};
	return { store, client, contacts: new Contacts(store, client, new Notices(store)) };
}

describe("contacts", () => {
	it("keeps a request that arrives while the list loads, though the list the relay sent predates it", async () => {
		const answer = deferred<Contact[]>();
		const app = contactsOf(() => answer.promise);
		const refreshing = app.contacts.refresh();
		app.contacts.changed("requested", contactOf(BOB, "incoming", 20));
		answer.resolve([contactOf(ALICE, "accepted", 10)]);
		await refreshing;
		expect(app.store.state.contacts).toEqual([contactOf(ALICE, "accepted", 10), contactOf(BOB, "incoming", 20)]);
	});

	it("forgets what changed during overlapping loads only once the last of them is done", async () => {
		const loads = new ContactLoads();
		const answers: Array<(contacts: Contact[]) => void> = [];
		const fetch = () => new Promise<Contact[]>((resolve) => answers.push(resolve));
		const first = loads.load(fetch);
		const second = loads.load(fetch);
		loads.changed(contactOf(BOB, "incoming", 20));
		answers[0]!([]);
		expect(await first).toEqual([contactOf(BOB, "incoming", 20)]);
		answers[1]!([]);
		expect(await second).toEqual([contactOf(BOB, "incoming", 20)]);
		expect(await loads.load(async () => [])).toEqual([]);
	});

	it("puts a changed contact in place of its earlier entry", () => {
		expect(withContact([contactOf(ALICE, "accepted"), contactOf(BOB, "outgoing")], contactOf(BOB, "accepted", 2))).toEqual([
			contactOf(ALICE, "accepted"),
			contactOf(BOB, "accepted", 2),
		]);
	});

	it("tells of a request, an acceptance and a decline, and of nothing else", () => {
		const bob = (state: Contact["state"]) => ({ ...contactOf(BOB, state), handle: "bob" });
		expect(contactNotice("requested", bob("incoming"))).toBe("@bob asks to be your contact.");
		expect(contactNotice("accepted", bob("accepted"))).toBe("You and @bob are now contacts.");
		expect(contactNotice("declined", bob("declined"))).toBe("@bob declined your contact request.");
		expect(contactNotice("requested", bob("outgoing"))).toBeNull();
		expect(contactNotice("blocked", bob("blocked"))).toBeNull();
	});

	it("shows a request the user made, and what the relay answered to an acceptance", async () => {
		const app = contactsOf(async () => []);
		const requested = await app.contacts.request("bob");
		expect(app.store.state.contacts).toEqual([requested]);
		await app.contacts.accept(BOB);
		expect(app.store.state.contacts).toEqual([contactOf(BOB, "accepted", 5)]);
		expect(app.contacts.find(BOB)?.state).toBe("accepted");
	});

	it("reloads the list after reporting and blocking, not after a report alone", async () => {
		const app = contactsOf(async () => []);
		await app.contacts.report(BOB, "spam", false);
		expect(app.client.contacts).not.toHaveBeenCalled();
		await app.contacts.report(BOB, "spam", true);
		expect(app.client.report).toHaveBeenLastCalledWith(BOB, "spam", true);
		expect(app.client.contacts).toHaveBeenCalledTimes(1);
	});

	it("reloads the list on a reconnect only once the device is approved, and says whether it did", async () => {
		const pending = contactsOf(async () => [], "pending");
		const ready = contactsOf(async () => [contactOf(ALICE, "accepted")]);
		expect(await pending.contacts.reconnected()).toBe(false);
		expect(await ready.contacts.reconnected()).toBe(true);
		expect(pending.client.contacts).not.toHaveBeenCalled();
		expect(ready.store.state.contacts).toEqual([contactOf(ALICE, "accepted")]);
	});

	it("names the contact whose safety number changed, or all of them, as an identity change that stays until dismissed", () => {
		const app = contactsOf(async () => []);
		app.store.update({ contacts: [{ ...contactOf(BOB, "accepted"), handle: "bob" }] });
		app.contacts.safetyNumberChanged(BOB);
		app.contacts.safetyNumberChanged(null);
		app.contacts.safetyNumberChanged(ALICE);
		const change = "changed: their account has a new identity key. Compare it again before you trust it.";
		expect(app.store.state.notices.map((n) => [n.text, n.tone])).toEqual([
			[`The safety number with @bob ${change}`, "error"],
			[`The safety number with all your contacts ${change}`, "error"],
			[`The safety number with @a contact ${change}`, "error"],
		]);
	});
});

const devicesOf = (phase: "ready" | "pending", link: "valid" | "not_here" = "not_here", listed = [deviceOf("laptop", "approved")]) => {
	const store = storeWith({ phase, devices: [deviceOf("laptop", "approved")] });
	const client = {
		devices: vi.fn(async () => listed),
		revokeDevice: vi.fn(async (id: string) => ({ ...deviceOf("phone", "revoked"), deviceId: id })),
		checkLinkRequest: vi.fn(() => link),
		resetIdentity: vi.fn(async () => {}),
	};
	return { store, client, devices: new Devices(store, client, new Notices(store)) };
};

describe("devices", () => {
	it("shows a device waiting for another device's approval, with a notice, once this device is approved", () => {
		const app = devicesOf("ready");
		app.devices.changed("pending", deviceOf("phone", "pending"));
		expect(app.store.state.devices?.map((d) => [d.name, d.status, d.certified])).toEqual([
			["laptop", "approved", true],
			["phone", "pending", false],
		]);
		expect(app.store.state.notices.map((n) => n.text)).toEqual([
			"A new device, “phone”, waits for approval on the device that showed its link code.",
		]);
	});

	it("leaves a claim of a code shown here to the link request, without a second notice", () => {
		const app = devicesOf("ready", "valid");
		app.devices.changed("pending", deviceOf("phone", "pending"));
		expect(app.store.state.devices?.map((d) => d.name)).toEqual(["laptop", "phone"]);
		expect(app.store.state.notices).toEqual([]);
	});

	it("ignores device events while this device still waits for approval", () => {
		const app = devicesOf("pending");
		app.store.update({ devices: null });
		app.devices.changed("pending", deviceOf("phone", "pending"));
		expect(app.store.state.devices).toBeNull();
		expect(app.store.state.notices).toEqual([]);
	});

	it("shows an approval only as the signed list certifies it: the list is fetched again, not patched", async () => {
		const app = devicesOf("ready", "not_here", [deviceOf("laptop", "approved"), deviceOf("phone", "approved", { certified: false })]);
		app.devices.changed("approved", deviceOf("phone", "approved"));
		expect(app.store.state.devices?.map((d) => d.name)).toEqual(["laptop"]);
		await vi.waitFor(() =>
			expect(app.store.state.devices?.map((d) => [d.name, d.certified])).toEqual([
				["laptop", true],
				["phone", false],
			]),
		);
		expect(uncertified(app.store.state.devices ?? []).map((d) => d.name)).toEqual(["phone"]);
	});

	it("removes a device, then shows the relay's list", async () => {
		const app = devicesOf("ready");
		await app.devices.revoke(relayId("phone"));
		expect(app.client.revokeDevice).toHaveBeenCalledWith(relayId("phone"));
		expect(app.client.resetIdentity).not.toHaveBeenCalled();
		expect(app.client.devices).toHaveBeenCalledTimes(1);
	});

	it("removes a lost device and then replaces the identity key it held, before showing the list", async () => {
		const app = devicesOf("ready");
		const order: string[] = [];
		app.client.revokeDevice.mockImplementation(async (id: string) => {
			order.push("revoke");
			return { ...deviceOf("phone", "revoked"), deviceId: id };
		});
		app.client.resetIdentity.mockImplementation(async () => {
			order.push("reset");
		});
		await app.devices.revoke(relayId("phone"), { resetIdentity: true });
		expect(order).toEqual(["revoke", "reset"]);
		expect(app.client.devices).toHaveBeenCalledTimes(1);
	});

	it("puts a changed device in place of its earlier entry; it is certified only as long as it stays approved with the same key", () => {
		const laptop = deviceOf("laptop", "approved");
		expect(withDevice(null, deviceOf("phone", "pending"))).toEqual([deviceOf("phone", "pending")]);
		expect(withDevice([deviceOf("phone", "pending")], deviceOf("phone", "revoked"))).toEqual([
			deviceOf("phone", "revoked", { certified: false }),
		]);
		expect(withDevice([laptop], { ...laptop, name: "renamed" })).toEqual([{ ...laptop, name: "renamed", certified: true }]);
		expect(withDevice([laptop], { ...laptop, publicKey: "other" })).toEqual([{ ...laptop, publicKey: "other", certified: false }]);
	});

	it("finds the approved devices no signed list certifies, and only those", () => {
		const devices = [
			deviceOf("laptop", "approved"),
			deviceOf("ghost", "approved", { certified: false }),
			deviceOf("phone", "pending"),
			deviceOf("old", "revoked"),
		];
		expect(uncertified(devices).map((d) => d.name)).toEqual(["ghost"]);
	});
});
