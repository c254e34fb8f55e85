import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deleteMeta } from "../../worker/relay/storage/storage-schema.ts";
import { UserRelay } from "../../worker/user-relay.ts";
import { journaled, ledgerCount } from "./credit-journal-view.ts";
import { contactPair, sealedSend } from "./fixtures.ts";
import { api, BASE, connect } from "./helpers.ts";
import { brokenD1 } from "./outages.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

describe("faults", () => {
	it("a D1 outage during a credit flush keeps every charge and retries; the retry charges each exactly once", async () => {
		const { alice, bob, key } = await contactPair();
		const start = (await api("/api/account", { token: alice.token })).json.credits;
		const a = await connect(alice.token);
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) {
			const f = sealedSend(alice, bob, key, `m${i}`);
			ids.push(f.id);
			a.send(f);
			await a.next("sent", (s) => s.id === f.id);
		}
		// Swap the object's D1 for a broken one, as an outage would; the alarm must fail.
		await runInDurableObject(relay(alice.accountId), (instance) => {
			UserRelay.hostOf(instance).db = brokenD1;
		});
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		const retryAt = await runInDurableObject(relay(alice.accountId), (_, s) => s.storage.getAlarm());
		expect(retryAt).toBeGreaterThan(Date.now());
		expect((await journaled(alice.accountId)).map((r) => r.ref)).toEqual(ids);
		// Messages were delivered all the same: the outage cost no message.
		const b = await connect(bob.token);
		expect(await b.next("ready")).toMatchObject({ queued: 3 });

		await runInDurableObject(relay(alice.accountId), (instance) => {
			UserRelay.hostOf(instance).db = env.DB;
		});
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(await ledgerCount(alice.accountId, "text")).toBe(ids.length);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(start - 12);
	});

	it("a delivery that throws in the recipient's object is refused with a typed error, charges and queues nothing, and its re-send under the same id is charged once", async () => {
		const { alice, bob, key } = await contactPair({ extraDevices: 1 });
		const start = (await api("/api/account", { token: alice.token })).json.credits;
		// Bob's object has to load its devices from D1 (its cache is gone) while D1 is down:
		// its deliver throws, so Alice's object sees the RPC fail rather than a refusal.
		await runInDurableObject(relay(bob.accountId), (instance, state) => {
			deleteMeta(state.storage.sql, "devices_loaded");
			UserRelay.hostOf(instance).db = brokenD1;
		});
		const a = await connect(alice.token);
		const frame = sealedSend(alice, bob, key, "lost in transit?");
		a.send(frame);
		expect(await a.next("error", (e) => e.ref === frame.id)).toMatchObject({ code: "internal" });

		const rows = (accountId: string, query: string) =>
			runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec(query).toArray());
		expect(await journaled(alice.accountId)).toEqual([]);
		// Not recorded, so not counted against the rate limit or the quota either (they count this record).
		expect(await rows(alice.accountId, "SELECT id FROM sent_messages")).toEqual([]);
		expect(await rows(alice.accountId, "SELECT msg_id FROM queue")).toEqual([]);
		expect(await rows(bob.accountId, "SELECT msg_id FROM queue")).toEqual([]);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(start);

		await runInDurableObject(relay(bob.accountId), (instance) => {
			UserRelay.hostOf(instance).db = env.DB;
		});
		a.send(frame);
		expect(await a.next("sent", (s) => s.id === frame.id)).toBeTruthy();
		// Alice's phone gets its sent-sync copy; Bob's two devices each get the message.
		expect((await rows(alice.accountId, "SELECT msg_id FROM queue")).map((r) => r.msg_id)).toEqual([frame.id]);
		expect((await rows(bob.accountId, "SELECT msg_id FROM queue")).map((r) => r.msg_id)).toEqual([frame.id, frame.id]);
		const ledger = (await api("/api/account/credits", { token: alice.token })).json.entries.filter((e: any) => e.ref === frame.id);
		expect(ledger).toEqual([expect.objectContaining({ delta: -4, reason: "text" })]);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(start - 4);
	});

	it("an upload that breaks off leaves no blob, charges nothing more, and can be retried", async () => {
		const { alice, bob } = await contactPair();
		const reserved = (await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size: 100_000 } })).json;
		const path = `${BASE}/api/attachments/${reserved.owner}/${reserved.attachmentId}`;
		let sent = 0;
		const breaking = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (sent > 50_000) return controller.error(new Error("connection reset"));
				sent += 10_000;
				controller.enqueue(new Uint8Array(10_000));
			},
		});
		const broken = await exports.default
			.fetch(
				new Request(path, {
					method: "PUT",
					headers: { authorization: `Bearer ${alice.token}`, "content-length": String(reserved.sealedSize) },
					body: breaking,
				}),
			)
			.catch((err: unknown) => err);
		if (broken instanceof Response) expect(broken.status).toBeGreaterThanOrEqual(400);
		expect((await env.ATTACHMENTS.list()).objects).toEqual([]);
		const whole = new Uint8Array(reserved.sealedSize);
		const retry = await exports.default.fetch(
			new Request(path, {
				method: "PUT",
				headers: { authorization: `Bearer ${alice.token}`, "content-length": String(whole.length) },
				body: whole,
			}),
		);
		expect(retry.status).toBe(204);
		expect((await env.ATTACHMENTS.list()).objects).toHaveLength(1);
	});
});
