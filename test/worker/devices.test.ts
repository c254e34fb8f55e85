import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { unwrapContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { openMessage } from "../../client/core/message-seal.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { type DeviceKeys, generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { approvalMessage, deviceRequestMessage } from "../../common/protocol/signing.ts";
import { addApprovedDevice, contactPair, newMessageId, rotateContactKey, sealedSend } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestUser } from "./helpers.ts";

afterEach(() => {
	vi.useRealTimers();
});

async function askToJoin(user: TestUser, name = "new phone"): Promise<{ keys: DeviceKeys; deviceId: string; status: number; json: any }> {
	const keys = generateDeviceKeys();
	const publicKey = toB64u(keys.publicKey);
	const res = await api("/api/devices", {
		body: {
			handle: user.handle,
			deviceName: name,
			publicKey,
			signature: toB64u(signDetached(keys.seed, deviceRequestMessage(user.handle, publicKey, name))),
		},
	});
	return { keys, deviceId: res.json?.deviceId, status: res.status, json: res.json };
}

/** What an approving client does: sign the new key and wrap every contact key it holds for it. */
async function approve(
	approver: TestUser,
	newDevice: { keys: DeviceKeys; deviceId: string },
	keys: Array<{ peerId: string; keyVersion: number; key: Uint8Array }>,
) {
	const signature = toB64u(
		signDetached(approver.keys.seed, approvalMessage(approver.accountId, newDevice.deviceId, toB64u(newDevice.keys.publicKey))),
	);
	const envelopes = keys.map((k) => ({
		peerId: k.peerId,
		keyVersion: k.keyVersion,
		...wrapContactKey({
			accounts: [approver.accountId, k.peerId],
			version: k.keyVersion,
			key: k.key,
			senderSeed: approver.keys.seed,
			targetPublicKey: newDevice.keys.publicKey,
		}),
	}));
	return api(`/api/devices/${newDevice.deviceId}/approve`, { token: approver.token, body: { signature, envelopes } });
}

async function deviceCount(user: TestUser): Promise<number> {
	const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM devices WHERE account_id = ?").bind(user.accountId).first<{ n: number }>();
	return row?.n ?? 0;
}

async function queuedFor(user: TestUser, deviceId: string): Promise<number> {
	return runInDurableObject(env.USERS.get(env.USERS.idFromName(user.accountId)), (_, state) =>
		Number(state.storage.sql.exec("SELECT COUNT(*) AS n FROM queue WHERE device_id = ?", deviceId).one().n),
	);
}

async function openKey(me: TestUser, peerId: string, version: number): Promise<Uint8Array | undefined> {
	const { json } = await api(`/api/contacts/${peerId}/keys`, { token: me.token });
	const e = json.envelopes.find((x: any) => x.keyVersion === version);
	if (!e) return undefined;
	return unwrapContactKey({
		nonce: e.nonce,
		box: e.box,
		senderPublicKey: fromB64u(e.fromPublicKey),
		mySeed: me.keys.seed,
		accounts: [me.accountId, peerId],
		version,
	});
}

