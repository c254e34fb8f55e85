import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openMessage } from "../../client/core/message-seal.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { queueStats } from "../../worker/relay/messaging/message-queue.ts";
import { addApprovedDevice, contactPair, DOCUMENTED_PRICES, newMessageId, queueMessagesFor, sealedSend } from "./fixtures.ts";
import { api, connect, registerUser, type TestSocket, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const queued = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) =>
		state.storage.sql.exec<{ msg_id: string; device_id: string }>("SELECT msg_id, device_id FROM queue ORDER BY seq").toArray(),
	);

afterEach(() => {
	vi.useRealTimers();
});

const QUEUE_MAX_BYTES = 100 * 1024 * 1024;
/**
 * The box of a "full-size" message here: short of the 64 KiB limit by a tag's length, so
 * that the messages that fill a queue leave room below the 100 MB cap for a smaller one.
 */
const FILL_BYTES = 65_536 - 16;

/**
 * A real sealed text whose box is exactly `bytes` long: the text is padded to fit. What an
 * empty text seals to depends only on the header's field lengths, the same for every id.
 */
function sealedSendOfSize(from: TestUser, to: TestUser, key: Uint8Array, bytes: number) {
	const empty = fromB64u(sealedSend(from, to, key, "").box).length;
	return sealedSend(from, to, key, "x".repeat(bytes - empty));
}

/** Sends in flight at once, so filling a queue takes one round trip per batch, not per message. */
async function sendAll(socket: TestSocket, frames: Array<{ id: string }>, batch = 50): Promise<void> {
	for (let i = 0; i < frames.length; i += batch) {
		const chunk = frames.slice(i, i + batch);
		for (const f of chunk) socket.send(f);
		for (const f of chunk) await socket.next("sent", (s) => s.id === f.id);
	}
}

/**
 * Send one frame and return the relay's answer to it, `sent` or `error`. Read from the
 * socket's log of frames, so no waiter is left behind to take the answer to a later re-send.
 */
