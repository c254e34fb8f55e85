import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../../worker/abuse/send-limits.ts";
import { chargeSent, finishBatch, journalSize, nextBatch } from "../../worker/relay/credits/credit-journal.ts";
import { countSends, lifetimeSends, NEWEST_SENDS_KEPT, newestSendTimes, recordSent } from "../../worker/relay/messaging/sent-messages.ts";
import { registerUser } from "./helpers.ts";
import { statementsDuring } from "./sql-statements.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const SENDS = NEWEST_SENDS_KEPT + 4;
const T0 = 1_800_000_000_000;

/** Statements of a step that read the sender's record, which has no index but its id: each reads every row it holds. */
const passesOverRecord = (statements: string[]) => statements.filter((s) => /FROM sent_messages/.test(s) && !/WHERE id = \?/.test(s));

/** `count` charged text sends a second apart from `from`, recorded as a send records them. */
function recordChargedSends(accountId: string, count: number, price: number, from = T0) {
	return runInDurableObject(relay(accountId), (_, state) => {
		const sql = state.storage.sql;
		for (let i = 0; i < count; i++) {
			const at = from + i * 1000;
			const charge = { amount: price, seq: chargeSent(sql, price, at) };
			recordSent(sql, { id: `m${String(i).padStart(21, "0")}`, to: "b".repeat(22), kind: "text", at, counted: true, charge });
		}
	});
}

describe("what an object's start reads of the sender's record", () => {
	it("takes the limits' window, the newest sends, the lifetime count, the journal and the next charge number from one pass, and gets each right", async () => {
		const alice = await registerUser("alice");
		await recordChargedSends(alice.accountId, SENDS, 1);
		// A start from storage: every memo of the last life is gone, as after a wake from hibernation.
		await abortAllDurableObjects();
		const woken = await runInDurableObject(relay(alice.accountId), async (_, state) => {
			const sql = state.storage.sql;
			const now = T0 + SENDS * 1000;
			// In a send's order: the limits count, then the balance is checked, then the send is charged.
			return statementsDuring(sql, () => ({
				window: countSends(sql, now - 10_000, now - DAY_MS),
				journal: { ...journalSize(sql) },
				newest: newestSendTimes(sql, NEWEST_SENDS_KEPT),
				lifetime: lifetimeSends(sql),
				seq: chargeSent(sql, 1, now),
			}));
		});
		expect(passesOverRecord(woken.statements)).toHaveLength(1);
		// Each row of the record read once (two passes read each twice), and the journal's own small table.
		expect(woken.rowsRead).toBeLessThanOrEqual(SENDS + 2);
		expect(woken.value.journal).toMatchObject({ charges: SENDS, oldestAt: T0 });
		expect(woken.value.journal.amount).toBeGreaterThanOrEqual(SENDS);
		// Sends at T0 + i s: those after now − 10 s are the last nine.
		expect(woken.value.window).toEqual({ inShort: 9, inLong: SENDS });
		expect(woken.value.newest).toEqual(Array.from({ length: NEWEST_SENDS_KEPT }, (_, i) => T0 + (SENDS - 1 - i) * 1000));
		expect(woken.value.lifetime).toBe(SENDS);
		expect(woken.value.seq).toBe(SENDS + 1);
	});

	it("still finds the newest sends of an account that sent fewer than the window needs to hold them", async () => {
		const bob = await registerUser("bob");
		await runInDurableObject(relay(bob.accountId), (_, state) => {
			const sql = state.storage.sql;
			// Three sends two days ago: none in the day's window.
			for (let i = 0; i < 3; i++)
				recordSent(sql, { id: `n${String(i).padStart(21, "0")}`, to: "a".repeat(22), kind: "text", at: T0 + i, counted: true });
		});
		await abortAllDurableObjects();
		const woken = await runInDurableObject(relay(bob.accountId), async (_, state) => {
			const sql = state.storage.sql;
			const now = T0 + 2 * DAY_MS;
			return { window: countSends(sql, now - 10_000, now - DAY_MS), newest: newestSendTimes(sql, NEWEST_SENDS_KEPT) };
		});
		expect(woken).toEqual({ window: { inShort: 0, inLong: 0 }, newest: [T0 + 2, T0 + 1, T0] });
	});

	it("takes a flush's batch and the journal after it from memory, exact, with charges made while the batch was on its way", async () => {
		const carol = await registerUser("carol");
		await recordChargedSends(carol.accountId, 6, 2);
		await abortAllDurableObjects();
		const woken = await runInDurableObject(relay(carol.accountId), async (_, state) => {
			const sql = state.storage.sql;
			const now = T0 + 6000;
			return statementsDuring(sql, () => {
				countSends(sql, now - 10_000, now - DAY_MS);
				const before = { ...journalSize(sql) };
				const batch = nextBatch(sql, () => "batch-1");
				// Two sends are charged while the batch is on its way to D1.
				for (const i of [6, 7]) {
					const charge = { amount: 3, seq: chargeSent(sql, 3, T0 + i * 1000) };
					recordSent(sql, {
						id: `m${String(i).padStart(21, "0")}`,
						to: "b".repeat(22),
						kind: "text",
						at: T0 + i * 1000,
						counted: true,
						charge,
					});
				}
				if (batch) finishBatch(sql, batch);
				return { before, batch, after: { ...journalSize(sql) }, next: nextBatch(sql, () => "batch-2") };
			});
		});
		// The start's pass is the only read of the record: the batch, the journal after it and the next batch come from memory.
		expect(passesOverRecord(woken.statements)).toHaveLength(1);
		expect(woken.value.before).toEqual({ amount: 12, charges: 6, oldestAt: T0 });
		expect(woken.value.batch?.sends).toEqual({ after: 0, upTo: 6 });
		expect(woken.value.batch?.charges.map((c) => [c.ref, c.amount, c.at])).toEqual(
			Array.from({ length: 6 }, (_, i) => [`m${String(i).padStart(21, "0")}`, 2, T0 + i * 1000]),
		);
		expect(woken.value.after).toEqual({ amount: 6, charges: 2, oldestAt: T0 + 6000 });
		expect(woken.value.next?.sends).toEqual({ after: 6, upTo: 8 });
		expect(woken.value.next?.charges.map((c) => c.amount)).toEqual([3, 3]);
	});

	it("reads the record once too when the alarm's credit flush looks at the journal before a message counts the limits", async () => {
		const dave = await registerUser("dave");
		// The journal's look has no window of its own to ask for: it fills the day before the
		// object's clock, so these sends are the last half minute's, by that clock.
		const from = (await runInDurableObject(relay(dave.accountId), () => Date.now())) - 30_000;
		await recordChargedSends(dave.accountId, SENDS, 1, from);
		await abortAllDurableObjects();
		const woken = await runInDurableObject(relay(dave.accountId), async (_, state) => {
			const sql = state.storage.sql;
			return statementsDuring(sql, () => {
				const journal = { ...journalSize(sql) };
				// The message comes after the alarm, on the object's clock.
				const now = Date.now();
				return { journal, now, window: countSends(sql, now - 10_000, now - DAY_MS), newest: newestSendTimes(sql, 3) };
			});
		});
		const times = Array.from({ length: SENDS }, (_, i) => from + i * 1000);
		expect(passesOverRecord(woken.statements)).toHaveLength(1);
		expect(woken.value.journal).toMatchObject({ charges: SENDS, oldestAt: from });
		expect(woken.value.window).toEqual({ inShort: times.filter((t) => t > woken.value.now - 10_000).length, inLong: SENDS });
		expect(woken.value.newest).toEqual(times.slice(-3).reverse());
	});
});
