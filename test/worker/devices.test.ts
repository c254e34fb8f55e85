import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { unwrapContactKey } from "../../client/core/contact-key.ts";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import { openMessage } from "../../client/core/message-seal.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import type { DeviceKeys } from "../../common/nacl.ts";
import { INVALID_LINK } from "../../worker/relay/devices/link-store.ts";
import { addApprovedDevice, contactPair, newMessageId, rotateContactKey, sealedSend } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestUser } from "./helpers.ts";
import { approve, askToJoin, claimLinkCode, currentList, nextList, openLinkCode, removeDevice, signedInAs } from "./linking.ts";

afterEach(() => {
	vi.useRealTimers();
});

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
	}).key;
}

describe("adding a device", () => {
	it("starts pending with the link it claimed; every approved device hears of it at once, or on its next connect", async () => {
		const { alice } = await contactPair();
		const tablet = await addApprovedDevice(alice, "tablet");
		const laptop = await connect(alice.token);
		const tabletSocket = await connect(tablet.token);
		await laptop.next("synced");
		await tabletSocket.next("synced");
		const phone = await askToJoin(alice);
		expect(phone.status).toBe(201);
		expect(phone.json).toEqual({ accountId: alice.accountId, deviceId: phone.deviceId, status: "pending" });
		const link = { linkId: phone.linkKeys.linkId, proof: expect.any(String) };
		for (const socket of [laptop, tabletSocket]) {
			expect(await socket.next("device")).toMatchObject({
				event: "pending",
				device: { deviceId: phone.deviceId, name: "new phone", status: "pending", publicKey: toB64u(phone.keys.publicKey), link },
			});
		}
		laptop.ws.close(1000);
		const later = await connect(alice.token);
		expect(await later.next("device")).toMatchObject({ event: "pending", device: { deviceId: phone.deviceId, link } });
		const listed = (await api("/api/devices", { token: alice.token })).json.devices.find((d: any) => d.deviceId === phone.deviceId);
		expect(listed).toMatchObject({ status: "pending", link });
		const session = await signIn(phone.keys);
		expect(session.json).toMatchObject({ deviceStatus: "pending", deviceId: phone.deviceId });
		expect((await api("/api/contacts", { token: session.json.token })).json.error.code).toBe("device_pending");
	});

	it("refuses an approval by another account's device, one signed by another identity key and one missing a contact key; the device stays pending", async () => {
		const { alice, bob } = await contactPair();
		const phone = await askToJoin(alice);
		const byBob = await approve(bob, phone, { keys: [] });
		expect([byBob.status, byBob.json.error.code]).toEqual([404, "not_found"]);
		const impostor = { ...alice, identity: generateAccountIdentity() };
		const list = nextList(
			await currentList(alice),
			{ add: { deviceId: phone.deviceId, publicKey: toB64u(phone.keys.publicKey) } },
			impostor.identity,
			{ identityKey: toB64u(impostor.identity.publicKey) },
		);
		const forged = await approve(alice, phone, { list });
		expect([forged.status, forged.json.error.code]).toEqual([401, "unauthorized"]);
		const missingKeys = await approve(alice, phone, { keys: [] });
		expect([missingKeys.status, missingKeys.json.error.code]).toEqual([409, "conflict"]);
		const row = await env.DB.prepare("SELECT status FROM devices WHERE id = ?").bind(phone.deviceId).first<any>();
		expect(row.status).toBe("pending");
		expect((await currentList(alice)).version).toBe(1);
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
		const approved = await approve(alice, pending);
		expect(approved.status).toBe(200);
		expect(approved.json.device).toMatchObject({ deviceId: phone.deviceId, status: "approved" });
		expect(approved.json.device.link).toBeUndefined();
		expect(await phoneSocket.next("device", (d) => d.event === "approved")).toMatchObject({ device: { deviceId: phone.deviceId } });
		expect(await phoneSocket.next("device_list")).toMatchObject({ deviceList: { version: 2 } });
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
		// D1 keeps the signature of the list that added it as the approval.
		const row = await env.DB.prepare("SELECT approved_by, approval_signature FROM devices WHERE id = ?").bind(phone.deviceId).first<any>();
		expect(row).toEqual({ approved_by: alice.deviceId, approval_signature: (await currentList(alice)).signature });
	});

	it("is included when a contact wraps its next key, and a rotation that leaves it out is refused", async () => {
		const { alice, bob, bobDevices } = await contactPair({ extraDevices: 1 });
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const pending = await askToJoin(alice);
		expect((await approve(alice, pending)).status).toBe(200);
		expect(await bobSocket.next("contact", (c) => c.event === "devices_changed")).toMatchObject({
			contact: { accountId: alice.accountId },
		});
		const phone = await signedInAs(alice, pending);

		// Bob loses a device, so his side wraps the next key: for the phone too.
		expect((await removeDevice(bob, (bobDevices[1] as TestUser).deviceId)).status).toBe(200);
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
		const user = await registerUser("alice");
		const limit = Number(env.MAX_DEVICES_PER_ACCOUNT);
		// Claims are limited to DEVICE_REQUESTS_PER_HOUR (5): 13 minutes apart, no hour holds more than 5.
		vi.useFakeTimers({ toFake: ["Date"] });
		const later = async (): Promise<TestUser> => {
			vi.setSystemTime(Date.now() + 13 * 60_000);
			return { ...user, token: (await signIn(user.keys)).json.token };
		};
		const others = [];
		for (let i = 2; i < limit; i++) others.push(await addApprovedDevice(await later()));
		let alice = await later();
		const last = await askToJoin(alice);
		expect(last.status).toBe(201);
		const over = await askToJoin(alice);
		expect([over.status, over.json.error.code]).toEqual([409, "too_many_devices"]);
		expect(over.json.error.message).toContain(`at most ${limit} devices`);
		expect(await deviceCount(alice)).toBe(limit);

		expect((await approve(alice, last)).status).toBe(200);
		alice = await later();
		expect((await askToJoin(alice)).json.error.code).toBe("too_many_devices");
		expect((await removeDevice(alice, (others[0] as TestUser).deviceId)).status).toBe(200);
		expect((await askToJoin(alice)).status).toBe(201);
	});

	it("lets exactly one of many claims of one link code at once through", async () => {
		const alice = await registerUser("alice");
		const opened = await openLinkCode(alice);
		const claims = await Promise.all(Array.from({ length: 5 }, (_, i) => claimLinkCode(alice.handle, opened.linkKeys, `phone ${i}`)));
		expect(claims.filter((c) => c.status === 201)).toHaveLength(1);
		expect(claims.filter((c) => c.status !== 201).map((c) => c.json.error)).toEqual(
			Array(4).fill({ code: "not_found", message: INVALID_LINK }),
		);
		expect(await deviceCount(alice)).toBe(2);
	});

	it("lapses a device nobody approved or rejected after a day", async () => {
		const alice = await registerUser("alice");
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const waiting = [await askToJoin(alice), await askToJoin(alice)];
		expect(waiting.map((w) => w.status)).toEqual([201, 201]);
		// Rejecting one frees its place at once.
		expect((await removeDevice(alice, waiting[0]?.deviceId as string, { reject: true })).json.device.status).toBe("revoked");
		vi.setSystemTime(start + 3_600_000);
		const hourLater = { ...alice, token: (await signIn(alice.keys)).json.token };
		const late = await askToJoin(hourLater);
		expect(late.status).toBe(201);

		vi.setSystemTime(start + 86_400_000);
		const laptop = { ...alice, token: (await signIn(alice.keys)).json.token };
		const socket = await connect(laptop.token);
		await socket.next("synced");
		const fresh = await askToJoin(laptop);
		expect(fresh.status).toBe(201);
		const lapsed = waiting[1] as { deviceId: string; keys: DeviceKeys };
		expect(await socket.next("device", (d) => d.event === "revoked" && d.device.deviceId === lapsed.deviceId)).toBeTruthy();
		expect((await signIn(lapsed.keys)).json.error.code).toBe("device_revoked");
		// The one that claimed an hour after the others has not lapsed yet and can still be approved.
		expect((await approve(laptop, late)).status).toBe(200);
	});
});

