import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openReceipt, sealReceipt } from "../../client/core/receipt-seal.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { sealedReceiptMaxBytes } from "../../common/protocol/wire.ts";
import { READ_RECEIPT_BYTES_PER_DAY } from "../../worker/relay/messaging/read-receipts.ts";
import { addApprovedDevice, contactPair, sealedAck, sealedSend } from "./fixtures.ts";
import { api, connect, type TestSocket, type TestUser } from "./helpers.ts";

/**
 * Delivery receipts are sealed by the recipient's device and only passed on by the relay:
 * it no longer says "delivered" itself (it could say it of a message it dropped).
 */

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const credits = async (user: TestUser) => (await api("/api/account", { token: user.token })).json.credits as number;
const receiptRows = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) =>
		state.storage.sql.exec<{ device_id: string }>("SELECT device_id FROM receipt_queue ORDER BY seq").toArray(),
	);
const asDevice = (u: TestUser) => ({ accountId: u.accountId, deviceId: u.deviceId }) as Parameters<typeof openReceipt>[0];

/** Wait a moment for frames that must not come: the receipt's hop between objects is asynchronous. */
async function settle(socket: TestSocket): Promise<void> {
	socket.send({ type: "ping" });
	await socket.next("pong");
	await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Alice and Bob online as contacts, and one message of Alice's that Bob's device has. */
async function oneDelivered(text: string) {
	const { alice, bob, key } = await contactPair();
	const a = await connect(alice.token);
	const b = await connect(bob.token);
	await b.next("synced");
	const f = sealedSend(alice, bob, key, text);
	a.send(f);
	await b.next("message");
	return { alice, bob, key, a, b, f };
}

afterEach(() => {
	vi.useRealTimers();
});

describe("sealed delivery receipts", () => {
	it("reach the sender exactly as the recipient's device sealed them, and open to the acked ids", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("did you get it?");
		const ack = sealedAck(bob, alice, key, [f.id]);
		b.send(ack);
		const receipt = await a.next("receipt");
		expect(receipt).toEqual({ type: "receipt", from: bob.accountId, fromDevice: bob.deviceId, ...ack.receipt });
		expect(openReceipt(asDevice(alice), key, receipt)).toMatchObject({ kind: "delivered", ids: [f.id] });
	});

	it("are never made up by the relay: an ack without one tells the sender nothing", async () => {
		const { alice, a, b, f } = await oneDelivered("hello");
		b.send({ type: "ack", ids: [f.id], from: alice.accountId });
		await settle(a);
		expect(a.frames.filter((x) => x.type === "receipt" || (x.type as string) === "delivered")).toEqual([]);
	});

	it("pass only with an ack that removed one of the sender's messages: a receipt is not a free channel", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("once");
		b.send(sealedAck(bob, alice, key, [f.id]));
		await a.next("receipt");
		// The same message acked again, and ids never queued: nothing is passed on.
		b.send(sealedAck(bob, alice, key, [f.id]));
		b.send(sealedAck(bob, alice, key, [toB64u(randomBytes(16))]));
		await settle(a);
		expect(a.frames.filter((x) => x.type === "receipt")).toHaveLength(1);
	});

	it("are free: acking with receipts costs no credits and no send allowance", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		const frames = [0, 1, 2].map((i) => sealedSend(alice, bob, key, `m${i}`));
		for (const f of frames) {
			a.send(f);
			await a.next("sent", (s) => s.id === f.id);
		}
		for (let i = 0; i < frames.length; i++) await b.next("message", (m) => m.id === frames[i]?.id);
		const before = await credits(bob);
		for (const f of frames) b.send(sealedAck(bob, alice, key, [f.id]));
		for (let i = 0; i < frames.length; i++) await a.next("receipt", () => a.frames.filter((x) => x.type === "receipt").length > i);
		expect(await credits(bob)).toBe(before);
		// Bob can still send at once: the receipts used none of his sends.
		const reply = sealedSend(bob, alice, key, "got them");
		b.send(reply);
		expect(await b.next("sent", (s) => s.id === reply.id)).toMatchObject({ id: reply.id });
	});

	it("refuse a receipt larger than its ids need, or one without its sender, and apply nothing of that ack", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("keep me queued");
		const ack = sealedAck(bob, alice, key, [f.id]);
		const oversized = { ...ack, receipt: { ...ack.receipt, box: toB64u(randomBytes(sealedReceiptMaxBytes(1) + 1)) } };
		b.send(oversized);
		expect(await b.next("error")).toMatchObject({ code: "bad_request" });
		const { from: _, ...withoutSender } = ack;
		b.send(withoutSender);
		expect(await b.next("error", () => b.frames.filter((x) => x.type === "error").length === 2)).toMatchObject({ code: "bad_request" });
		await settle(a);
		expect(a.frames.filter((x) => x.type === "receipt")).toEqual([]);
		const rows = await runInDurableObject(relay(bob.accountId), (_, state) =>
			state.storage.sql.exec<{ msg_id: string }>("SELECT msg_id FROM queue").toArray(),
		);
		expect(rows.map((r) => r.msg_id)).toEqual([f.id]);
	});

	it("wait for a sender's device that was offline, go out once on its next connect, and expire without counting as missed", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 1 });
		const laptop = aliceDevices[1] as TestUser;
		const phone = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		const f = sealedSend(alice, bob, key, "from the phone");
		phone.send(f);
		await b.next("message");
		b.send(sealedAck(bob, alice, key, [f.id]));
		await phone.next("receipt");
		await vi.waitFor(async () => expect(await receiptRows(alice.accountId)).toEqual([{ device_id: laptop.deviceId }]));

		const first = await connect(laptop.token);
		const kept = await first.next("receipt");
		expect(openReceipt(asDevice(laptop), key, kept).ids).toEqual([f.id]);
		expect(await receiptRows(alice.accountId)).toEqual([]);
		first.ws.close(1000);
		const again = await connect(laptop.token);
		await again.next("synced");
		expect(again.frames.filter((x) => x.type === "receipt")).toEqual([]);
		again.ws.close(1000);

		// One more while the laptop is away, left to expire: it goes, and no "missed" is told.
		vi.useFakeTimers({ toFake: ["Date"] });
		const g = sealedSend(alice, bob, key, "second");
		phone.send(g);
		await b.next("message", (m) => m.id === g.id);
		b.send(sealedAck(bob, alice, key, [g.id]));
		await phone.next("receipt", () => phone.frames.filter((x) => x.type === "receipt").length === 2);
		await vi.waitFor(async () => expect(await receiptRows(alice.accountId)).toHaveLength(1));
		vi.setSystemTime(Date.now() + 30 * 86_400_000 + 1000);
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await receiptRows(alice.accountId)).toEqual([]);
		// What the laptop would be told it missed on its next connect (its token has long expired):
		// the copies of the phone's two messages that expired unacked in its queue, and not the receipts.
		const missed = await runInDurableObject(relay(alice.accountId), (_, state) =>
			state.storage.sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key LIKE 'missed:%'").toArray(),
		);
		expect(missed).toEqual([{ key: `missed:${laptop.deviceId}`, value: "2" }]);
	});
});

