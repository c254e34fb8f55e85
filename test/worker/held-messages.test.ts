import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openReceipt } from "../../client/core/receipt-seal.ts";
import { contactPair, sealedAck, sealedSend } from "./fixtures.ts";
import { api, BASE, connect, socketHeaders, type TestSocket, type TestUser } from "./helpers.ts";
import { removeDevice } from "./linking.ts";

/**
 * A message to a caught-up device whose socket acks at once is pushed and held in the
 * recipient's memory until the ack, not written to its queue and deleted again: the sender
 * hears `sent` once the device has it or, failing that, once it is queued.
 */

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const queuedIds = (user: TestUser) =>
	runInDurableObject(relay(user.accountId), (_, state) =>
		state.storage.sql
			.exec<{ msg_id: string }>("SELECT msg_id FROM queue WHERE device_id = ? ORDER BY seq", user.deviceId)
			.toArray()
			.map((r) => r.msg_id),
	);
const credits = async (user: TestUser): Promise<number> => (await api("/api/account", { token: user.token })).json.credits;
const asDevice = (u: TestUser) => ({ accountId: u.accountId, deviceId: u.deviceId }) as Parameters<typeof openReceipt>[0];

/** Frames already here must stay the only ones: a ping's pong comes after anything sent before it. */
async function settle(socket: TestSocket): Promise<void> {
	socket.send({ type: "ping" });
	await socket.next("pong");
}

const messagesOn = (socket: TestSocket, id: string) => socket.frames.filter((f) => f.type === "message" && f.id === id).length;

async function prompt() {
	const { alice, bob, key } = await contactPair();
	const a = await connect(alice.token);
	const b = await connect(bob.token, { promptAcks: true });
	await b.next("synced");
	return { alice, bob, key, a, b };
}

