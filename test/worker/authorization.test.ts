import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { ENVELOPE_BOX_MIN } from "../../common/protocol/wire.ts";
import { addApprovedDevice, addPendingDevice, contactPair, newMessageId, rotateContactKey, sealedAck, sealedSend } from "./fixtures.ts";
import { api, connect, signIn, type TestUser } from "./helpers.ts";
import { removeDevice } from "./linking.ts";

/** Well-formed but meaningless: these tests are about who may ask, not what they send. */
const envelope = (peer: TestUser) => ({
	accountId: peer.accountId,
	deviceId: peer.deviceId,
	nonce: "A".repeat(32),
	box: toB64u(new Uint8Array(ENVELOPE_BOX_MIN).fill(7)),
});

/** Every authenticated HTTP route, with a valid body where one is needed. */
function routes(peer: TestUser): Array<{ path: string; method: string; body?: unknown }> {
	return [
		{ path: "/api/devices", method: "GET" },
		{ path: "/api/devices/identity", method: "GET" },
		{ path: "/api/devices/links", method: "POST", body: { linkId: newMessageId() } },
		{ path: "/api/contacts", method: "GET" },
		{ path: "/api/contacts", method: "POST", body: { handle: peer.handle } },
		{
			path: `/api/contacts/${peer.accountId}/accept`,
			method: "POST",
			body: { keyVersion: 1, envelopes: [envelope(peer), envelope(peer)] },
		},
		{ path: `/api/contacts/${peer.accountId}/decline`, method: "POST" },
		{ path: `/api/contacts/${peer.accountId}/block`, method: "POST" },
		{ path: `/api/contacts/${peer.accountId}/keys`, method: "GET" },
		{ path: `/api/contacts/${peer.accountId}/devices`, method: "GET" },
	];
}

describe("authorization", () => {
	it("refuses every route and the socket to an unauthenticated caller", async () => {
		const { bob } = await contactPair();
		for (const r of routes(bob)) {
			const { status, json } = await api(r.path, { method: r.method, body: r.body });
			expect([r.path, status, json.error.code]).toEqual([r.path, 401, "unauthorized"]);
		}
		await expect(connect("")).rejects.toThrow(/401/);
	});

	it("refuses a pending device everywhere", async () => {
		const { alice, bob } = await contactPair();
		const pending = await addPendingDevice(alice);
		expect((await signIn(pending.keys)).json.deviceStatus).toBe("pending");
		for (const r of routes(bob)) {
			const { status, json } = await api(r.path, { method: r.method, body: r.body, token: pending.token });
			expect([r.path, status, json.error.code]).toEqual([r.path, 403, "device_pending"]);
		}
		// It may hold a socket open to hear of its approval, and do nothing else on it.
		const socket = await connect(pending.token);
		await socket.next("ready");
		socket.send({ type: "ack", ids: [newMessageId()] });
		expect(await socket.next("error")).toMatchObject({ code: "device_pending" });
		expect(socket.frames.filter((f) => f.type === "message" || f.type === "synced")).toEqual([]);
	});

	it("a pending device's socket hears none of the account's traffic, only its own rejection", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 1 });
		const pending = await addPendingDevice(alice);
		const eavesdropper = await connect(pending.token);
		await eavesdropper.next("ready");
		const laptop = await connect(alice.token);
		const bobSocket = await connect(bob.token);
		await laptop.next("synced");
		await bobSocket.next("synced");

		bobSocket.send({ type: "typing", to: alice.accountId });
		await laptop.next("typing");
		const toAlice = sealedSend(bob, alice, key, "to alice");
		bobSocket.send(toAlice);
		await laptop.next("message");
		laptop.send(sealedAck(alice, bob, key, [toAlice.id]));
		await bobSocket.next("receipt");
		const toBob = sealedSend(alice, bob, key, "to bob");
		laptop.send(toBob);
		await bobSocket.next("message");
		bobSocket.send(sealedAck(bob, alice, key, [toBob.id]));
		await laptop.next("receipt");
		await runInDurableObject(env.USERS.get(env.USERS.idFromName(alice.accountId)), (relay) => relay.reloadAccount());

		await removeDevice(alice, (aliceDevices[1] as TestUser).deviceId);
		await laptop.next("contact", (c) => c.event === "rotation_required");
		expect((await rotateContactKey(bob, alice, 2)).res.status).toBe(200);
		await laptop.next("contact", (c) => c.event === "rotated");

		await api(`/api/devices/${pending.deviceId}/reject`, { method: "POST", token: alice.token });
		expect((await eavesdropper.closed).code).toBe(4001);
		expect(eavesdropper.frames).toMatchObject([
			{ type: "ready", deviceId: pending.deviceId, queued: 0 },
			{ type: "device", event: "revoked", device: { deviceId: pending.deviceId } },
		]);
		expect(eavesdropper.frames).toHaveLength(2);
	});

	it("a revoked device cannot sign in, its live token stops working at once and its socket is closed", async () => {
		const { alice, bob } = await contactPair();
		const phone = await addApprovedDevice(alice);
		const socket = await connect(phone.token);
		await socket.next("ready");
		await removeDevice(alice, phone.deviceId);
		expect((await socket.closed).code).toBe(4001);
		for (const r of routes(bob)) {
			const { status, json } = await api(r.path, { method: r.method, body: r.body, token: phone.token });
			expect([r.path, status, json.error.code]).toEqual([r.path, 401, "device_revoked"]);
		}
		await expect(connect(phone.token)).rejects.toThrow(/401/);
		const again = await signIn(phone.keys);
		expect(again.json.error.code).toBe("device_revoked");
		expect((await api("/api/contacts", { token: alice.token })).status).toBe(200);
	});

	it("a token names one account: another account's contacts and keys stay out of reach", async () => {
		const { alice, bob } = await contactPair();
		const other = await contactPair();
		const keys = await api(`/api/contacts/${bob.accountId}/keys`, { token: other.alice.token });
		expect(keys.status).toBe(404);
		const accept = await api(`/api/contacts/${alice.accountId}/accept`, { token: other.bob.token, body: { keyVersion: 1, envelopes: [] } });
		expect(accept.status).toBe(400);
		const list = await api("/api/contacts", { token: other.alice.token });
		expect(list.json.contacts.map((c: any) => c.accountId)).toEqual([other.bob.accountId]);
	});
});
