/**
 * What tests read of an account's credit journal and ledger, where the charges now live: the
 * journal is the object's `charges` rows (attachment holds, charges older code journaled) and
 * the rows of its sent record whose charge D1 does not have yet; a ledger row sums a run of
 * charges of one kind, and names none of them.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sendsFlushedUpTo } from "../../worker/relay/credits/credit-journal.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

export type JournaledCharge = {
	ref: string | null;
	reason: string;
	amount: number;
	state: string;
};

/** Every charge in the account's journal, oldest first. */
export function journaled(accountId: string): Promise<JournaledCharge[]> {
	return runInDurableObject(relay(accountId), (_, state) => {
		const sql = state.storage.sql;
		return sql
			.exec<JournaledCharge & { at: number }>(
				`SELECT ref, reason, amount, state, at FROM charges
				 UNION ALL
				 SELECT id, charge_reason, price, 'charged', at FROM sent_messages WHERE charge_seq > ?
				 ORDER BY at`,
				sendsFlushedUpTo(sql),
			)
			.toArray()
			.map(({ at: _, ...charge }) => charge);
	});
}

/** How many charges of one reason the account's ledger rows sum (a row sums a run of them). */
export async function ledgerCount(accountId: string, reason: string): Promise<number> {
	const row = await env.DB.prepare("SELECT COALESCE(SUM(count), 0) AS n FROM credit_ledger WHERE account_id = ? AND reason = ?")
		.bind(accountId, reason)
		.first<{ n: number }>();
	return row?.n ?? 0;
}
