import { describe, expect, it } from "vitest";
import type { IncomingMessage } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { collect, collectUntilSynced, contactPair, relayForFile } from "../support/sdk-clients.ts";

const RATE_WINDOW_SECONDS = 2;

// The real rule of one send per window, over a window short enough for a test.
const relay = relayForFile({
	vars: { ...RELAXED_LIMITS, RATE_LIMIT_COUNT: "1", RATE_LIMIT_WINDOW_SECONDS: String(RATE_WINDOW_SECONDS) },
});
const { factory } = relay;

describe("sending under the rate limit", () => {
	it("rejects a send the relay refuses, with the code and how long to wait", async () => {
		const { alice, bob } = await contactPair(factory);
		await alice.client.sendText(bob.account.accountId, "first");
		const refused = await alice.client.sendText(bob.account.accountId, "too soon").catch((err: unknown) => err);
		if (!(refused instanceof SdkError)) throw new Error(`expected an SdkError, got ${String(refused)}`);
		expect(refused.code).toBe("rate_limited");
		expect(refused.retryAfter).toBeGreaterThan(0);
		expect(refused.retryAfter).toBeLessThanOrEqual(RATE_WINDOW_SECONDS * 1000);
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
