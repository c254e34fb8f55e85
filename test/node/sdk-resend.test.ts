import { describe, expect, it } from "vitest";
import type { IncomingMessage } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { collect, collectUntilSynced, contactPair, linkDevice, relayForFile } from "../support/sdk-clients.ts";

const RATE_WINDOW_SECONDS = 2;

// The real rule of one send per window, over a window short enough for a test.
const relay = relayForFile({
	vars: { ...RELAXED_LIMITS, RATE_LIMIT_COUNT: "1", RATE_LIMIT_WINDOW_SECONDS: String(RATE_WINDOW_SECONDS) },
});
const { factory } = relay;

describe("sending under the rate limit", () => {
	it("holds sends the rate limit would refuse until the window opens, from either device of the account, with no refusal on the wire", async () => {
		// Every server frame Alice's devices read, to show the relay never had to refuse a send.
		const heard: { type: string; code?: string }[] = [];
		const listening = interceptingWebSocket({
			incoming: (data) => {
				heard.push(JSON.parse(data));
				return data;
			},
		});
		const { alice, bob } = await contactPair(factory, { aliceSocket: listening });
		const tablet = await linkDevice(factory, alice, "alice's tablet", { WebSocket: listening });
		const to = bob.account.accountId;
		const waits: (number | null)[] = [];
		const windowHeard = tablet.client.waitFor("sendWindow", () => true, 10_000);
		const first = await alice.client.sendText(to, "first");
		expect(first.nextSendAt).toBeGreaterThan(Date.now());
		const askedAt = Date.now();
		const second = alice.client.sendText(to, "second", { onWait: (at) => waits.push(at) });
		// The tablet heard that the account reached its limit, and waits too.
		expect((await windowHeard).nextSendAt).toBeGreaterThan(Date.now());
		const fromTablet = tablet.client.sendText(to, "third, from the tablet");
		const [two, three] = await Promise.all([second, fromTablet]);
		// Told at once when it would go: when the window the first send opened ends.
		expect(waits[0]).toBeGreaterThan(askedAt);
		expect(waits[0]).toBeLessThanOrEqual(askedAt + RATE_WINDOW_SECONDS * 1000);
		expect(waits.at(-1)).toBeNull();
		const [t0, t1, t2] = [first, two, three].map((r) => r.acceptedAt).sort((a, b) => a - b) as [number, number, number];
		// A window apart each (the relay's clock), and in the order written on each device.
		expect(t1 - t0).toBeGreaterThanOrEqual(RATE_WINDOW_SECONDS * 1000);
		expect(t2 - t1).toBeGreaterThanOrEqual(RATE_WINDOW_SECONDS * 1000);
		expect(two.acceptedAt).toBeGreaterThan(first.acceptedAt);
		expect(heard.filter((f) => f.type === "error")).toEqual([]);
		expect(heard.some((f) => f.type === "send_window")).toBe(true);
	});

	it("takes back a waiting send: it never reaches the relay, costs nothing, and the next one goes", async () => {
		const { alice, bob } = await contactPair(factory);
		const to = bob.account.accountId;
		const atBob: IncomingMessage[] = [];
		bob.client.on("message", (m) => atBob.push(m));
		await alice.client.sendText(to, "sent");
		const before = await alice.client.accountStatus();
		const takeBack = new AbortController();
		const waiting = alice.client.sendText(to, "never mind", { signal: takeBack.signal });
		takeBack.abort();
		const refused = await waiting.catch((err: unknown) => err);
		if (!(refused instanceof SdkError)) throw new Error(`expected an SdkError, got ${String(refused)}`);
		expect(refused.code).toBe("cancelled");
		await alice.client.sendText(to, "this one");
		await expect.poll(() => atBob.map((m) => m.text), { timeout: 10_000 }).toEqual(["sent", "this one"]);
		// Only the message that went was charged.
		const price = (await alice.client.limits()).prices.text;
		expect((await alice.client.accountStatus()).credits).toBe(before.credits - price);
	});

	it("sends again a message whose confirmation was lost with the connection, waits out the limit, and it arrives once", async () => {
		// The first connection loses the relay's `sent` for every message, as if it died just then.
		let loseConfirmations = true;
		const lossy = interceptingWebSocket({
			incoming: (data) => (loseConfirmations && JSON.parse(data).type === "sent" ? JSON.stringify({ type: "pong" }) : data),
		});
		const { alice, bob } = await contactPair(factory, { aliceSocket: lossy });
		const atBob: IncomingMessage[] = [];
		bob.client.on("message", (m) => atBob.push(m));

		const delivered = collect(bob.client, 1);
		const sending = alice.client.sendText(bob.account.accountId, "exactly once");
		await delivered;
		const reconnected = alice.client.waitFor("ready", () => true, 30_000);
		const dropped = alice.client.waitFor("disconnected", () => true, 30_000);
		const restarting = relay.server.restart();
		await dropped;
		loseConfirmations = false;
		await restarting;
		await reconnected;

		// The re-send uses the same id; today the relay counts it against the rate limit again,
		// which the SDK waits out instead of failing a message the recipient already has.
		const receipt = await sending;
		expect(receipt.id).toBe(atBob[0]?.id);

		// Whatever second copy the relay pushed is recognised by its id, now or on the next connection.
		bob.client.close();
		const bobAgain = factory.client(bob.store);
		bobAgain.on("message", (m) => atBob.push(m));
		const backlog = collectUntilSynced(bobAgain);
		await bobAgain.connect();
		await backlog;
		expect(atBob.map((m) => m.text)).toEqual(["exactly once"]);
	});
});
