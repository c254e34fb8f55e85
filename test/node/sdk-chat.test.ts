import { describe, expect, it } from "vitest";
import type { ClientFrame } from "../../common/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { collect, collectUntilSynced, contactPair, relayForFile, uniqueHandle } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

const texts = (messages: { text: string }[]): string[] => messages.map((m) => m.text);

describe("the SDK against the real relay", () => {
	it("makes two accounts contacts and carries texts both ways, decrypted on arrival", async () => {
		const { alice, bob } = await contactPair(factory);
		const aliceId = alice.account.accountId;
		const bobId = bob.account.accountId;

		const toBob = collect(bob.client, 1);
		const receipt = await alice.client.sendText(bobId, "hello bob, ünïcödé ✓");
		const [atBob] = await toBob;
		expect(atBob).toEqual({
			id: receipt.id,
			peerId: aliceId,
			from: aliceId,
			fromDevice: alice.account.deviceId,
			kind: "text",
			text: "hello bob, ünïcödé ✓",
			sentAt: receipt.sentAt,
			receivedAt: receipt.acceptedAt,
			outgoing: false,
			// Alice's device's first message to Bob.
			number: { device: alice.account.deviceId, n: 1 },
		});

		const toAlice = collect(alice.client, 1);
		await bob.client.sendText(aliceId, "hi alice");
		expect(texts(await toAlice)).toEqual(["hi alice"]);
		expect((await toAlice)[0]).toMatchObject({ peerId: bobId, from: bobId, outgoing: false });

		expect(await alice.client.contacts()).toEqual([expect.objectContaining({ accountId: bobId, state: "accepted", keyVersion: 1 })]);
		const [aliceNumber, bobNumber] = await Promise.all([alice.client.safetyNumber(bobId), bob.client.safetyNumber(aliceId)]);
		expect(aliceNumber).toMatch(/^(\d{5} ){11}\d{5}$/);
		expect(aliceNumber).toBe(bobNumber);
	});

	it("delivers what was sent to an offline device in order, exactly once, even when the relay pushes it again", async () => {
		const { alice, bob } = await contactPair(factory);
		const bobId = bob.account.accountId;
		bob.client.close();
		const sent = ["one", "two", "three", "four", "five"];
		for (const text of sent) await alice.client.sendText(bobId, text);

		// Bob's first device session loses its acks on the way (as if the socket died right
		// after delivery), so the relay still holds all five and pushes them again later.
		const droppedAcks = new Set<string>();
		let allAcksDropped: () => void = () => {};
		const acksLost = new Promise<void>((resolve) => {
			allAcksDropped = resolve;
		});
		const lossy = interceptingWebSocket({
			outgoing: (data) => {
				const frame: ClientFrame = JSON.parse(data);
				if (frame.type !== "ack") return data;
				for (const id of frame.ids) droppedAcks.add(id);
				if (droppedAcks.size === sent.length) allAcksDropped();
				return null;
			},
		});
		const first = factory.client(bob.store, { WebSocket: lossy });
		const firstRun = collectUntilSynced(first);
		await first.connect();
		const delivered = await firstRun;
		expect(texts(delivered)).toEqual(sent);
		await acksLost;
		expect([...droppedAcks].sort()).toEqual(delivered.map((m) => m.id).sort());
		first.close();

		const second = factory.client(bob.store);
		const ready = second.waitFor("ready");
		const secondRun = collectUntilSynced(second);
		await second.connect();
		expect((await ready).queued).toBe(5);
		expect(await secondRun).toEqual([]);
		second.close();

		// The second session acked the re-sent copies, so nothing is left queued.
		const third = factory.client(bob.store);
		const thirdReady = third.waitFor("ready");
		await third.connect();
		expect((await thirdReady).queued).toBe(0);
	});

	it("survives a relay restart: reconnects with backoff, keeps queued messages and delivers one sent while the relay was down", async () => {
		const { alice, bob } = await contactPair(factory);
		const bobId = bob.account.accountId;
		bob.client.close();
		const before = ["queued 1", "queued 2", "queued 3"];
		for (const text of before) await alice.client.sendText(bobId, text);

		const reconnecting: Array<{ attempt: number; delayMs: number }> = [];
		alice.client.on("reconnecting", (r) => reconnecting.push(r));
		const disconnected = alice.client.waitFor("disconnected", () => true, 20_000);
		const restarting = relay.server.restart();
		await disconnected;
		const whileDown = alice.client.sendText(bobId, "sent while the relay was down");
		const backOnline = alice.client.waitFor("ready", () => true, 60_000);
		await restarting;
		await backOnline;
		const receipt = await whileDown;
		expect(receipt.acceptedAt).toBeGreaterThanOrEqual(receipt.sentAt);
		expect(reconnecting.length).toBeGreaterThan(0);
		expect(reconnecting.map((r) => r.attempt)).toEqual(reconnecting.map((_, i) => i + 1));
		for (const r of reconnecting) expect(r.delayMs).toBeGreaterThanOrEqual(100);
		for (const r of reconnecting) expect(r.delayMs).toBeLessThanOrEqual(2000);

		const after = await alice.client.sendText(bobId, "after the restart");
		expect(after.id).toMatch(/^[A-Za-z0-9_-]{22}$/);

		const bobAgain = factory.client(bob.store);
		const backlog = collectUntilSynced(bobAgain);
		await bobAgain.connect();
		expect(texts(await backlog)).toEqual([...before, "sent while the relay was down", "after the restart"]);
	});

	it("reconnects at once when told the network is back, instead of waiting out its backoff", async () => {
		// A backoff far longer than the test may take: only reconnectNow() can bring it back in time.
		const client = factory.client(undefined, { reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
		await client.register(uniqueHandle("netback"), "laptop");
		await client.connect();
		const waiting = client.waitFor("reconnecting", () => true, 20_000);
		const restarting = relay.server.restart();
		expect((await waiting).delayMs).toBeGreaterThanOrEqual(300_000);
		await restarting;
		const ready = client.waitFor("ready", () => true, 20_000);
		client.reconnectNow();
		await ready;
		const status = await client.accountStatus();
		expect(status.handle).toMatch(/^netback_/);
	});

	it("does not ack a message the app failed to keep, so it comes again and is kept once", async () => {
		const { alice, bob } = await contactPair(factory);
		const kept: string[] = [];
		let failures = 0;
		const bobAgain = factory.client(bob.store, {
			persist: async (m) => {
				if (failures++ === 0) throw new Error("disk full");
				kept.push(m.text);
			},
		});
		bob.client.close();
		await bobAgain.connect();
		const arrived = collect(bobAgain, 1, 20_000);
		await alice.client.sendText(bob.account.accountId, "keep me", { id: alice.client.newMessageId() });
		expect((await arrived)[0]?.text).toBe("keep me");
		expect({ kept, failures }).toEqual({ kept: ["keep me"], failures: 2 });
	});

	it("reports a tampered message as undecryptable, acks it, and keeps delivering the rest", async () => {
		const { alice, bob } = await contactPair(factory);
		const bobId = bob.account.accountId;
		bob.client.close();
		const tampered = await alice.client.sendText(bobId, "this one is altered in transit");
		await alice.client.sendText(bobId, "this one is intact");

		// A relay (or anyone on the path) flipping one bit of the sealed box.
		const hostile = interceptingWebSocket({
			incoming: (data) => {
				const frame = JSON.parse(data);
				if (frame.type !== "message" || frame.id !== tampered.id) return data;
				const box: string = frame.box;
				const flipped = box[10] === "A" ? "B" : "A";
				return JSON.stringify({ ...frame, box: `${box.slice(0, 10)}${flipped}${box.slice(11)}` });
			},
		});
		const bobAgain = factory.client(bob.store, { WebSocket: hostile });
		const undecryptable = bobAgain.waitFor("undecryptable");
		const backlog = collectUntilSynced(bobAgain);
		await bobAgain.connect();
		expect(await undecryptable).toMatchObject({ id: tampered.id, from: alice.account.accountId, reason: "open_failed" });
		expect(texts(await backlog)).toEqual(["this one is intact"]);
		bobAgain.close();

		const third = factory.client(bob.store);
		const ready = third.waitFor("ready");
		await third.connect();
		expect((await ready).queued).toBe(0);
	});
});
