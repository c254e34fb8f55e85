import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { applyCharges } from "../../worker/db/credits.ts";
import { dropJournalSize, journalSize, nextBatch } from "../../worker/relay/credits/credit-journal.ts";
import { admin } from "./admin-client.ts";
import { journaled, ledgerCount } from "./credit-journal-view.ts";
import { contactPair, queueMessagesFor, sealedSend } from "./fixtures.ts";
import { api, connect, type TestSocket, type TestUser } from "./helpers.ts";
import { statementsDuring } from "./sql-statements.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const d1Credits = async (accountId: string) =>
	(await env.DB.prepare("SELECT credits FROM accounts WHERE id = ?").bind(accountId).first<{ credits: number }>())?.credits;
const charges = async (accountId: string) =>
	(
		await env.DB.prepare(
			"SELECT delta, balance_after, reason, ref, count FROM credit_ledger WHERE account_id = ? AND reason != 'starting_balance' ORDER BY id",
		)
			.bind(accountId)
			.all<any>()
	).results;
const journal = journaled;

async function setCredits(user: TestUser, credits: number) {
	await env.DB.prepare("UPDATE accounts SET credits = ? WHERE id = ?").bind(credits, user.accountId).run();
	await runInDurableObject(relay(user.accountId), (r) => r.reloadAccount());
}

async function send(socket: TestSocket, from: TestUser, to: TestUser, key: Uint8Array) {
	const frame = sealedSend(from, to, key, "pay me");
	socket.send(frame);
	const reply = await Promise.race([socket.next("sent", (s) => s.id === frame.id), socket.next("error", (e) => e.ref === frame.id)]);
	return { id: frame.id, reply };
}

