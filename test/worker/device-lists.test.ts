import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import { toB64u } from "../../common/encoding.ts";
import type { SignedDeviceList } from "../../common/protocol/device-list.ts";
import { addApprovedDevice, addPendingDevice, contactPair } from "./fixtures.ts";
import { api, connect, firstDeviceList, registerUser, type TestUser } from "./helpers.ts";
import { approvalBody, approve, askToJoin, type ClaimingDevice, currentList, nextList, removeDevice } from "./linking.ts";

/** Everything a refused list could have changed: the stored list, the devices (object and D1) and the identity key in D1. */
async function snapshot(user: TestUser) {
	const { json } = await api("/api/devices", { token: user.token });
	const d1 = await env.DB.prepare("SELECT id, status, approval_signature FROM devices WHERE account_id = ? ORDER BY id")
		.bind(user.accountId)
		.all();
	const account = await env.DB.prepare("SELECT identity_key FROM accounts WHERE id = ?").bind(user.accountId).first();
	return { deviceList: json.deviceList, devices: json.devices.map((d: any) => [d.deviceId, d.status]), d1: d1.results, account };
}

const listed = (d: ClaimingDevice) => ({ deviceId: d.deviceId, publicKey: toB64u(d.keys.publicKey) });

describe("the signed device list", () => {
	it("is published once after registration and served with every listing of the account's devices", async () => {
		const alice = await registerUser("alice", { publish: false });
		expect((await api("/api/devices", { token: alice.token })).json.deviceList).toBeNull();
		const first = firstDeviceList(alice);
		const published = await api("/api/devices/list", { token: alice.token, body: { deviceList: first } });
		expect(published).toEqual({ status: 200, json: { deviceList: first } });
		expect((await api("/api/devices", { token: alice.token })).json.deviceList).toEqual(first);
		const again = await api("/api/devices/list", { token: alice.token, body: { deviceList: first } });
		expect([again.status, again.json.error.code]).toEqual([409, "conflict"]);
	});

	it.each<[string, (list: SignedDeviceList, phone: ClaimingDevice, alice: TestUser) => SignedDeviceList, number, string]>([
		[
			"skips a version",
			(list, phone, alice) => nextList(list, { add: listed(phone) }, alice.identity, { version: list.version + 2 }),
			409,
			"conflict",
		],
		[
			"rolls back to the stored version",
			(list, phone, alice) => nextList(list, { add: listed(phone) }, alice.identity, { version: list.version }),
			409,
			"conflict",
		],
		["leaves the new device out", (list, _, alice) => nextList(list, {}, alice.identity), 400, "bad_request"],
		[
			"names the new device under another key",
			(list, phone, alice) =>
				nextList(list, { add: { ...listed(phone), publicKey: list.devices[0]?.publicKey as string } }, alice.identity),
			400,
			"bad_request",
		],
		[
			"has a bad signature",
			(list, phone, alice) => {
				const good = nextList(list, { add: listed(phone) }, alice.identity);
				return { ...good, signature: toB64u(new Uint8Array(64).fill(1)) };
			},
			401,
			"unauthorized",
		],
		[
			"is signed by another identity key",
			(list, phone) => {
				const other = generateAccountIdentity();
				return nextList(list, { add: listed(phone) }, other, { identityKey: toB64u(other.publicKey) });
			},
			401,
			"unauthorized",
		],
	])("refuses an approval whose list %s with %i %s, and changes nothing", async (_, make, status, code) => {
		const alice = await registerUser("alice");
		const phone = await askToJoin(alice);
		const before = await snapshot(alice);
		const res = await approve(alice, phone, { list: make(await currentList(alice), phone, alice) });
		expect([res.status, res.json.error.code]).toEqual([status, code]);
		expect(await snapshot(alice)).toEqual(before);
		// The same approval with the right list still goes through.
		expect((await approve(alice, phone)).status).toBe(200);
	});

	it("refuses a list from a pending or a revoked device, and changes nothing", async () => {
		const alice = await registerUser("alice");
		const pending = await addPendingDevice(alice);
		const lost = await addApprovedDevice(alice, "lost phone");
		expect((await removeDevice(alice, lost.deviceId)).status).toBe(200);
		const phone = await askToJoin(alice);
		const before = await snapshot(alice);
		const body = await approvalBody(alice, phone);
		for (const [device, status, code] of [
			[pending, 403, "device_pending"],
			[lost, 401, "device_revoked"],
		] as const) {
			const approval = await api(`/api/devices/${phone.deviceId}/approve`, { token: device.token, body });
			expect([code, approval.status, approval.json.error.code]).toEqual([code, status, code]);
			const publish = await api("/api/devices/list", { token: device.token, body: { deviceList: body.deviceList } });
			expect([code, publish.status, publish.json.error.code]).toEqual([code, status, code]);
			const revoke = await api(`/api/devices/${alice.deviceId}/revoke`, {
				token: device.token,
				body: { deviceList: nextList(before.deviceList, { remove: alice.deviceId }, alice.identity) },
			});
			expect([code, revoke.status, revoke.json.error.code]).toEqual([code, status, code]);
		}
		expect(await snapshot(alice)).toEqual(before);
	});

	it("refuses a list sent with another account's token, and changes nothing on either account", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const phone = await askToJoin(alice);
		const [aliceBefore, bobBefore] = [await snapshot(alice), await snapshot(bob)];
		const body = await approvalBody(alice, phone);
		const approval = await api(`/api/devices/${phone.deviceId}/approve`, { token: bob.token, body });
		expect([approval.status, approval.json.error.code]).toEqual([404, "not_found"]);
		const publish = await api("/api/devices/list", { token: bob.token, body: { deviceList: body.deviceList } });
		expect([publish.status, publish.json.error.code]).toEqual([400, "bad_request"]);
		const revoke = await api(`/api/devices/${alice.deviceId}/revoke`, {
			token: bob.token,
			body: { deviceList: nextList(aliceBefore.deviceList, { remove: alice.deviceId }, alice.identity) },
		});
		expect([revoke.status, revoke.json.error.code]).toEqual([404, "not_found"]);
		expect([await snapshot(alice), await snapshot(bob)]).toEqual([aliceBefore, bobBefore]);
	});

	it("refuses a list sent without a session token, and changes nothing", async () => {
		const alice = await registerUser("alice", { publish: false });
		const phone = await addPendingDevice(alice);
		const before = await snapshot(alice);
		const first = firstDeviceList(alice);
		const next = nextList(first, { add: listed(phone.claim) }, alice.identity);
		for (const [path, body] of [
			["/api/devices/list", { deviceList: first }],
			[`/api/devices/${phone.deviceId}/approve`, await approvalBody(alice, phone.claim, { list: next, keys: [] })],
			[`/api/devices/${alice.deviceId}/revoke`, { deviceList: nextList(first, { remove: alice.deviceId }, alice.identity) }],
		] as const) {
			const res = await api(path, { body });
			expect([path, res.status, res.json.error.code]).toEqual([path, 401, "unauthorized"]);
		}
		expect(await snapshot(alice)).toEqual(before);
	});

	it("revokes an approved device only with the next list without it, lastRemoval at that version", async () => {
		const alice = await registerUser("alice");
		const phone = await addApprovedDevice(alice);
		const before = await snapshot(alice);
		const list = before.deviceList as SignedDeviceList;
		const refusals = [
			undefined,
			{},
			{ deviceList: nextList(list, {}, alice.identity, { lastRemoval: list.version + 1 }) },
			{ deviceList: nextList(list, { remove: phone.deviceId }, alice.identity, { lastRemoval: list.lastRemoval }) },
			{ deviceList: nextList(list, { remove: alice.deviceId }, alice.identity) },
		];
		for (const body of refusals) {
			const res = await api(`/api/devices/${phone.deviceId}/revoke`, { method: "POST", token: alice.token, body });
			expect([JSON.stringify(body)?.slice(0, 40), res.status, res.json.error.code]).toEqual([
				JSON.stringify(body)?.slice(0, 40),
				400,
				"bad_request",
			]);
		}
		expect(await snapshot(alice)).toEqual(before);
		const revoked = await removeDevice(alice, phone.deviceId);
		expect(revoked.json.device).toMatchObject({ deviceId: phone.deviceId, status: "revoked" });
		expect(await currentList(alice)).toMatchObject({ version: 3, lastRemoval: 3, devices: [{ deviceId: alice.deviceId }] });
	});

	it("rejects a pending device with no list, and refuses a list given for it", async () => {
		const alice = await registerUser("alice");
		const pending = await addPendingDevice(alice);
		const list = await currentList(alice);
		const withList = await api(`/api/devices/${pending.deviceId}/reject`, {
			token: alice.token,
			body: { deviceList: nextList(list, {}, alice.identity, { lastRemoval: list.version + 1 }) },
		});
		expect([withList.status, withList.json.error.code]).toEqual([400, "bad_request"]);
		const rejected = await api(`/api/devices/${pending.deviceId}/reject`, { method: "POST", token: alice.token, body: {} });
		expect(rejected.json.device).toMatchObject({ deviceId: pending.deviceId, status: "revoked" });
		expect(await currentList(alice)).toEqual(list);
	});

	it("lets a pending device withdraw itself without a list, and nothing else", async () => {
		const alice = await registerUser("alice");
		const pending = await addPendingDevice(alice);
		const other = await addPendingDevice(alice, "other phone");
		const notOthers = await api(`/api/devices/${other.deviceId}/reject`, { method: "POST", token: pending.token });
		expect(notOthers.json.error.code).toBe("device_pending");
		const withdrawn = await api(`/api/devices/${pending.deviceId}/reject`, { method: "POST", token: pending.token });
		expect(withdrawn.json.device).toMatchObject({ deviceId: pending.deviceId, status: "revoked" });
		expect((await currentList(alice)).version).toBe(1);
	});

	it("reaches the account's sockets as a device_list frame on every change, and each accepted contact's devices as devices_changed", async () => {
		const { alice, bob, aliceDevices } = await contactPair({ extraDevices: 1 });
		const phone = aliceDevices[1] as TestUser;
		const laptopSocket = await connect(alice.token);
		const phoneSocket = await connect(phone.token);
		const bobSocket = await connect(bob.token);
		for (const s of [laptopSocket, phoneSocket, bobSocket]) await s.next("synced");
		const stranger = await registerUser("stranger");
		const strangerSocket = await connect(stranger.token);
		await strangerSocket.next("synced");

		const tablet = await askToJoin(alice, "tablet");
		expect((await approve(alice, tablet)).status).toBe(200);
		const added = await currentList(alice);
		expect(added).toMatchObject({ version: 3, lastRemoval: 0 });
		for (const s of [laptopSocket, phoneSocket]) expect(await s.next("device_list")).toEqual({ type: "device_list", deviceList: added });
		expect(await bobSocket.next("contact", (c) => c.event === "devices_changed")).toMatchObject({
			contact: { accountId: alice.accountId },
		});

		expect((await removeDevice(phone, tablet.deviceId)).status).toBe(200);
		const removed = await currentList(alice);
		expect(removed).toMatchObject({ version: 4, lastRemoval: 4 });
		for (const s of [laptopSocket, phoneSocket]) expect(await s.next("device_list")).toEqual({ type: "device_list", deviceList: removed });
		expect(await bobSocket.next("contact", (c) => c.event === "devices_changed")).toMatchObject({
			contact: { accountId: alice.accountId },
		});
		expect(await bobSocket.next("contact", (c) => c.event === "rotation_required")).toBeTruthy();

		// Nobody else hears of it: not bob's own sockets as a list, not a stranger.
		strangerSocket.send({ type: "ping" });
		await strangerSocket.next("pong");
		expect(strangerSocket.frames.filter((f) => f.type === "device_list" || f.type === "contact")).toEqual([]);
		expect(bobSocket.frames.filter((f) => f.type === "device_list")).toEqual([]);
	}, 15_000);
});
