import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openMessage } from "../../client/core/message-seal.ts";
import { contactPair, newMessageId, sealedSend } from "./fixtures.ts";
import { api, connect, registerUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const queued = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) =>
		state.storage.sql.exec<{ msg_id: string; device_id: string }>("SELECT msg_id, device_id FROM queue ORDER BY seq").toArray(),
	);

afterEach(() => {
	vi.useRealTimers();
});

describe("messages", () => {
	it("reach an online recipient, and the sender gets `sent` only after they are queued", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await a.next("synced");
		await b.next("synced");
		const frame = sealedSend(alice, bob, key, "hello bob");
		a.send(frame);
		const sent = await a.next("sent");
		expect(sent.id).toBe(frame.id);
		const got = await b.next("message");
		expect(got).toMatchObject({
			id: frame.id,
			from: alice.accountId,
			fromDevice: alice.deviceId,
			to: bob.accountId,
			kind: "text",
			keyVersion: 1,
		});
		const opened = openMessage(key, got, got.nonce, got.box);
		expect(opened.body).toEqual({ text: "hello bob" });
		expect((await queued(bob.accountId)).map((r) => r.msg_id)).toEqual([frame.id]);
		b.send({ type: "ack", ids: [frame.id] });
		// An ack has no reply; the queue row going away is the observable effect.
		await vi.waitFor(async () => expect(await queued(bob.accountId)).toEqual([]));
		b.send({ type: "ping" });
		await b.next("pong");
	});

	it("queue for an offline device and drain in order on reconnect, exactly once after acks", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) {
			const f = sealedSend(alice, bob, key, `msg ${i}`);
			ids.push(f.id);
			a.send(f);
			await a.next("sent", (s) => s.id === f.id);
		}
		const b = await connect(bob.token);
		expect(await b.next("ready")).toMatchObject({ queued: 5 });
		const received: string[] = [];
		for (let i = 0; i < 5; i++) received.push((await b.next("message")).id);
		await b.next("synced");
		expect(received).toEqual(ids);
		b.send({ type: "ack", ids: received.slice(0, 3) });
		b.ws.close(1000, "bye");
		const again = await connect(bob.token);
		expect(await again.next("ready")).toMatchObject({ queued: 2 });
		expect([(await again.next("message")).id, (await again.next("message")).id]).toEqual(ids.slice(3));
	});

	it("drains a backlog larger than one page as the device acks", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const ids: string[] = [];
		for (let i = 0; i < 130; i++) {
			const f = sealedSend(alice, bob, key, `n${i}`);
			ids.push(f.id);
			a.send(f);
		}
		for (const id of ids) await a.next("sent", (s) => s.id === id);
		const b = await connect(bob.token);
		const got: string[] = [];
		while (got.length < 130) {
			const m = await b.next("message");
			got.push(m.id);
			b.send({ type: "ack", ids: [m.id] });
		}
		expect(got).toEqual(ids);
		await b.next("synced");
	});

	it("fan out to every recipient device and sync to the sender's other devices, each acking on its own", async () => {
		const { alice, bob, key, aliceDevices, bobDevices } = await contactPair({ extraDevices: 1 });
		const [a1, a2] = await Promise.all(aliceDevices.map((d) => connect(d.token)));
		const [b1, b2] = await Promise.all(bobDevices.map((d) => connect(d.token)));
		for (const s of [a1, a2, b1, b2]) await s!.next("synced");
		const f = sealedSend(alice, bob, key, "to all of you");
		a1!.send(f);
		await a1!.next("sent");
		for (const s of [b1, b2, a2]) {
			const m = await s!.next("message");
			expect(m).toMatchObject({ id: f.id, from: alice.accountId, fromDevice: alice.deviceId, to: bob.accountId });
			expect(openMessage(key, m, m.nonce, m.box).body).toEqual({ text: "to all of you" });
		}
		expect(a1!.frames.filter((x) => x.type === "message")).toEqual([]);
		b1!.send({ type: "ack", ids: [f.id] });
		await vi.waitFor(async () => expect(await queued(bob.accountId)).toEqual([{ msg_id: f.id, device_id: bobDevices[1]!.deviceId }]));
		expect(await queued(alice.accountId)).toEqual([{ msg_id: f.id, device_id: aliceDevices[1]!.deviceId }]);
	});

	it("refuse messages to non-contacts, unknown accounts and blockers, with nothing stored", async () => {
		const { alice, bob, key } = await contactPair();
		const stranger = await registerUser("stranger");
		const a = await connect(alice.token);
		a.send(sealedSend(alice, stranger, key, "hi stranger"));
		expect(await a.next("error")).toMatchObject({ code: "not_a_contact" });
		a.send({ ...sealedSend(alice, bob, key, "x"), to: newMessageId() });
		expect(await a.next("error")).toMatchObject({ code: "not_a_contact" });
		await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: bob.token });
		a.send(sealedSend(alice, bob, key, "after block"));
		expect(await a.next("error")).toMatchObject({ code: "not_a_contact" });
		expect(await queued(bob.accountId)).toEqual([]);
		expect(await queued(stranger.accountId)).toEqual([]);
	});

	it.each([
		["malformed JSON", "{nope", "bad_request"],
		["an unknown frame type", JSON.stringify({ type: "launch" }), "bad_request"],
		["a wrong field type", JSON.stringify({ type: "ack", ids: "all" }), "bad_request"],
		["an oversized frame", JSON.stringify({ type: "ping", pad: "x".repeat(100_000) }), "too_large"],
	])("answer %s with a typed error and keep the socket usable", async (_, raw, code) => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		a.send(raw);
		expect(await a.next("error")).toMatchObject({ code });
		a.send(sealedSend(alice, bob, key, "still works"));
		expect(await a.next("sent")).toBeTruthy();
	});

	it("refuse a sealed message above the size limit and an unknown key version", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const big = sealedSend(alice, bob, key, "y".repeat(66_000));
		a.send(big);
		expect(await a.next("error")).toMatchObject({ code: "too_large", ref: big.id });
		a.send({ ...sealedSend(alice, bob, key, "v2"), keyVersion: 2 });
		expect(await a.next("error")).toMatchObject({ code: "stale_key" });
		expect(await queued(bob.accountId)).toEqual([]);
	});

	it("refuse a socket without a valid token", async () => {
		await expect(connect("v1.bad")).rejects.toThrow(/401/);
		const res = await api("/api/ws");
		expect(res.status).toBe(400);
	});

	it("a new socket for the same device replaces the old one", async () => {
		const { alice } = await contactPair();
		const first = await connect(alice.token);
		await first.next("ready");
		const second = await connect(alice.token);
		await second.next("ready");
		expect((await first.closed).code).toBe(4000);
	});
});

