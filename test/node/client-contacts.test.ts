import { describe, expect, it, vi } from "vitest";
import { ContactLoads, Contacts, contactNotice, withContact } from "../../client/app/features/contacts.ts";
import { Devices, withDevice } from "../../client/app/features/devices.ts";
import { Notices } from "../../client/app/features/notices.ts";
import type { Contact, DeviceInfo } from "../../common/protocol/wire.ts";
import { ALICE, BOB, contactOf, deferred, relayId, settle, storeWith } from "./client-fakes.ts";

function contactsOf(relayList: () => Promise<Contact[]>, phase: "ready" | "pending" = "ready") {
	const store = storeWith({ phase });
	const client = {
		contacts: vi.fn(relayList),
		requestContact: vi.fn(async (handle: string) => ({ ...contactOf(BOB, "outgoing"), handle })),
		acceptContact: vi.fn(async (peerId: string) => contactOf(peerId, "accepted", 5)),
		declineContact: vi.fn(),
		setCallPermission: vi.fn(),
		blockContact: vi.fn(),
		report: vi.fn(async () => {}),
		safetyNumber: vi.fn(),
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

	it("reloads the list on a reconnect only once the device is approved", async () => {
		const pending = contactsOf(async () => [], "pending");
		pending.contacts.reconnected();
		const ready = contactsOf(async () => [contactOf(ALICE, "accepted")]);
		ready.contacts.reconnected();
		await settle();
		expect(pending.client.contacts).not.toHaveBeenCalled();
		expect(ready.store.state.contacts).toEqual([contactOf(ALICE, "accepted")]);
	});

	it("names the contact whose safety number changed, or all of them", () => {
		const app = contactsOf(async () => []);
		app.store.update({ contacts: [{ ...contactOf(BOB, "accepted"), handle: "bob" }] });
		app.contacts.safetyNumberChanged(BOB);
		app.contacts.safetyNumberChanged(null);
		app.contacts.safetyNumberChanged(ALICE);
		expect(app.store.state.notices.map((n) => n.text)).toEqual([
			"The safety number with @bob changed because a device was added or removed.",
			"The safety number with all your contacts changed because a device was added or removed.",
			"The safety number with @a contact changed because a device was added or removed.",
		]);
	});
});

const device = (name: string, status: DeviceInfo["status"]): DeviceInfo => ({
	deviceId: relayId(name),
	publicKey: "k",
	name,
	status,
	createdAt: 1,
});

describe("devices", () => {
	it("shows a device that asks to join, with a notice, once this device is approved", () => {
		const store = storeWith({ phase: "ready", devices: [device("laptop", "approved")] });
		new Devices(
			store,
			{ devices: vi.fn(), approveDevice: vi.fn(), rejectDevice: vi.fn(), revokeDevice: vi.fn() },
			new Notices(store),
		).changed("pending", device("phone", "pending"));
		expect(store.state.devices?.map((d) => d.name)).toEqual(["laptop", "phone"]);
		expect(store.state.notices.map((n) => n.text)).toEqual(["A new device, “phone”, asks to join your account. Review it under Devices."]);
	});

	it("ignores device events while this device still waits for approval", () => {
		const store = storeWith({ phase: "pending" });
		new Devices(
			store,
			{ devices: vi.fn(), approveDevice: vi.fn(), rejectDevice: vi.fn(), revokeDevice: vi.fn() },
			new Notices(store),
		).changed("pending", device("phone", "pending"));
		expect(store.state.devices).toBeNull();
		expect(store.state.notices).toEqual([]);
	});

	it("approves a device, then shows the relay's list", async () => {
		const store = storeWith({ phase: "ready" });
		const calls: string[] = [];
		const client = {
			devices: vi.fn(async () => {
				calls.push("devices");
				return [device("phone", "approved")];
			}),
			approveDevice: vi.fn(async (id: string) => {
				calls.push(`approve ${id}`);
				return device("phone", "approved");
			}),
			rejectDevice: vi.fn(),
			revokeDevice: vi.fn(),
		};
		await new Devices(store, client, new Notices(store)).approve(relayId("phone"));
		expect(calls).toEqual([`approve ${relayId("phone")}`, "devices"]);
		expect(store.state.devices).toEqual([device("phone", "approved")]);
	});

	it("puts a changed device in place of its earlier entry", () => {
		expect(withDevice(null, device("phone", "pending"))).toEqual([device("phone", "pending")]);
		expect(withDevice([device("phone", "pending")], device("phone", "revoked"))).toEqual([device("phone", "revoked")]);
	});
});