describe("messages held until the device acks them", () => {
	it("are pushed, never queued, and answered `sent` with the device's receipt only after its ack", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const f = sealedSend(alice, bob, key, "held, not queued");
		a.send(f);
		await b.next("message", (m) => m.id === f.id);
		await settle(a);
		// Pushed, not yet acked: nothing is on disk, and the sender has not been told it was sent.
		expect(await queuedIds(bob)).toEqual([]);
		expect(a.frames.some((fr) => fr.type === "sent")).toBe(false);
		const ack = sealedAck(bob, alice, key, [f.id]);
		b.send(ack);
		expect(await a.next("sent")).toMatchObject({ id: f.id });
		// The receipt rode back with the delivery's answer and reaches the sender's device once.
		const receipt = await a.next("receipt");
		expect(openReceipt(asDevice(alice), key, receipt)).toMatchObject({ kind: "delivered", ids: [f.id] });
		await settle(a);
		expect(a.frames.filter((fr) => fr.type === "receipt")).toHaveLength(1);
		// "Sent" first, then "delivered", as a client waiting on its send expects.
		expect(a.frames.map((fr) => fr.type).filter((t) => t === "sent" || t === "receipt")).toEqual(["sent", "receipt"]);
		expect(await queuedIds(bob)).toEqual([]);
		// Acked is acked: a new socket of the device has no backlog.
		b.ws.close(1000, "bye");
		const again = await connect(bob.token, { promptAcks: true });
		expect(await again.next("ready")).toMatchObject({ queued: 0 });
		await again.next("synced");
		expect(messagesOn(again, f.id)).toBe(0);
	});

	it("are queued when the hold runs out without an ack: `sent` then, not pushed again, and on the next socket from the queue", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const f = sealedSend(alice, bob, key, "nobody acks this");
		a.send(f);
		await b.next("message", (m) => m.id === f.id);
		expect(await a.next("sent")).toMatchObject({ id: f.id });
		expect(await queuedIds(bob)).toEqual([f.id]);
		await settle(b);
		expect(messagesOn(b, f.id)).toBe(1);
		// The socket is lagging now: the next message is queued at once, and still pushed.
		const g = sealedSend(alice, bob, key, "queued straight away");
		a.send(g);
		await b.next("message", (m) => m.id === g.id);
		expect(await a.next("sent")).toMatchObject({ id: g.id });
		expect(await queuedIds(bob)).toEqual([f.id, g.id]);
		b.ws.close(1000, "bye");
		const again = await connect(bob.token, { promptAcks: true });
		await again.next("synced");
		expect(again.frames.filter((fr) => fr.type === "message").map((m) => (m as { id: string }).id)).toEqual([f.id, g.id]);
		// An ack of queued messages clears them, and the receipt goes by a call of its own.
		again.send(sealedAck(bob, alice, key, [f.id, g.id]));
		const receipt = await a.next("receipt");
		expect(openReceipt(asDevice(alice), key, receipt)).toMatchObject({ ids: [f.id, g.id] });
		await settle(again);
		expect(await queuedIds(bob)).toEqual([]);
	});

	it("are queued at once when the device's socket closes while holding, and its next socket gets them", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const f = sealedSend(alice, bob, key, "the tab closed");
		a.send(f);
		await b.next("message", (m) => m.id === f.id);
		b.ws.close(1000, "tab closed");
		expect(await a.next("sent")).toMatchObject({ id: f.id });
		expect(await queuedIds(bob)).toEqual([f.id]);
		const again = await connect(bob.token, { promptAcks: true });
		await again.next("message", (m) => m.id === f.id);
	});

	it("are queued when a newer socket replaces the holding one, which finds them in its backlog", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const f = sealedSend(alice, bob, key, "a second tab");
		a.send(f);
		await b.next("message", (m) => m.id === f.id);
		const newer = await connect(bob.token, { promptAcks: true });
		expect(await b.closed).toMatchObject({ code: 4000 });
		expect(await a.next("sent")).toMatchObject({ id: f.id });
		await newer.next("message", (m) => m.id === f.id);
		newer.send(sealedAck(bob, alice, key, [f.id]));
		await settle(newer);
		expect(await queuedIds(bob)).toEqual([]);
	});

	it("lose nothing when the recipient's object is evicted while holding: the send is refused uncharged, and its re-send arrives and is charged once", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const start = await credits(alice);
		const f = sealedSend(alice, bob, key, "evicted mid-hold");
		a.send(f);
		await b.next("message", (m) => m.id === f.id);
		// The runtime resets the object: its memory (the hold) is gone, and so is its socket.
		await runInDurableObject(relay(bob.accountId), (_, state) => state.abort("evicted by the test")).catch(() => undefined);
		expect(await a.next("error", (e) => e.ref === f.id)).toMatchObject({ code: "internal" });
		await b.closed;
		expect(await credits(alice)).toBe(start);
		expect(await queuedIds(bob)).toEqual([]);
		// The outbox sends it again under its id; the device that already had it would drop the copy.
		const again = await connect(bob.token, { promptAcks: true });
		await again.next("synced");
		a.send(f);
		await again.next("message", (m) => m.id === f.id);
		again.send(sealedAck(bob, alice, key, [f.id]));
		expect(await a.next("sent", (s) => s.id === f.id)).toMatchObject({ credits: start - 4 });
		expect(await queuedIds(bob)).toEqual([]);
	});

	it("are not queued for a device revoked while holding, and the account's other device keeps its copy", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const phone = bobDevices[1] as TestUser;
		const a = await connect(alice.token);
		const laptop = await connect(bob.token, { promptAcks: true });
		const phoneSocket = await connect(phone.token, { promptAcks: true });
		await laptop.next("synced");
		await phoneSocket.next("synced");
		const f = sealedSend(alice, bob, key, "to both of bob's devices");
		a.send(f);
		await laptop.next("message", (m) => m.id === f.id);
		await phoneSocket.next("message", (m) => m.id === f.id);
		expect((await removeDevice(bob, phone.deviceId)).json.device.status).toBe("revoked");
		expect(await phoneSocket.closed).toMatchObject({ code: 4001 });
		// The laptop has not acked: its hold runs out and it is queued for the laptop only.
		expect(await a.next("sent")).toMatchObject({ id: f.id });
		const rows = await runInDurableObject(relay(bob.accountId), (_, state) =>
			state.storage.sql.exec<{ device_id: string }>("SELECT device_id FROM queue WHERE msg_id = ?", f.id).toArray(),
		);
		expect(rows).toEqual([{ device_id: bob.deviceId }]);
	});

	it("are not held for a socket that did not say it acks at once: queued before `sent`, as always", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		const f = sealedSend(alice, bob, key, "batched acks");
		a.send(f);
		expect(await a.next("sent")).toMatchObject({ id: f.id });
		expect(await queuedIds(bob)).toEqual([f.id]);
		await b.next("message", (m) => m.id === f.id);
	});

	it("keep the sender's order: a second send waits for the first to be acked or queued", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const first = sealedSend(alice, bob, key, "one");
		const second = sealedSend(alice, bob, key, "two");
		a.send(first);
		a.send(second);
		await b.next("message", (m) => m.id === first.id);
		await settle(b);
		expect(messagesOn(b, second.id)).toBe(0);
		b.send(sealedAck(bob, alice, key, [first.id]));
		await b.next("message", (m) => m.id === second.id);
		b.send(sealedAck(bob, alice, key, [second.id]));
		expect((await a.next("sent")).id).toBe(first.id);
		expect((await a.next("sent")).id).toBe(second.id);
		expect(await queuedIds(bob)).toEqual([]);
	});

	it("are not held while the sender has more sends waiting: a burst waits out one hold, the rest is queued, the last held again", async () => {
		const { alice, bob, key, a, b } = await prompt();
		const [first, second, third] = [1, 2, 3].map((n) => sealedSend(alice, bob, key, `burst ${n}`)) as [
			ReturnType<typeof sealedSend>,
			ReturnType<typeof sealedSend>,
			ReturnType<typeof sealedSend>,
		];
		a.send(first);
		await b.next("message", (m) => m.id === first.id);
		a.send(second);
		a.send(third);
		await settle(a);
		b.send(sealedAck(bob, alice, key, [first.id]));
		// The second had the third behind it: queued, and `sent` without waiting for an ack.
		expect((await a.next("sent")).id).toBe(first.id);
		expect((await a.next("sent")).id).toBe(second.id);
		await b.next("message", (m) => m.id === third.id);
		expect(await queuedIds(bob)).toEqual([second.id]);
		await settle(a);
		expect(a.frames.filter((f) => f.type === "sent").map((f) => (f as { id: string }).id)).toEqual([first.id, second.id]);
		b.send(sealedAck(bob, alice, key, [second.id, third.id]));
		expect((await a.next("sent")).id).toBe(third.id);
		await settle(b);
		expect(await queuedIds(bob)).toEqual([]);
	});

	it("are asked for only as `acks=prompt`: any other query on the socket route is refused", async () => {
		const { alice } = await contactPair();
		for (const query of ["acks=later", "acks=prompt&acks=prompt", "acks=prompt&x=1", "x=1"]) {
			const response = await exports.default.fetch(new Request(`${BASE}/api/ws?${query}`, { headers: socketHeaders(alice.token) }));
			expect(response.status, query).toBe(400);
			expect(((await response.json()) as { error: { code: string } }).error.code).toBe("bad_request");
		}
	});
});