describe("adding a device", () => {
	it("starts pending; every approved device hears of it at once, or on its next connect", async () => {
		const { alice } = await contactPair();
		const tablet = await addApprovedDevice(alice, "tablet");
		const laptop = await connect(alice.token);
		const tabletSocket = await connect(tablet.token);
		await laptop.next("synced");
		await tabletSocket.next("synced");
		const phone = await askToJoin(alice);
		expect(phone.status).toBe(201);
		expect(phone.json).toMatchObject({ accountId: alice.accountId, status: "pending" });
		for (const socket of [laptop, tabletSocket]) {
			expect(await socket.next("device")).toMatchObject({
				event: "pending",
				device: { deviceId: phone.deviceId, name: "new phone", status: "pending", publicKey: toB64u(phone.keys.publicKey) },
			});
		}
		laptop.ws.close(1000);
		const later = await connect(alice.token);
		expect(await later.next("device")).toMatchObject({ event: "pending", device: { deviceId: phone.deviceId } });
		const session = await signIn(phone.keys);
		expect(session.json).toMatchObject({ deviceStatus: "pending", deviceId: phone.deviceId });
		expect((await api("/api/contacts", { token: session.json.token })).json.error.code).toBe("device_pending");
	});

	it("refuses an approval by another account's device and a forged approval signature", async () => {
		const { alice, bob, key } = await contactPair();
		const phone = await askToJoin(alice);
		const byBob = await approve(bob, phone, []);
		expect(byBob.status).toBe(404);
		const forged = await api(`/api/devices/${phone.deviceId}/approve`, {
			token: alice.token,
			body: {
				signature: toB64u(
					signDetached(generateDeviceKeys().seed, approvalMessage(alice.accountId, phone.deviceId, toB64u(phone.keys.publicKey))),
				),
				envelopes: [],
			},
		});
		expect(forged.json.error.code).toBe("unauthorized");
		const missingKeys = await approve(alice, phone, []);
		expect(missingKeys.json.error.code).toBe("conflict");
		const row = await env.DB.prepare("SELECT status FROM devices WHERE id = ?").bind(phone.deviceId).first<any>();
		expect(row.status).toBe("pending");
		expect(key).toBeTruthy();
	});

	it("after approval reads the next message from an existing contact with no further step", async () => {
		const { alice, bob, key } = await contactPair();
		const pending = await askToJoin(alice);
		const phoneSession = await signIn(pending.keys);
		const phone: TestUser = { ...alice, deviceId: pending.deviceId, keys: pending.keys, token: phoneSession.json.token };
		const phoneSocket = await connect(phone.token);
		await phoneSocket.next("ready");
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		expect((await approve(alice, pending, [{ peerId: bob.accountId, keyVersion: 1, key }])).status).toBe(200);
		expect(await phoneSocket.next("device", (d) => d.event === "approved")).toMatchObject({ device: { deviceId: phone.deviceId } });
		expect(await bobSocket.next("contact")).toMatchObject({ event: "devices_changed", contact: { accountId: alice.accountId } });

		const phoneKey = await openKey(phone, bob.accountId, 1);
		expect(phoneKey).toEqual(key);
		const frame = sealedSend(bob, alice, key, "welcome, new phone");
		bobSocket.send(frame);
		const m = await phoneSocket.next("message");
		expect(openMessage(phoneKey as Uint8Array, m, m.nonce, m.box).body).toEqual({ text: "welcome, new phone" });
		const listed = (await api("/api/devices", { token: alice.token })).json.devices;
		expect(listed.map((d: any) => d.status)).toEqual(["approved", "approved"]);
		expect(listed[1].lastSeenAt).toBeGreaterThan(0);
	});

	it("is included when a contact wraps its next key, and a rotation that leaves it out is refused", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const pending = await askToJoin(alice);
		expect((await approve(alice, pending, [{ peerId: bob.accountId, keyVersion: 1, key }])).status).toBe(200);
		expect(await bobSocket.next("contact", (c) => c.event === "devices_changed")).toMatchObject({
			contact: { accountId: alice.accountId },
		});
		const phone: TestUser = { ...alice, deviceId: pending.deviceId, keys: pending.keys, token: (await signIn(pending.keys)).json.token };

		// Bob loses a device, so his side wraps the next key: for the phone too.
		await api(`/api/devices/${(bobDevices[1] as TestUser).deviceId}/revoke`, { method: "POST", token: bob.token });
		const withoutPhone = await rotateContactKey(bob, alice, 2, (envelopes) => envelopes.filter((e) => e.deviceId !== phone.deviceId));
		expect([withoutPhone.res.status, withoutPhone.res.json.error.code]).toEqual([409, "conflict"]);
		const rotated = await rotateContactKey(bob, alice, 2);
		expect(rotated.res.status).toBe(200);
		const phoneKey2 = await openKey(phone, bob.accountId, 2);
		expect(phoneKey2).toEqual(rotated.key);

		const phoneSocket = await connect(phone.token);
		await phoneSocket.next("synced");
		bobSocket.send(sealedSend(bob, alice, rotated.key, "under version 2", newMessageId(), 2));
		const m = await phoneSocket.next("message");
		expect(m.keyVersion).toBe(2);
		expect(openMessage(phoneKey2 as Uint8Array, m, m.nonce, m.box).body).toEqual({ text: "under version 2" });
	});

	it("counts approved and waiting devices against MAX_DEVICES_PER_ACCOUNT", async () => {
		const alice = await registerUser("alice");
		const limit = Number(env.MAX_DEVICES_PER_ACCOUNT);
		const others = [];
		for (let i = 2; i < limit; i++) others.push(await addApprovedDevice(alice));
		const last = await askToJoin(alice);
		expect(last.status).toBe(201);
		const over = await askToJoin(alice);
		expect([over.status, over.json.error.code]).toEqual([409, "too_many_devices"]);
		expect(over.json.error.message).toContain(`at most ${limit} devices`);
		expect(await deviceCount(alice)).toBe(limit);

		expect((await approve(alice, last, [])).status).toBe(200);
		expect((await askToJoin(alice)).json.error.code).toBe("too_many_devices");
		await api(`/api/devices/${(others[0] as TestUser).deviceId}/revoke`, { method: "POST", token: alice.token });
		expect((await askToJoin(alice)).status).toBe(201);
	});

	it("lets at most three devices wait at once even when a stranger sends many asks together", async () => {
		const alice = await registerUser("alice");
		const asks = await Promise.all(Array.from({ length: 5 }, (_, i) => askToJoin(alice, `phone ${i}`)));
		expect(asks.filter((a) => a.status === 201)).toHaveLength(3);
		expect(asks.filter((a) => a.status !== 201).map((a) => a.json.error.code)).toEqual(["too_many_devices", "too_many_devices"]);
		expect(await deviceCount(alice)).toBe(4);
	});

	it("lets at most three devices wait at once, and an ask nobody answered lapses after a day", async () => {
		const alice = await registerUser("alice");
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const waiting = [await askToJoin(alice), await askToJoin(alice), await askToJoin(alice)];
		expect(waiting.map((w) => w.status)).toEqual([201, 201, 201]);
		const fourth = await askToJoin(alice);
		expect([fourth.status, fourth.json.error.code]).toEqual([409, "too_many_devices"]);
		expect(fourth.json.error.message).toContain("waiting for approval");
		expect(await deviceCount(alice)).toBe(4);
		// Rejecting one frees its place.
		await api(`/api/devices/${waiting[0]?.deviceId}/reject`, { method: "POST", token: alice.token });
		vi.setSystemTime(start + 3_600_000);
		const late = await askToJoin(alice);
		expect(late.status).toBe(201);

		vi.setSystemTime(start + 86_400_000);
		const laptop = { ...alice, token: (await signIn(alice.keys)).json.token };
		const socket = await connect(laptop.token);
		await socket.next("synced");
		const fresh = await askToJoin(alice);
		expect(fresh.status).toBe(201);
		for (const lapsed of [waiting[1], waiting[2]]) {
			expect(await socket.next("device", (d) => d.event === "revoked" && d.device.deviceId === lapsed?.deviceId)).toBeTruthy();
			expect((await signIn((lapsed as { keys: DeviceKeys }).keys)).json.error.code).toBe("device_revoked");
		}
		// The ask made an hour after the others has not lapsed yet and can still be approved.
		expect((await approve(laptop, late, [])).status).toBe(200);
	});
});

