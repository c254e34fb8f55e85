import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { contactPair, sealedSend } from "./fixtures.ts";
import { connect } from "./helpers.ts";

const queuedIds = (accountId: string) =>
	runInDurableObject(env.USERS.get(env.USERS.idFromName(accountId)), (_, state) =>
		state.storage.sql
			.exec<{ msg_id: string }>("SELECT msg_id FROM queue ORDER BY seq")
			.toArray()
			.map((r) => r.msg_id),
	);

describe("a Durable Object restarted mid-way", () => {
	it("loses no queued message: a device that was offline gets everything after the restart", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) {
			const f = sealedSend(alice, bob, key, `before restart ${i}`);
			ids.push(f.id);
			a.send(f);
			await a.next("sent", (s) => s.id === f.id);
		}
		await abortAllDurableObjects();
		const b = await connect(bob.token);
		expect(await b.next("ready")).toMatchObject({ queued: 3 });
		const got = [(await b.next("message")).id, (await b.next("message")).id, (await b.next("message")).id];
		expect(got).toEqual(ids);
	});

	it("re-sends unacked messages in order to a device that was mid-drain, and keeps accepting sends", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const ids: string[] = [];
		for (let i = 0; i < 4; i++) {
			const f = sealedSend(alice, bob, key, `m${i}`);
			ids.push(f.id);
			a.send(f);
			await a.next("sent", (s) => s.id === f.id);
		}
		const b = await connect(bob.token);
		const first = await b.next("message");
		b.send({ type: "ack", ids: [first.id] });
		await b.next("synced");
		// The ack has no reply (and pings are answered without the object), so wait on storage.
		await vi.waitFor(async () => expect(await queuedIds(bob.accountId)).toEqual(ids.slice(1)));
		await abortAllDurableObjects();
		await b.closed;

		const b2 = await connect(bob.token);
		const again = [(await b2.next("message")).id, (await b2.next("message")).id, (await b2.next("message")).id];
		expect(again).toEqual(ids.slice(1));
		const a2 = await connect(alice.token);
		const after = sealedSend(alice, bob, key, "after restart");
		a2.send(after);
		await a2.next("sent", (s) => s.id === after.id);
		expect((await b2.next("message", (m) => m.id === after.id)).id).toBe(after.id);
	});
});