describe("credits", () => {
	it("charges each text once, in one ledger row for the run that names each, and keeps D1 off the per-message path", async () => {
		const { alice, bob, key } = await contactPair();
		const start = (await d1Credits(alice.accountId)) as number;
		const a = await connect(alice.token);
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) {
			const { id, reply } = await send(a, alice, bob, key);
			expect(reply).toMatchObject({ type: "sent", credits: start - 4 * (i + 1) });
			ids.push(id);
		}
		// Charged in the object's journal; D1 not yet touched.
		expect(await d1Credits(alice.accountId)).toBe(start);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(start - 12);
		expect((await journal(alice.accountId)).map((c) => c.ref)).toEqual(ids);
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(await d1Credits(alice.accountId)).toBe(start - 12);
		// Two D1 rows (the ledger row and its index entry) for the three, not two each.
		expect(await charges(alice.accountId)).toEqual([{ delta: -12, balance_after: start - 12, reason: "text", ref: null, count: 3 }]);
		expect(await journal(alice.accountId)).toEqual([]);
		const entries = (await api("/api/account/credits", { token: alice.token })).json.entries;
		expect(entries[0]).toEqual({
			delta: -12,
			balanceAfter: start - 12,
			reason: "text",
			ref: null,
			count: 3,
			createdAt: expect.any(Number),
		});
		// A row of one charge keeps its ref and has no count, as before.
		expect(entries[1]).toMatchObject({ reason: "starting_balance", ref: null });
		expect(entries[1].count).toBeUndefined();
		expect(await charges(bob.accountId)).toEqual([]);
	});

	it("writes charges to D1 in batches: the first waits CREDIT_FLUSH_SECONDS, a full batch of CREDIT_FLUSH_CHARGES goes at the next pause, and ledger readers flush first", async () => {
		const { alice, bob, key } = await contactPair();
		const start = (await d1Credits(alice.accountId)) as number;
		const a = await connect(alice.token);
		const first = await send(a, alice, bob, key);
		// Not due now; at the latest 300 s on (earlier if something else expires first, like the login challenge).
		const alarmAt = (await runInDurableObject(relay(alice.accountId), (_, state) => state.storage.getAlarm())) as number;
		expect(alarmAt).toBeGreaterThan(Date.now() + 30_000);
		expect(alarmAt).toBeLessThanOrEqual(Date.now() + 300_000);
		expect(await d1Credits(alice.accountId)).toBe(start);

		// The ledger view writes the waiting charge before it reads.
		const history = await api("/api/account/credits", { token: alice.token });
		expect(history.json.entries[0]).toMatchObject({ delta: -4, reason: "text", ref: first.id });
		expect(await d1Credits(alice.accountId)).toBe(start - 4);
		expect(await journal(alice.accountId)).toEqual([]);

		// A batch less one waits for the alarm; a whole batch is written at the first pause in
		// sending (an alarm while the account still sends holds it back), by itself.
		const batch = Number(env.CREDIT_FLUSH_CHARGES);
		for (let i = 0; i < batch - 1; i++) expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
		expect(await journal(alice.accountId)).toHaveLength(batch - 1);
		expect(await d1Credits(alice.accountId)).toBe(start - 4);
		await send(a, alice, bob, key);
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(await journal(alice.accountId)).toHaveLength(batch);
		await vi.waitFor(async () => expect(await journal(alice.accountId)).toEqual([]), { timeout: 10_000, interval: 50 });
		expect(await d1Credits(alice.accountId)).toBe(start - 4 * (batch + 1));
		expect(await ledgerCount(alice.accountId, "text")).toBe(batch + 1);
		// The first charge went alone, the batch as one row.
		expect((await charges(alice.accountId)).map((c) => c.count)).toEqual([1, batch]);

		// So does the admin's view of the account.
		const last = await send(a, alice, bob, key);
		const view = await admin(`/accounts/${alice.handle}`);
		expect(view.json.account.credits).toBe(start - 4 * (batch + 2));
		expect(view.json.ledger[0]).toMatchObject({ delta: -4, ref: last.id });
	});

	it("looks for a pause ever later while the account keeps sending, and a new charge does not bring the look forward", async () => {
		const { alice, bob, key } = await contactPair();
		await setCredits(alice, 10_000);
		const a = await connect(alice.token);
		const stub = relay(alice.accountId);
		const alarm = async () => (await runInDurableObject(stub, (_, state) => state.storage.getAlarm())) as number;
		const batch = Number(env.CREDIT_FLUSH_CHARGES);
		for (let i = 0; i < batch; i++) expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
		// The first look waits for the first pause: a second after the last send.
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await alarm()).toBeLessThanOrEqual(Date.now() + 1000);
		// Still sending at each look: 2 s, then 4 s on.
		const looks: number[] = [];
		for (const wait of [2000, 4000]) {
			expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
			const before = Date.now();
			expect(await runDurableObjectAlarm(stub)).toBe(true);
			const at = await alarm();
			expect(at).toBeGreaterThanOrEqual(before + wait);
			expect(at).toBeLessThanOrEqual(Date.now() + wait);
			looks.push(at);
		}
		// A send while deferred keeps the later look instead of the pause a second on.
		expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
		expect(await alarm()).toBe(looks[1]);
		expect(await journal(alice.accountId)).toHaveLength(batch + 3);
		// The pause comes: the look after it writes the batch, and the backoff starts over.
		await new Promise((resolve) => setTimeout(resolve, 1100));
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await journal(alice.accountId)).toEqual([]);
		expect(await ledgerCount(alice.accountId, "text")).toBe(batch + 3);
		for (let i = 0; i < batch; i++) expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await alarm()).toBeLessThanOrEqual(Date.now() + 1000);
	});

	it("counts only settled charges toward a batch: open attachment reservations do not bring the flush forward", async () => {
		const { alice, bob, key } = await contactPair();
		await setCredits(alice, 10_000);
		const batch = Number(env.CREDIT_FLUSH_CHARGES);
		for (let i = 0; i < batch; i++) {
			const reserved = await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size: 10 } });
			expect(reserved.status).toBe(201);
		}
		const a = await connect(alice.token);
		expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
		// One settled charge (and a batch's worth of holds): the flush waits for its age, not for a pause.
		const alarmAt = (await runInDurableObject(relay(alice.accountId), (_, state) => state.storage.getAlarm())) as number;
		expect(alarmAt).toBeGreaterThan(Date.now() + 30_000);
		expect(await journal(alice.accountId)).toHaveLength(batch + 1);
	});

	it("keeps the journal's size exact through a flush without reading the record again: the batch leaves it, open holds stay", async () => {
		const { alice, bob, key } = await contactPair();
		await setCredits(alice, 10_000);
		const reserved = await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size: 10 } });
		expect(reserved.status).toBe(201);
		const a = await connect(alice.token);
		for (let i = 0; i < 3; i++) expect((await send(a, alice, bob, key)).reply.type).toBe("sent");
		const before = (await api("/api/account", { token: alice.token })).json.credits;
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		// What the object holds in memory, then what storage says once the memo is dropped.
		const sizes = await runInDurableObject(relay(alice.accountId), async (_, state) => {
			const sql = state.storage.sql;
			const { value: kept, statements } = await statementsDuring(sql, () => ({ ...journalSize(sql) }));
			dropJournalSize(sql);
			return { kept, statements, fresh: journalSize(sql) };
		});
		expect(sizes.statements).toEqual([]);
		expect(sizes.kept).toEqual(sizes.fresh);
		expect(sizes.kept).toMatchObject({ charges: 0, oldestAt: null });
		expect(sizes.kept.amount).toBeGreaterThan(0);
		// The balance shown is the same before and after the flush: D1 took the texts, the hold stays in the journal.
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(before);
		expect((await journal(alice.accountId)).map((c) => c.state)).toEqual(["held"]);
	});

	it("refuses with insufficient_credits before anything is delivered, and a grant makes sending possible", async () => {
		const { alice, bob, key } = await contactPair();
		await setCredits(alice, 3);
		const a = await connect(alice.token);
		const { reply } = await send(a, alice, bob, key);
		expect(reply).toMatchObject({ type: "error", code: "insufficient_credits" });
		const queued = await runInDurableObject(relay(bob.accountId), (_, state) => state.storage.sql.exec("SELECT * FROM queue").toArray());
		expect(queued).toEqual([]);
		expect(await journal(alice.accountId)).toEqual([]);
		const granted = await admin(`/accounts/${alice.accountId}/credits`, { body: { amount: 5, reason: "support ticket 12" } });
		expect(granted.json.ledger[0]).toMatchObject({ delta: 5, balanceAfter: 8, reason: "admin: support ticket 12" });
		expect((await send(a, alice, bob, key)).reply).toMatchObject({ type: "sent", credits: 4 });
	});

	it("never overspends when two devices send at once", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 1 });
		await setCredits(alice, 8);
		const sockets = await Promise.all(aliceDevices.map((d) => connect(d.token)));
		const attempts = await Promise.all(
			Array.from({ length: 6 }, (_, i) => send(sockets[i % 2] as TestSocket, aliceDevices[i % 2] as TestUser, bob, key)),
		);
		const sent = attempts.filter((a) => a.reply.type === "sent");
		expect(sent).toHaveLength(2);
		expect(attempts.filter((a) => a.reply.type === "error" && a.reply.code === "insufficient_credits")).toHaveLength(4);
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await d1Credits(alice.accountId)).toBe(0);
		expect(await ledgerCount(alice.accountId, "text")).toBe(2);
	});

	it("does not charge a send the recipient refused", async () => {
		const { alice, bob, key } = await contactPair();
		await queueMessagesFor(bob, alice, key, 10_000);
		const before = (await api("/api/account", { token: alice.token })).json.credits;
		const a = await connect(alice.token);
		expect((await send(a, alice, bob, key)).reply).toMatchObject({ code: "recipient_queue_full" });
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(before);
		expect(await journal(alice.accountId)).toEqual([]);
	});

	it("loses and double-spends nothing when the object is evicted before or during a flush", async () => {
		const { alice, bob, key } = await contactPair();
		const start = (await d1Credits(alice.accountId)) as number;
		let a = await connect(alice.token);
		const ids = [(await send(a, alice, bob, key)).id, (await send(a, alice, bob, key)).id];
		await abortAllDurableObjects();
		a = await connect(alice.token);
		ids.push((await send(a, alice, bob, key)).id);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(start - 12);

		expect((await journal(alice.accountId)).map((c) => c.ref)).toEqual(ids);
		// Evicted after D1 committed the batch but before the object noted it: the retry
		// carries the same batch id and D1 refuses it, so nothing is charged twice.
		await runInDurableObject(relay(alice.accountId), async (_, state) => {
			const batch = nextBatch(state.storage.sql, () => "flush-interrupted-0001");
			if (!batch) throw new Error("expected a batch");
			await applyCharges(env.DB, alice.accountId, batch.flushId, batch.charges, Date.now());
		});
		await abortAllDurableObjects();
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(await d1Credits(alice.accountId)).toBe(start - 12);
		expect(await ledgerCount(alice.accountId, "text")).toBe(ids.length);
		expect(await journal(alice.accountId)).toEqual([]);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(start - 12);
	});

	it("retries a batch that older code marked on its rows under its own id, so one that landed before an eviction is not charged again", async () => {
		const { alice, bob, key } = await contactPair();
		const start = (await d1Credits(alice.accountId)) as number;
		const a = await connect(alice.token);
		const ids = [(await send(a, alice, bob, key)).id, (await send(a, alice, bob, key)).id];
		// What older code left when it was evicted after D1 took a batch: its rows marked with the
		// batch id, and no batch in meta.
		await runInDurableObject(relay(alice.accountId), async (_, state) => {
			const sql = state.storage.sql;
			// Older code journaled a text's charge in `charges`, not in the sent record.
			sql.exec(
				"INSERT INTO charges (ref, reason, amount, at, state) SELECT id, charge_reason, price, at, 'charged' FROM sent_messages WHERE charge_seq IS NOT NULL ORDER BY charge_seq",
			);
			sql.exec("UPDATE sent_messages SET charge_seq = NULL, price = 0, charge_reason = NULL");
			sql.exec("UPDATE charges SET flush_id = 'flush-from-older-code'");
			const rows = sql
				.exec<{ ref: string; reason: string; amount: number; at: number }>("SELECT ref, reason, amount, at FROM charges ORDER BY id")
				.toArray();
			expect(rows.map((r) => r.ref)).toEqual(ids);
			await applyCharges(env.DB, alice.accountId, "flush-from-older-code", rows, Date.now());
		});
		await abortAllDurableObjects();
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(await d1Credits(alice.accountId)).toBe(start - 8);
		expect(await ledgerCount(alice.accountId, "text")).toBe(ids.length);
		expect(await journal(alice.accountId)).toEqual([]);
	});
});