describe("the device list", () => {
	it("shows a device as last seen when its socket closed, not only when it connected", async () => {
		const { alice } = await contactPair();
		const phone = await addApprovedDevice(alice);
		vi.useFakeTimers({ toFake: ["Date"] });
		const connectedAt = Date.now();
		const socket = await connect(phone.token);
		await socket.next("synced");
		// Signed in afresh each time: the clock moves past the first session's lifetime.
		const lastSeen = async () => {
			const { token } = (await signIn(alice.keys)).json;
			return (await api("/api/devices", { token })).json.devices.find((d: any) => d.deviceId === phone.deviceId).lastSeenAt;
		};
		// vi.waitFor moves the fake clock on by its polling interval, so times are compared by order.
		await vi.waitFor(async () => expect(await lastSeen()).toBeGreaterThanOrEqual(connectedAt), { timeout: 5000 });
		vi.setSystemTime(connectedAt + 3_600_000);
		const closedAt = Date.now();
		expect(await lastSeen()).toBeLessThan(closedAt);
		socket.ws.close(1000);
		await vi.waitFor(async () => expect(await lastSeen()).toBeGreaterThanOrEqual(closedAt), { timeout: 5000 });
	});
});

describe("revoking a device", () => {
	it("closes its socket, ends its tokens and logins, and requires a new contact key that it never gets", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 1 });
		const phone = aliceDevices[1] as TestUser;
		const phoneSocket = await connect(phone.token);
		await phoneSocket.next("ready");
		const laptop = await connect(alice.token);
		const bobSocket = await connect(bob.token);
		await laptop.next("synced");
		await bobSocket.next("synced");
		// Left unacked on the phone, so it is in the phone's queue when the phone is revoked.
		bobSocket.send(sealedSend(bob, alice, key, "unread on the phone"));
		await phoneSocket.next("message");
		await laptop.next("message");
		expect(await queuedFor(alice, phone.deviceId)).toBe(1);

		// Within the one round trip of the revoke: the phone's socket is closed before its answer arrives.
		let answered = false;
		const closed = phoneSocket.closed.then(({ code }) => ({ code, beforeAnswer: !answered }));
		const revoked = await api(`/api/devices/${phone.deviceId}/revoke`, { method: "POST", token: alice.token });
		answered = true;
		expect(revoked.json.device.status).toBe("revoked");
		expect(await closed).toEqual({ code: 4001, beforeAnswer: true });
		expect(phoneSocket.frames.at(-1)).toMatchObject({ type: "device", event: "revoked", device: { deviceId: phone.deviceId } });
		expect(await queuedFor(alice, phone.deviceId)).toBe(0);
		expect((await api("/api/contacts", { token: phone.token })).json.error.code).toBe("device_revoked");
		expect((await signIn(phone.keys)).json.error.code).toBe("device_revoked");

		expect(await laptop.next("contact", (c) => c.event === "rotation_required")).toBeTruthy();
		expect(await bobSocket.next("contact", (c) => c.event === "rotation_required")).toBeTruthy();
		bobSocket.send(sealedSend(bob, alice, key, "old key"));
		expect(await bobSocket.next("error")).toMatchObject({ code: "stale_key" });

		// Alice's laptop rotates: version 2 for the remaining devices of both accounts, never the revoked one.
		const withRevoked = await rotateContactKey(alice, bob, 2, (envelopes) => [
			...envelopes.slice(1),
			{ ...envelopes[0], deviceId: phone.deviceId },
		]);
		expect(withRevoked.res.status).toBe(409);
		const { key: key2, res: rotated } = await rotateContactKey(alice, bob, 2);
		expect(rotated.json.contact.keyVersion).toBe(2);
		expect(await bobSocket.next("contact", (c) => c.event === "rotated")).toMatchObject({ contact: { keyVersion: 2 } });

		const bobKey2 = await openKey(bob, alice.accountId, 2);
		expect(bobKey2).toEqual(key2);
		bobSocket.send(sealedSend(bob, alice, key2, "after revocation", newMessageId(), 2));
		const m = await laptop.next("message");
		expect(openMessage(key2, m, m.nonce, m.box).body).toEqual({ text: "after revocation" });
		expect(() => openMessage(key, m, m.nonce, m.box)).toThrow();
		// The revoked device has no envelope for version 2, and the old one it may remember cannot open it.
		const keysOfRevoked = await runInDurableObject(env.USERS.get(env.USERS.idFromName(alice.accountId)), (_, state) =>
			state.storage.sql.exec("SELECT * FROM envelopes WHERE device_id = ?", phone.deviceId).toArray(),
		);
		expect(keysOfRevoked).toEqual([]);
	});

	it("lets exactly one of two simultaneous rotations win, so both sides hold the same new key", async () => {
		const { alice, bob, aliceDevices } = await contactPair({ extraDevices: 1 });
		await api(`/api/devices/${(aliceDevices[1] as TestUser).deviceId}/revoke`, { method: "POST", token: alice.token });
		const [fromAlice, fromBob] = await Promise.all([rotateContactKey(alice, bob, 2), rotateContactKey(bob, alice, 2)]);
		expect([fromAlice.res.status, fromBob.res.status].sort()).toEqual([200, 409]);
		const winner = fromAlice.res.status === 200 ? fromAlice.key : fromBob.key;
		expect(await openKey(alice, bob.accountId, 2)).toEqual(winner);
		expect(await openKey(bob, alice.accountId, 2)).toEqual(winner);
	});

	it("lets a device revoke itself: its socket closes and both accounts are told to rotate", async () => {
		const { alice, bob, aliceDevices } = await contactPair({ extraDevices: 1 });
		const phone = aliceDevices[1] as TestUser;
		const phoneSocket = await connect(phone.token);
		const laptop = await connect(alice.token);
		const bobSocket = await connect(bob.token);
		await phoneSocket.next("synced");
		await laptop.next("synced");
		await bobSocket.next("synced");
		expect((await api(`/api/devices/${phone.deviceId}/revoke`, { method: "POST", token: phone.token })).json.device.status).toBe("revoked");
		expect((await phoneSocket.closed).code).toBe(4001);
		expect(await laptop.next("device", (d) => d.event === "revoked")).toMatchObject({ device: { deviceId: phone.deviceId } });
		expect(await laptop.next("contact", (c) => c.event === "rotation_required")).toMatchObject({ contact: { accountId: bob.accountId } });
		expect(await bobSocket.next("contact", (c) => c.event === "rotation_required")).toMatchObject({
			contact: { accountId: alice.accountId },
		});
		expect((await api("/api/devices", { token: alice.token })).json.devices.map((d: any) => d.status)).toEqual(["approved", "revoked"]);
	});

	it("leaves messages sealed under the old key readable by a device that had it", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 2 });
		const [laptop, phone, tablet] = aliceDevices as [TestUser, TestUser, TestUser];
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const before = sealedSend(bob, alice, key, "sent under version 1");
		bobSocket.send(before);
		await bobSocket.next("sent");
		await api(`/api/devices/${phone.deviceId}/revoke`, { method: "POST", token: laptop.token });
		await bobSocket.next("contact", (c) => c.event === "rotation_required");
		expect((await rotateContactKey(bob, alice, 2)).res.status).toBe(200);

		// The tablet was offline throughout: it drains the version 1 message after the rotation.
		const tabletSocket = await connect(tablet.token);
		const m = await tabletSocket.next("message");
		expect(m).toMatchObject({ id: before.id, keyVersion: 1 });
		const tabletKey1 = await openKey(tablet, bob.accountId, 1);
		expect(tabletKey1).toEqual(key);
		expect(openMessage(tabletKey1 as Uint8Array, m, m.nonce, m.box).body).toEqual({ text: "sent under version 1" });
		expect(await openKey(tablet, bob.accountId, 2)).toBeDefined();
	});

	it("rejecting a pending device removes it", async () => {
		const { alice } = await contactPair();
		const pending = await askToJoin(alice);
		expect((await api(`/api/devices/${pending.deviceId}/reject`, { method: "POST", token: alice.token })).json.device.status).toBe(
			"revoked",
		);
		expect((await signIn(pending.keys)).json.error.code).toBe("device_revoked");
	});
});

