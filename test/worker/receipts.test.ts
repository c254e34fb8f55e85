import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openReceipt } from "../../client/core/receipt-seal.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { sealedReceiptMaxBytes } from "../../common/protocol/wire.ts";
import { contactPair, sealedAck, sealedSend } from "./fixtures.ts";
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
