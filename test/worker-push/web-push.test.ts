import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { pushKeyResponse } from "../../common/protocol/wire.ts";
import type { ReceivedPush } from "../support/push-stand-in.ts";
import { PUSH_BASE, TEST_VAPID } from "../support/test-vapid.ts";
import { useFakeClock } from "../worker/fake-clock.ts";
import {
	addApprovedDevice,
	addPendingDevice,
	callNotAllowed,
	callSignal,
	contactPair,
	newMessageId,
	sealedSend,
} from "../worker/fixtures.ts";
import { api, connect, type TestSocket, type TestUser } from "../worker/helpers.ts";
import { removeDevice } from "../worker/linking.ts";

/**
 * Web Push for a closed tab (issue 19), through the real worker, its objects and storage, to
 * the push service stand-in (test/support/push-stand-in.ts), which checks each push's VAPID
 * JWT against the configured key and decrypts it with the subscription's private key, as a
 * push service and a browser would. The stand-in runs outside workerd, so a push is waited
 * for by asking it, with the real clock (performance.now: the tests fake the date).
 */

const advance = useFakeClock();

interface StandInSubscription {
	id: string;
	endpoint: string;
	keys: { p256dh: string; auth: string };
}

/** A browser subscribes: its own key pair and auth secret, made by the stand-in. */
async function browserSubscription(): Promise<StandInSubscription> {
	return (await (await fetch(`${PUSH_BASE}/__stand-in/subscribe`, { method: "POST" })).json()) as StandInSubscription;
}

