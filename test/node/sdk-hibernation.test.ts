import { describe, expect, it } from "vitest";
import type { IncomingMessage } from "../../client/core/sdk.ts";
import { HotPathProbe } from "../bench/hot-path-probe.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { contactPair, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

/** More than two pages of 100, so the drain is mid-way when the objects hibernate. */
const BACKLOG = 250;
/** Bob keeps this many, then holds on to the next: 40 acks are below the 50 that bring the next page. */
const KEPT_BEFORE_HOLD = 40;
/**
 * Local workerd evicts a Durable Object whose sockets have been quiet for 10 s; Alice's
 * object had its last work (the credit flush, 1 s after her last send) before the hold. The
 * rest is margin for a slow machine: an object not yet evicted fails the count below.
 */
const IDLE_MS = 16_000;

describe("the SDK against the real relay, across hibernation", () => {
	it(
		"carries on a half-drained backlog and a live chat after both objects hibernate with their sockets open: in order, exactly once, and the acks empty the queue",
		{ timeout: 90_000 },
		async () => {
			const { alice, bob } = await contactPair(factory);
			const bobId = bob.account.accountId;
			bob.client.close();
			const sent: string[] = [];
			for (let i = 0; i < BACKLOG; i++) sent.push((await alice.client.sendText(bobId, `queued ${i}`)).id);

			let release: () => void = () => {};
			const released = new Promise<void>((resolve) => {
				release = resolve;
			});
			let holding: () => void = () => {};
			const held = new Promise<void>((resolve) => {
				holding = resolve;
			});
			let persisted = 0;
			const bobAgain = factory.client(bob.store, {
				persist: async () => {
					if (++persisted !== KEPT_BEFORE_HOLD + 1) return;
					holding();
					await released;
				},
			});
			const received: IncomingMessage[] = [];
			bobAgain.on("message", (m) => received.push(m));
			const delivered = new Set<string>();
			alice.client.on("delivered", ({ ids }) => {
				for (const id of ids) delivered.add(id);
			});
			await bobAgain.connect();
			await held;

			// Both sockets stay open and quiet while the runtime evicts the objects behind them.
			await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
			const probe = await HotPathProbe.attach(relay.server.inspectorPort);
			try {
				await probe.watchConstructions();
				const before = await probe.constructions();
				release();
				await expect.poll(() => received.length, { timeout: 30_000 }).toBe(BACKLOG);
				const live = await alice.client.sendText(bobId, "after hibernation");
				sent.push(live.id);
				await expect.poll(() => received.length, { timeout: 10_000 }).toBe(BACKLOG + 1);
				// Bob's object woke for his acks, Alice's for the receipts and her send: each was built anew.
				expect((await probe.constructions()) - before).toBe(2);
				// Each was given its account id as its name by the runtime (ctx.id.name), which the object relies on.
				const names = (await probe.constructedNames()).slice(before);
				expect(names.sort()).toEqual([alice.account.accountId, bobId].sort());
				await probe.stopWatching();
			} finally {
				probe.close();
			}

			expect(received.map((m) => m.id)).toEqual(sent);
			expect(received.map((m) => m.text)).toEqual([...Array.from({ length: BACKLOG }, (_, i) => `queued ${i}`), "after hibernation"]);
			// Receipts follow acks: once all are in, Bob's acks have emptied his queue.
			await expect.poll(() => delivered.size, { timeout: 10_000 }).toBe(sent.length);
			bobAgain.close();
			const check = factory.client(bob.store);
			const ready = check.waitFor("ready");
			await check.connect();
			expect((await ready).queued).toBe(0);
		},
	);
});