/** What `by`'s device sends when its person saw these messages of `sender`'s: a read receipt sealed for the sender. */
const sealedRead = (by: TestUser, sender: TestUser, key: Uint8Array, ids: string[]) => ({
	type: "read" as const,
	to: sender.accountId,
	receipt: sealReceipt(asDevice(by), sender.accountId, { version: 1, key }, ids, "read"),
});

describe("sealed read receipts", () => {
	it("reach every device of the sender as the reader's device sealed them, free, and wait for one offline", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("read me");
		const before = await credits(bob);
		const read = sealedRead(bob, alice, key, [f.id]);
		b.send(read);
		const receipt = await a.next("receipt");
		expect(receipt).toEqual({ type: "receipt", from: bob.accountId, fromDevice: bob.deviceId, ...read.receipt });
		expect(openReceipt(asDevice(alice), key, receipt)).toMatchObject({ kind: "read", ids: [f.id] });
		expect(await credits(bob)).toBe(before);
		expect(await receiptRows(alice.accountId)).toEqual([]);
		// A device of hers that is not connected finds it on its next connect.
		const laptop = await addApprovedDevice(alice, "laptop");
		b.send(sealedRead(bob, alice, key, [f.id]));
		await a.next("receipt", (r) => r.id !== receipt.id);
		await vi.waitFor(async () => expect(await receiptRows(alice.accountId)).toEqual([{ device_id: laptop.deviceId }]));
		const later = await connect(laptop.token);
		expect(openReceipt({ accountId: alice.accountId, deviceId: laptop.deviceId } as never, key, await later.next("receipt"))).toMatchObject(
			{
				kind: "read",
			},
		);
	});

	it("go to accepted contacts only; a blocked contact's are dropped, and one too large is refused", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("x");
		const stranger = (await contactPair()).alice;
		const toStranger = sealedRead(bob, stranger, key, [f.id]);
		b.send(toStranger);
		expect(await b.next("error")).toMatchObject({ code: "not_a_contact", ref: toStranger.receipt.id });

		const big = sealedRead(bob, alice, key, [f.id]);
		b.send({ ...big, receipt: { ...big.receipt, box: toB64u(randomBytes(sealedReceiptMaxBytes(500) + 1)) } });
		expect(await b.next("error", (e) => e.code === "bad_request")).toBeTruthy();

		// Alice blocks Bob: what he says he read goes nowhere, and he is not told.
		await api(`/api/contacts/${bob.accountId}/block`, { method: "POST", token: alice.token });
		b.send(sealedRead(bob, alice, key, [f.id]));
		await settle(b);
		await settle(a);
		expect(a.frames.filter((x) => x.type === "receipt")).toEqual([]);
		expect(b.frames.filter((x) => x.type === "error")).toHaveLength(2);
	});

	it("are metered by a daily budget of sealed bytes, refused past it with the time it frees, and nothing passed on", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("y");
		const used = await runInDurableObject(relay(bob.accountId), (_, state) => {
			const day = Math.floor(Date.now() / 86_400_000);
			state.storage.sql.exec("INSERT INTO read_receipt_budget (day, bytes) VALUES (?, ?)", day, READ_RECEIPT_BYTES_PER_DAY - 10);
			return day;
		});
		const read = sealedRead(bob, alice, key, [f.id]);
		b.send(read);
		const refused = await b.next("error");
		expect(refused).toMatchObject({ code: "quota_exceeded", ref: read.receipt.id });
		// Until the next UTC day, when the budget starts again.
		const untilTomorrow = (used + 1) * 86_400_000 - Date.now();
		expect(refused.retryAfter).toBeGreaterThan(0);
		expect(Math.abs((refused.retryAfter ?? 0) - untilTomorrow)).toBeLessThan(5_000);
		await settle(a);
		expect(a.frames.filter((x) => x.type === "receipt")).toEqual([]);
	});

	it("keep only today's budget: the day's first read receipt clears the days before", async () => {
		const { alice, bob, key, a, b, f } = await oneDelivered("z");
		const today = await runInDurableObject(relay(bob.accountId), (_, state) => {
			const day = Math.floor(Date.now() / 86_400_000);
			state.storage.sql.exec("INSERT INTO read_receipt_budget (day, bytes) VALUES (?, 500), (?, 700)", day - 2, day - 1);
			return day;
		});
		b.send(sealedRead(bob, alice, key, [f.id]));
		await a.next("receipt");
		const days = await runInDurableObject(relay(bob.accountId), (_, state) =>
			state.storage.sql
				.exec<{ day: number }>("SELECT day FROM read_receipt_budget ORDER BY day")
				.toArray()
				.map((r) => r.day),
		);
		expect(days).toEqual([today]);
	});
});
