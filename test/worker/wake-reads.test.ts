import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../../worker/abuse/send-limits.ts";
import { chargeSent, journalSize } from "../../worker/relay/credits/credit-journal.ts";
import { countSends, lifetimeSends, NEWEST_SENDS_KEPT, newestSendTimes, recordSent } from "../../worker/relay/messaging/sent-messages.ts";
import { registerUser } from "./helpers.ts";
import { statementsDuring } from "./sql-statements.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const SENDS = NEWEST_SENDS_KEPT + 4;
const T0 = 1_800_000_000_000;

/** Statements of a step that read the sender's record, which has no index but its id: each reads every row it holds. */
const passesOverRecord = (statements: string[]) => statements.filter((s) => /FROM sent_messages/.test(s) && !/WHERE id = \?/.test(s));

describe("what an object's start reads of the sender's record", () => {
	it("takes the journal, the next charge number, the lifetime count, the limits' window and the newest sends from two passes, and gets each right", async () => {
		const alice = await registerUser("alice");
		await runInDurableObject(relay(alice.accountId), (_, state) => {
			const sql = state.storage.sql;
			for (let i = 0; i < SENDS; i++) {
				const at = T0 + i * 1000;
				recordSent(sql, {
					id: `m${String(i).padStart(21, "0")}`,
					to: "b".repeat(22),
					kind: "text",
					at,
					counted: true,
					charge: { amount: 1, seq: chargeSent(sql, 1, at) },
				});
			}
		});
		// A start from storage: every memo of the last life is gone, as after a wake from hibernation.
		await abortAllDurableObjects();
		const woken = await runInDurableObject(relay(alice.accountId), async (_, state) => {
			const sql = state.storage.sql;
			const now = T0 + SENDS * 1000;
			return statementsDuring(sql, () => ({
				journal: { ...journalSize(sql) },
				window: countSends(sql, now - 10_000, now - DAY_MS),
				newest: newestSendTimes(sql, NEWEST_SENDS_KEPT),
				lifetime: lifetimeSends(sql),
				seq: chargeSent(sql, 1, now),
			}));
		});
		expect(passesOverRecord(woken.statements)).toHaveLength(2);
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
});