async function answerTo(socket: TestSocket, frame: { id: string }) {
	const seen = socket.frames.length;
	socket.send(frame);
	const deadline = performance.now() + 10_000;
	for (;;) {
		const answer = socket.frames
			.slice(seen)
			.find((f) => (f.type === "sent" && f.id === frame.id) || (f.type === "error" && f.ref === frame.id));
		if (answer) return answer;
		if (performance.now() > deadline) throw new Error(`no answer to ${frame.id}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

/** What the in-memory per-device totals say, and what the queue rows add up to. */
const queueTotals = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) => {
		const sql = state.storage.sql;
		const rows = sql.exec<any>("SELECT device_id, COUNT(*) AS count, SUM(bytes) AS bytes FROM queue GROUP BY device_id").toArray();
		const devices = sql.exec<{ id: string }>("SELECT id FROM devices").toArray();
		const byDevice = (list: Array<{ device_id: string; count: number; bytes: number }>) =>
			Object.fromEntries(list.filter((r) => r.count > 0).map((r) => [r.device_id, { count: r.count, bytes: r.bytes }]));
		return {
			counters: byDevice(devices.map((d) => ({ device_id: d.id, ...queueStats(sql, d.id) }))),
			rows: byDevice(rows),
		};
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

	it("refuse messages to non-contacts and unknown accounts, and answer a blocker's as sent, with nothing stored", async () => {
		const { alice, bob, key } = await contactPair();
		const stranger = await registerUser("stranger");
		const a = await connect(alice.token);
		a.send(sealedSend(alice, stranger, key, "hi stranger"));
		expect(await a.next("error")).toMatchObject({ code: "not_a_contact" });
		a.send({ ...sealedSend(alice, bob, key, "x"), to: newMessageId() });
		expect(await a.next("error")).toMatchObject({ code: "not_a_contact" });
		await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: bob.token });
		// Blocking is silent (contacts.test.ts has the whole of it): the send looks delivered.
		const afterBlock = sealedSend(alice, bob, key, "after block");
		a.send(afterBlock);
		expect(await a.next("sent")).toMatchObject({ id: afterBlock.id });
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

	it("take a sealed box of exactly the size limit and refuse one byte more as too_large, with nothing queued", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const limit = (await api("/api/limits")).json.maxSealedTextBytes as number;
		const atLimit = { ...sealedSend(alice, bob, key, "fits"), box: toB64u(randomBytes(limit)) };
		a.send(atLimit);
		expect(await a.next("sent")).toMatchObject({ id: atLimit.id });
		const over = { ...sealedSend(alice, bob, key, "one byte too many"), box: toB64u(randomBytes(limit + 1)) };
		a.send(over);
		expect(await a.next("error")).toMatchObject({ code: "too_large", ref: over.id });
		expect((await queued(bob.accountId)).map((m) => m.msg_id)).toEqual([atLimit.id]);
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

describe("typing and re-sends", () => {
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
		expect(json.prices).toEqual(DOCUMENTED_PRICES);
		expect(json.maxSealedTextBytes).toBe(65536);
	});
});

describe("queue limits and expiry", () => {
	it("refuse with recipient_queue_full at 10,000 queued messages, without a silent drop", async () => {
		const { alice, bob, key } = await contactPair();
		await queueMessagesFor(bob, alice, key, 10_000);
		const a = await connect(alice.token);
		const f = sealedSend(alice, bob, key, "one too many");
		expect(await answerTo(a, f)).toMatchObject({ type: "error", code: "recipient_queue_full" });
		const { counters, rows } = await queueTotals(bob.accountId);
		expect(rows[bob.deviceId]?.count).toBe(10_000);
		expect(counters).toEqual(rows);
		expect(await queued(bob.accountId)).not.toContainEqual(expect.objectContaining({ msg_id: f.id }));

		const b = await connect(bob.token);
		b.send({ type: "ack", ids: [(await b.next("message")).id] });
		await vi.waitFor(async () => expect((await queueTotals(bob.accountId)).rows[bob.deviceId]?.count).toBe(9_999));
		expect(await answerTo(a, f)).toMatchObject({ type: "sent" });
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
		const freshSent = await a.next("sent", (s) => s.id === fresh.id);
		vi.setSystemTime(start + 30 * 86_400_000 + 1000);
		expect(await runDurableObjectAlarm(relay(bob.accountId))).toBe(true);
		expect((await queued(bob.accountId)).map((r) => r.msg_id)).toEqual([fresh.id]);
		const next = await runInDurableObject(relay(bob.accountId), (_, state) => state.storage.getAlarm());
		// Re-armed for the fresh message's expiry, to the millisecond: 30 days after it was queued.
		expect(freshSent.at).toBe(start + 20 * 86_400_000);
		expect(next).toBe(freshSent.at + 30 * 86_400_000);
	});

	it("keep every device's queue counters equal to its rows through sends, acks, edits, deletes and expiry", async () => {
		const { alice, bob, key, aliceDevices, bobDevices } = await contactPair({ extraDevices: 1 });
		const expectHonestCounters = async () => {
			for (const who of [alice, bob]) {
				const { counters, rows } = await queueTotals(who.accountId);
				expect(counters).toEqual(rows);
			}
		};
		const a = await connect(alice.token);
		const laptop = await connect(bob.token);
		await laptop.next("synced");
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const texts = ["one", "two", "three"].map((t) => sealedSend(alice, bob, key, t));
		await sendAll(a, texts);
		for (const t of texts) await laptop.next("message", (m) => m.id === t.id);
		await expectHonestCounters();
		expect((await queueTotals(bob.accountId)).rows[bobDevices[1]!.deviceId]?.count).toBe(3);

		laptop.send({ type: "ack", ids: [texts[0]!.id] });
		await vi.waitFor(async () => expect((await queueTotals(bob.accountId)).rows[bob.deviceId]?.count).toBe(2));
		await expectHonestCounters();

		// Still queued for the phones, so it takes the original's place there, at a new size.
		const edit = { ...sealedSend(alice, bob, key, "two, and a much longer second thought"), kind: "edit", replaces: texts[1]!.id };
		expect(await answerTo(a, edit)).toMatchObject({ type: "sent" });
		await expectHonestCounters();
		const del = { ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: texts[2]!.id };
		expect(await answerTo(a, del)).toMatchObject({ type: "sent" });
		await expectHonestCounters();

		vi.setSystemTime(start + 20 * 86_400_000);
		const fresh = sealedSend(alice, bob, key, "fresh");
		expect(await answerTo(a, fresh)).toMatchObject({ type: "sent" });
		// Past 30 days for everything above (vi.waitFor moves the fake clock a little), not for `fresh`.
		vi.setSystemTime(start + 31 * 86_400_000);
		for (const who of [alice, bob]) await runDurableObjectAlarm(relay(who.accountId));
		await expectHonestCounters();
		expect((await queueTotals(bob.accountId)).rows).toEqual({
			[bob.deviceId]: { count: 1, bytes: fromB64u(fresh.box).length },
			[bobDevices[1]!.deviceId]: { count: 1, bytes: fromB64u(fresh.box).length },
		});
		expect(Object.keys((await queueTotals(alice.accountId)).rows)).toEqual([aliceDevices[1]!.deviceId]);
	});
});

/**
 * One device's queue (Bob's laptop) filled through the ordinary send path to within one
 * message of 100 MB: 1,600 full-size sealed texts (25,600 bytes short). Shared by the tests below, which each add
 * a send that meets that full queue; the devices added after the fill have empty queues.
 */
describe("a device queue filled to 100 MB", () => {
	const FULL_MESSAGES = Math.floor(QUEUE_MAX_BYTES / FILL_BYTES);
	const ROOM = QUEUE_MAX_BYTES - FULL_MESSAGES * FILL_BYTES;
	let alice: TestUser;
	let bob: TestUser;
	let bobPhone: TestUser;
	let alicePhone: TestUser;
	let key: Uint8Array;

	beforeAll(async () => {
		({ alice, bob, key } = await contactPair());
		const a = await connect(alice.token);
		await sendAll(
			a,
			Array.from({ length: FULL_MESSAGES }, () => sealedSendOfSize(alice, bob, key, FILL_BYTES)),
		);
		a.ws.close(1000, "filled");
		bobPhone = await addApprovedDevice(bob);
		alicePhone = await addApprovedDevice(alice);
	}, 120_000);

	const credits = async (user: TestUser) => (await api("/api/account", { token: user.token })).json.credits as number;
	const chargedFor = (user: TestUser, id: string) =>
		runInDurableObject(relay(user.accountId), (_, state) => state.storage.sql.exec("SELECT ref FROM charges WHERE ref = ?", id).toArray());
	const queuedIds = async (user: TestUser) => (await queued(user.accountId)).map((r) => r.msg_id);

	/** Bob's laptop acks its oldest message, making room for one full-size message. */
	async function laptopAcksOne(): Promise<void> {
		const oldest = (await queued(bob.accountId)).find((r) => r.device_id === bob.deviceId)!.msg_id;
		const laptop = await connect(bob.token);
		laptop.send({ type: "ack", ids: [oldest] });
		await vi.waitFor(async () => expect(await queuedIds(bob)).not.toContain(oldest));
		laptop.ws.close(1000, "acked");
	}

	it(
		"refuses the message that would pass 100 MB by one byte, takes the one that reaches it exactly, then nothing more",
		{ timeout: 30_000 },
		async () => {
			const a = await connect(alice.token);
			expect((await queueTotals(bob.accountId)).rows[bob.deviceId]).toEqual({ count: FULL_MESSAGES, bytes: QUEUE_MAX_BYTES - ROOM });
			const over = sealedSendOfSize(alice, bob, key, ROOM + 1);
			expect(await answerTo(a, over)).toMatchObject({ type: "error", code: "recipient_queue_full" });
			expect(await queuedIds(bob)).not.toContain(over.id);

			const exact = sealedSendOfSize(alice, bob, key, ROOM);
			expect(await answerTo(a, exact)).toMatchObject({ type: "sent" });
			const smallest = sealedSend(alice, bob, key, "");
			expect(await answerTo(a, smallest)).toMatchObject({ type: "error", code: "recipient_queue_full" });
			const { counters, rows } = await queueTotals(bob.accountId);
			expect(rows[bob.deviceId]).toEqual({ count: FULL_MESSAGES + 1, bytes: QUEUE_MAX_BYTES });
			expect(counters).toEqual(rows);
		},
	);

	/**
	 * `payer` sends a full-size message from `socket` while Bob's laptop is full: refused with
	 * nothing queued anywhere and nothing charged; once the laptop acks one message, the same
	 * message goes through to exactly `holders`, so the refusal was the cap and nothing else.
	 */
	async function refusedUntilTheLaptopHasRoom(socket: TestSocket, payer: TestUser, to: TestUser, holders: TestUser[]) {
		const frame = sealedSendOfSize(payer, to, key, FILL_BYTES);
		const before = { credits: await credits(payer), alice: await queueTotals(alice.accountId), bob: await queueTotals(bob.accountId) };
		expect(await answerTo(socket, frame)).toMatchObject({ type: "error", code: "recipient_queue_full", ref: frame.id });
		expect({ alice: await queueTotals(alice.accountId), bob: await queueTotals(bob.accountId) }).toEqual({
			alice: before.alice,
			bob: before.bob,
		});
		expect([...(await queuedIds(bob)), ...(await queuedIds(alice))]).not.toContain(frame.id);
		expect(await credits(payer)).toBe(before.credits);
		expect(await chargedFor(payer, frame.id)).toEqual([]);

		await laptopAcksOne();
		expect(await answerTo(socket, frame)).toMatchObject({ type: "sent" });
		const rows = [...(await queued(alice.accountId)), ...(await queued(bob.accountId))].filter((r) => r.msg_id === frame.id);
		expect(rows.map((r) => r.device_id).sort()).toEqual(holders.map((h) => h.deviceId).sort());
	}

	it(
		"refuses all or nothing when one of two recipient devices is full: no device and no sync copy gets it, nothing is charged",
		{ timeout: 30_000 },
		async () => {
			await refusedUntilTheLaptopHasRoom(await connect(alice.token), alice, bob, [bob, bobPhone, alicePhone]);
		},
	);

	it(
		"refuses a send when the sender's own other device is full: the recipient gets nothing, nothing is charged",
		{ timeout: 30_000 },
		async () => {
			await refusedUntilTheLaptopHasRoom(await connect(bobPhone.token), bobPhone, alice, [alice, alicePhone, bob]);
		},
	);
});
