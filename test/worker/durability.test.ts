import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { STORAGE_MIGRATIONS } from "../../worker/relay/storage/storage-schema.ts";
import { journaled, ledgerCount } from "./credit-journal-view.ts";
import { contactPair, sealedSend } from "./fixtures.ts";
import { api, connect, type TestSocket } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
/** The migration that released sends older code held and logged before their delivery. */
const RELEASE = STORAGE_MIGRATIONS.findIndex((m) => m.some((s) => s.includes("DELETE FROM events WHERE kind = 'send'")));
const credits = async (token: string): Promise<number> => (await api("/api/account", { token })).json.credits;
const journal = journaled;

/** Ack every message as it arrives, as the SDK does; returns the ids seen and how many copies came. */
function ackAsTheyCome(socket: TestSocket, seen: Set<string>, copies: { n: number }): void {
	socket.ws.addEventListener("message", (e) => {
		const frame = JSON.parse(e.data as string);
		if (frame.type !== "message") return;
		copies.n++;
		seen.add(frame.id);
		socket.send({ type: "ack", ids: [frame.id] });
	});
}

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

	it("a send that older code held and logged before an eviction cut off its delivery is released by the schema upgrade: not charged, not counted, and its re-send arrives and is charged once", async () => {
		expect(RELEASE).toBeGreaterThan(0);
		const { alice, bob, key } = await contactPair();
		const start = await credits(alice.token);
		const f = sealedSend(alice, bob, key, "cut off");
		// What an eviction left behind when it struck older code while the delivery was on its
		// way (that code held the price and logged the send first), in that code's schema.
		await runInDurableObject(relay(alice.accountId), (_, state) => {
			const sql = state.storage.sql;
			sql.exec("INSERT INTO charges (ref, reason, amount, at, state) VALUES (?, 'text', 4, ?, 'held')", f.id, Date.now());
			sql.exec("INSERT INTO events (kind, at, ref) VALUES ('send', ?, ?)", Date.now(), f.id);
			// Before the release, found by what it does: every migration after it is safe to run again.
			sql.exec("UPDATE meta SET value = ? WHERE key = 'schema_version'", String(RELEASE));
		});
		await abortAllDurableObjects();

		expect(await journal(alice.accountId)).toEqual([]);
		const events = await runInDurableObject(relay(alice.accountId), (_, state) =>
			state.storage.sql.exec("SELECT * FROM events WHERE ref = ?", f.id).toArray(),
		);
		expect(events).toEqual([]);
		expect(await credits(alice.token)).toBe(start);
		const a = await connect(alice.token);
		a.send(f);
		expect(await a.next("sent", (s) => s.id === f.id)).toMatchObject({ credits: start - 4 });
		const b = await connect(bob.token);
		expect((await b.next("message")).id).toBe(f.id);
	});

	it("sends and acks cut off by an eviction at whatever point: re-sent under their ids, each reaches the user once and is charged once", async () => {
		const { alice, bob, key } = await contactPair();
		const start = await credits(alice.token);
		const seen = new Set<string>();
		const copies = { n: 0 };
		const b = await connect(bob.token);
		await b.next("synced");
		ackAsTheyCome(b, seen, copies);
		const a = await connect(alice.token);
		const frames = Array.from({ length: 8 }, (_, i) => sealedSend(alice, bob, key, `m${i}`));
		for (const f of frames) a.send(f);
		// Strikes once the first sends are through, while the rest are in flight, pushes on their way and acks unanswered.
		await a.next("sent", (s) => s.id === frames[2]?.id);
		await abortAllDurableObjects();
		await Promise.all([a.closed, b.closed]);

		// The client sends again every message whose `sent` it did not see (the SDK's outbox).
		const confirmed = new Set(a.frames.flatMap((f) => (f.type === "sent" ? [f.id] : [])));
		const b2 = await connect(bob.token);
		ackAsTheyCome(b2, seen, copies);
		const a2 = await connect(alice.token);
		const resent = frames.filter((f) => !confirmed.has(f.id));
		for (const f of resent) a2.send(f);
		for (const f of resent) await a2.next("sent", (s) => s.id === f.id);

		await vi.waitFor(() => expect(seen.size).toBe(frames.length));
		await vi.waitFor(async () => expect(await queuedIds(bob.accountId)).toEqual([]));
		// Each message charged once, in the journal before the flush and in the ledger after it.
		expect((await journal(alice.accountId)).map((c) => c.ref).sort()).toEqual(frames.map((f) => f.id).sort());
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await ledgerCount(alice.accountId, "text")).toBe(frames.length);
		expect(await journal(alice.accountId)).toEqual([]);
		expect(await credits(alice.token)).toBe(start - 4 * frames.length);
		console.log(
			`eviction: ${confirmed.size} of ${frames.length} sends confirmed before it, ${resent.length} re-sent; ${copies.n} copies on the wire, ${seen.size} messages for the user`,
		);
	});
});