describe("the device list", () => {
	it("shows a device as online while its socket is open, and as last seen when it closed, not only when it connected", async () => {
		const { alice } = await contactPair();
		const phone = await addApprovedDevice(alice);
		vi.useFakeTimers({ toFake: ["Date"] });
		const connectedAt = Date.now();
		const socket = await connect(phone.token);
		await socket.next("synced");
		// Signed in afresh each time: the clock moves past the first session's lifetime.
		const listed = async () => {
			const { token } = (await signIn(alice.keys)).json;
			return (await api("/api/devices", { token })).json.devices.find((d: any) => d.deviceId === phone.deviceId);
		};
		const lastSeen = async () => (await listed()).lastSeenAt;
		// vi.waitFor moves the fake clock on by its polling interval, so times are compared by order.
		await vi.waitFor(async () => expect(await lastSeen()).toBeGreaterThanOrEqual(connectedAt), { timeout: 5000 });
		expect((await listed()).online).toBe(true);
		vi.setSystemTime(connectedAt + 3_600_000);
		const closedAt = Date.now();
		expect(await lastSeen()).toBeLessThan(closedAt);
		socket.ws.close(1000);
		await vi.waitFor(async () => expect(await lastSeen()).toBeGreaterThanOrEqual(closedAt), { timeout: 5000 });
		// Gone: the listing says when, and no longer that it is connected.
		expect((await listed()).online).toBeUndefined();
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
		const revoked = await removeDevice(alice, phone.deviceId);
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
		await removeDevice(alice, (aliceDevices[1] as TestUser).deviceId);
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
		expect((await removeDevice(phone, phone.deviceId)).json.device.status).toBe("revoked");
		expect((await phoneSocket.closed).code).toBe(4001);
		expect(await laptop.next("device", (d) => d.event === "revoked")).toMatchObject({ device: { deviceId: phone.deviceId } });
		expect(await laptop.next("contact", (c) => c.event === "rotation_required")).toMatchObject({ contact: { accountId: bob.accountId } });
		expect(await bobSocket.next("contact", (c) => c.event === "rotation_required")).toMatchObject({
			contact: { accountId: alice.accountId },
		});
		expect((await api("/api/devices", { token: alice.token })).json.devices.map((d: any) => d.status)).toEqual(["approved", "revoked"]);
	});

	// Four devices linked through the real flow first: well within the default 5 s alone, not always beside other files.
	it("leaves messages sealed under the old key readable by a device that had it", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 2 });
		const [laptop, phone, tablet] = aliceDevices as [TestUser, TestUser, TestUser];
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const before = sealedSend(bob, alice, key, "sent under version 1");
		bobSocket.send(before);
		await bobSocket.next("sent");
		await removeDevice(laptop, phone.deviceId);
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
	}, 15_000);

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
	// Four devices linked through the real flow first: well within the default 5 s alone, not always beside other files.
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
	}, 15_000);

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