describe("independent device queues", () => {
	it("three devices each receive and ack on their own; a message acked by one stays queued for the others", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 2 });
		const a = await connect(alice.token);
		const f = sealedSend(alice, bob, key, "three copies");
		a.send(f);
		await a.next("sent");
		const sockets = await Promise.all(bobDevices.map((d) => connect(d.token)));
		for (const s of sockets) expect((await s.next("message")).id).toBe(f.id);
		sockets[0]?.send({ type: "ack", ids: [f.id] });
		await vi.waitFor(async () => {
			const again = await connect((bobDevices[0] as TestUser).token);
			expect(await again.next("ready")).toMatchObject({ queued: 0 });
		});
		for (const d of bobDevices.slice(1)) {
			const again = await connect(d.token);
			expect(await again.next("ready")).toMatchObject({ queued: 1 });
		}
	});

	it("a device whose messages expired unread is told it may have missed some", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		a.send(sealedSend(alice, bob, key, "you will never read this"));
		await a.next("sent");
		vi.setSystemTime(start + 31 * 86_400_000);
		await runDurableObjectAlarm(env.USERS.get(env.USERS.idFromName(bob.accountId)));
		const fresh = (await signIn(bob.keys)).json.token;
		const b = await connect(fresh);
		expect(await b.next("ready")).toMatchObject({ queued: 0 });
		expect(await b.next("missed")).toMatchObject({ count: 1 });
	});
});