/** The device sends its subscription to the relay, as client/app/push-subscription.ts does. */
async function subscribe(device: TestUser): Promise<StandInSubscription> {
	const sub = await browserSubscription();
	const res = await api("/api/devices/push", { method: "PUT", token: device.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
	expect([res.status, res.json]).toEqual([200, { ok: true }]);
	return sub;
}

const pushesTo = async (sub: StandInSubscription): Promise<ReceivedPush[]> =>
	(await (await fetch(`${PUSH_BASE}/__stand-in/pushes?subscription=${sub.id}`)).json()) as ReceivedPush[];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait (real time) until the subscription received `count` requests; then a moment more, so that one too many would show. */
async function waitForPushes(sub: StandInSubscription, count: number): Promise<ReceivedPush[]> {
	const deadline = performance.now() + 5000;
	for (;;) {
		const got = await pushesTo(sub);
		if (got.length >= count) {
			await sleep(150);
			return pushesTo(sub);
		}
		if (performance.now() > deadline) throw new Error(`expected ${count} pushes, got ${JSON.stringify(got)}`);
		await sleep(25);
	}
}

const payloads = (pushes: ReceivedPush[]) => pushes.map((p) => (p.payload === undefined ? p : JSON.parse(p.payload)));

async function send(socket: TestSocket, from: TestUser, to: TestUser, key: Uint8Array, text: string): Promise<void> {
	const frame = sealedSend(from, to, key, text);
	socket.send(frame);
	await socket.next("sent", (s) => s.id === frame.id);
}

const storedSubscriptions = (user: TestUser) =>
	runInDurableObject(env.USERS.get(env.USERS.idFromName(user.accountId)), (_, state) =>
		state.storage.sql.exec<{ device_id: string; endpoint: string }>("SELECT device_id, endpoint FROM push_subscriptions").toArray(),
	);

describe("Web Push", () => {
	it("publishes the VAPID public key at GET /api/push/key", async () => {
		const { status, json } = await api("/api/push/key");
		expect(status).toBe(200);
		expect(pushKeyResponse.parse(json, "key")).toEqual({ publicKey: TEST_VAPID.publicKey });
	});

	it("wakes a device whose tab is closed with exactly one push, which names no sender and carries no content", async () => {
		const { alice, bob, key } = await contactPair();
		const sub = await subscribe(bob);
		const a = await connect(alice.token);
		const secret = "meet me at the usual place at nine";
		await send(a, alice, bob, key, secret);
		const pushes = await waitForPushes(sub, 1);
		expect(pushes).toHaveLength(1);
		const [push] = pushes as [ReceivedPush];
		expect([push.status, push.error]).toEqual([201, undefined]);
		const payload = JSON.parse(push.payload as string);
		expect(Object.keys(payload).sort()).toEqual(["count", "kind", "v"]);
		expect(payload).toEqual({ v: 1, kind: "message", count: 1 });
		expect(push.headers).toEqual({ ttl: "86400", urgency: "normal", topic: "message", contentEncoding: "aes128gcm" });
		expect(push.claims).toMatchObject({ aud: PUSH_BASE, sub: TEST_VAPID.subject });
		// Nothing of the message, its sender or its recipient in anything the push service or the browser got.
		const seen = JSON.stringify(push);
		for (const leak of [secret, alice.accountId, alice.handle, alice.deviceId, bob.accountId, bob.handle]) expect(seen).not.toContain(leak);
		// Ciphertext: the body is not the payload in the clear.
		expect(Buffer.from(push.body, "base64url").toString("latin1")).not.toContain('"kind"');
	});

	it("coalesces: a second message within PUSH_COALESCE_MS is not pushed, but counted in the next push after it", async () => {
		const { alice, bob, key } = await contactPair();
		const sub = await subscribe(bob);
		const a = await connect(alice.token);
		await send(a, alice, bob, key, "one");
		await waitForPushes(sub, 1);
		advance(10_000);
		await send(a, alice, bob, key, "two");
		await sleep(300);
		expect(await pushesTo(sub)).toHaveLength(1);
		advance(20_001);
		await send(a, alice, bob, key, "three");
		expect(payloads(await waitForPushes(sub, 2))).toEqual([
			{ v: 1, kind: "message", count: 1 },
			{ v: 1, kind: "message", count: 2 },
		]);
	});

	it("pushes nothing to a device with an open socket, and only to the account's devices that have none", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const phone = bobDevices[1] as TestUser;
		const online = await subscribe(bob);
		const closed = await subscribe(phone);
		const b = await connect(bob.token);
		await b.next("synced");
		const a = await connect(alice.token);
		await send(a, alice, bob, key, "hello");
		await b.next("message");
		expect(payloads(await waitForPushes(closed, 1))).toEqual([{ v: 1, kind: "message", count: 1 }]);
		await sleep(200);
		expect(await pushesTo(online)).toEqual([]);
	});

	it("wakes a device for an incoming call request with an urgent push that lives as long as a ring, and holds a message right after it back", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const phone = bobDevices[1] as TestUser;
		const sub = await subscribe(phone);
		const { a } = await callNotAllowed(alice, bob, key);
		expect(payloads(await waitForPushes(sub, 1))).toEqual([{ v: 1, kind: "call", count: 1 }]);
		expect((await pushesTo(sub))[0]?.headers).toMatchObject({ urgency: "high", ttl: "45", topic: "call" });
		await send(a, alice, bob, key, "call me back");
		// Held: a push went to the device 0 s ago (only a call push's window would not hold back another call).
		await sleep(300);
		expect(await pushesTo(sub)).toHaveLength(1);
	});

	it("wakes a device for a call that rings on the account's other device, and not the ringing one", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const phone = bobDevices[1] as TestUser;
		expect((await api(`/api/contacts/${alice.accountId}/calls`, { token: bob.token, body: { allow: true } })).status).toBe(200);
		const ringing = await subscribe(bob);
		const closed = await subscribe(phone);
		const b = await connect(bob.token);
		await b.next("synced");
		const a = await connect(alice.token);
		const offer = callSignal(alice, bob, key, newMessageId(), "offer", { sdp: "v=0 offer", video: false });
		a.send(offer);
		expect(await b.next("call")).toMatchObject({ id: offer.id, kind: "offer" });
		const pushes = await waitForPushes(closed, 1);
		expect(payloads(pushes)).toEqual([{ v: 1, kind: "call", count: 1 }]);
		expect(pushes[0]?.headers).toMatchObject({ urgency: "high", ttl: "45" });
		expect(await pushesTo(ringing)).toEqual([]);
	});

	it("drops a subscription its push service answers 410 Gone for, and pushes to it no more", async () => {
		const { alice, bob, key } = await contactPair();
		const sub = await subscribe(bob);
		await fetch(`${PUSH_BASE}/__stand-in/gone?subscription=${sub.id}`, { method: "POST" });
		const a = await connect(alice.token);
		await send(a, alice, bob, key, "are you there?");
		expect((await waitForPushes(sub, 1)).map((p) => p.status)).toEqual([410]);
		expect(await storedSubscriptions(bob)).toEqual([]);
		// Past the window: a push would go now, but only to the subscription the browser made afresh.
		advance(31_000);
		const renewed = await subscribe(bob);
		await send(a, alice, bob, key, "still there?");
		expect(payloads(await waitForPushes(renewed, 1))).toEqual([{ v: 1, kind: "message", count: 1 }]);
		expect(await pushesTo(sub)).toHaveLength(1);
	});

	it("takes a device's own subscription only from that approved device, validated, and refuses bad ones changing nothing", async () => {
		const { alice } = await contactPair();
		const pending = await addPendingDevice(alice);
		const sub = await browserSubscription();
		const body = { endpoint: sub.endpoint, keys: sub.keys };
		expect((await api("/api/devices/push", { method: "PUT", body })).json.error.code).toBe("unauthorized");
		const p = await api("/api/devices/push", { method: "PUT", token: pending.token, body });
		expect([p.status, p.json.error.code]).toEqual([403, "device_pending"]);
		const notOnCurve = toB64u(new Uint8Array([4, ...new Uint8Array(64).fill(1)]));
		const bad: unknown[] = [
			{ ...body, endpoint: "http://push.test/push/x" },
			{ ...body, endpoint: "https://user:pw@push.test/push/x" },
			{ ...body, endpoint: `https://push.test/${"x".repeat(2100)}` },
			{ ...body, keys: { ...body.keys, p256dh: notOnCurve } },
			{ ...body, keys: { ...body.keys, p256dh: body.keys.p256dh.slice(4) } },
			{ ...body, keys: { ...body.keys, auth: toB64u(new Uint8Array(15)) } },
			{ ...body, expirationTime: null },
			{ endpoint: sub.endpoint },
		];
		for (const wrong of bad) {
			const res = await api("/api/devices/push", { method: "PUT", token: alice.token, body: wrong });
			expect([wrong, res.status, res.json.error.code]).toEqual([wrong, 400, "bad_request"]);
		}
		expect(await storedSubscriptions(alice)).toEqual([]);
		expect((await api("/api/devices/push", { method: "PUT", token: alice.token, body })).status).toBe(200);
		// Another account's token reaches only its own object: Alice's subscription is untouched by Bob's calls.
		const { alice: stranger } = await contactPair();
		expect((await api("/api/devices/push", { method: "DELETE", token: stranger.token })).status).toBe(200);
		expect(await storedSubscriptions(alice)).toEqual([{ device_id: alice.deviceId, endpoint: sub.endpoint }]);
		const off = await api("/api/devices/push", { method: "DELETE", token: alice.token });
		expect([off.status, off.json]).toEqual([200, { ok: true }]);
		expect(await storedSubscriptions(alice)).toEqual([]);
	});

	it("sends nothing to a device that unsubscribed, and still to the one that did not", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const phone = bobDevices[1] as TestUser;
		const gone = await subscribe(bob);
		const still = await subscribe(phone);
		expect((await api("/api/devices/push", { method: "DELETE", token: bob.token })).status).toBe(200);
		const a = await connect(alice.token);
		await send(a, alice, bob, key, "anyone?");
		expect(payloads(await waitForPushes(still, 1))).toEqual([{ v: 1, kind: "message", count: 1 }]);
		expect(await pushesTo(gone)).toEqual([]);
	});

	it("drops a removed device's subscription with it", async () => {
		const { bob, bobDevices } = await contactPair({ extraDevices: 1 });
		const phone = bobDevices[1] as TestUser;
		await subscribe(phone);
		await subscribe(bob);
		expect((await storedSubscriptions(bob)).map((r) => r.device_id).sort()).toEqual([bob.deviceId, phone.deviceId].sort());
		expect((await removeDevice(bob, phone.deviceId)).status).toBe(200);
		expect((await storedSubscriptions(bob)).map((r) => r.device_id)).toEqual([bob.deviceId]);
		const { endpoint, keys } = await browserSubscription();
		const revoked = await api("/api/devices/push", { method: "PUT", token: phone.token, body: { endpoint, keys } });
		expect(revoked.json.error.code).toBe("device_revoked");
		const later = await addApprovedDevice(bob, "tablet");
		expect((await storedSubscriptions(bob)).map((r) => r.device_id)).not.toContain(later.deviceId);
	});
});