describe("receipts, typing and re-sends", () => {
	it("tell the sender when each recipient device stored the message", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		const f = sealedSend(alice, bob, key, "did you get it?");
		a.send(f);
		await a.next("sent");
		await b.next("message");
		b.send({ type: "ack", ids: [f.id] });
		expect(await a.next("delivered")).toEqual({ type: "delivered", ids: [f.id], to: bob.accountId, deviceId: bob.deviceId });
	});

	it("relay typing notices to a contact's online devices, never to strangers, and queue nothing", async () => {
		const { alice, bob } = await contactPair();
		const stranger = await registerUser("stranger");
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		const s = await connect(stranger.token);
		await b.next("synced");
		a.send({ type: "typing", to: bob.accountId });
		expect(await b.next("typing")).toEqual({ type: "typing", from: alice.accountId, fromDevice: alice.deviceId });
		s.send({ type: "typing", to: bob.accountId });
		a.send({ type: "typing", to: stranger.accountId });
		await new Promise((r) => setTimeout(r, 100));
		expect(b.frames.filter((f) => f.type === "typing")).toHaveLength(1);
		expect(await queued(bob.accountId)).toEqual([]);
	});

	it("answer a re-sent message id with `sent` again, without charging or delivering twice", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const f = sealedSend(alice, bob, key, "once");
		a.send(f);
		const first = await a.next("sent");
		a.send(f);
		const again = await a.next("sent");
		expect(again).toMatchObject({ id: f.id, at: first.at, credits: first.credits });
		expect(await queued(bob.accountId)).toEqual([{ msg_id: f.id, device_id: bob.deviceId }]);
	});

	it("keep one sender's messages in the order they were sent, even when fired at once", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const frames = Array.from({ length: 20 }, (_, i) => sealedSend(alice, bob, key, `#${i}`));
		for (const f of frames) a.send(f);
		for (const f of frames) await a.next("sent", (x) => x.id === f.id);
		expect((await queued(bob.accountId)).map((r) => r.msg_id)).toEqual(frames.map((f) => f.id));
	});

	it("publish prices and limits without authentication", async () => {
		const { status, json } = await api("/api/limits");
		expect(status).toBe(200);
		expect(json.prices).toEqual({ text: 4, attachmentSmall: 8, attachmentMedium: 20, attachmentLarge: 40, edit: 2, delete: 1 });
		expect(json.maxSealedTextBytes).toBe(65536);
	});
});

describe("queue limits and expiry", () => {
	it("refuse with recipient_queue_full at the cap, all or nothing, without a silent drop", async () => {
		const { alice, bob, key } = await contactPair();
		await runInDurableObject(relay(bob.accountId), (_, state) => {
			state.storage.sql.exec("INSERT INTO queue_stats (device_id, count, bytes) VALUES (?, 10000, 0)", bob.deviceId);
		});
		const a = await connect(alice.token);
		const f = sealedSend(alice, bob, key, "one too many");
		a.send(f);
		expect(await a.next("error")).toMatchObject({ code: "recipient_queue_full", ref: f.id });
		expect(await queued(bob.accountId)).toEqual([]);
	});

	it("the alarm removes messages older than 30 days, keeps fresh ones and re-arms for the next expiry", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const old = sealedSend(alice, bob, key, "old");
		a.send(old);
		await a.next("sent", (s) => s.id === old.id);
		vi.setSystemTime(start + 20 * 86_400_000);
		const fresh = sealedSend(alice, bob, key, "fresh");
		a.send(fresh);
		await a.next("sent", (s) => s.id === fresh.id);
		vi.setSystemTime(start + 30 * 86_400_000 + 1000);
		expect(await runDurableObjectAlarm(relay(bob.accountId))).toBe(true);
		expect((await queued(bob.accountId)).map((r) => r.msg_id)).toEqual([fresh.id]);
		const next = await runInDurableObject(relay(bob.accountId), (_, state) => state.storage.getAlarm());
		expect(next).toBeGreaterThanOrEqual(start + 50 * 86_400_000);
	});
});
