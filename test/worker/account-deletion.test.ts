import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { addApprovedDevice, contactPair, newMessageId, sealedSend } from "./fixtures.ts";
import { api, connect, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
/** The D1 rows that name the account, table by table. */
async function d1RowsOf(accountId: string): Promise<Record<string, number>> {
	const count = async (sql: string) => ((await env.DB.prepare(sql).bind(accountId).first<{ n: number }>())?.n ?? 0) as number;
	return {
		accounts: await count("SELECT COUNT(*) AS n FROM accounts WHERE id = ?1"),
		devices: await count("SELECT COUNT(*) AS n FROM devices WHERE account_id = ?1"),
		credit_ledger: await count("SELECT COUNT(*) AS n FROM credit_ledger WHERE account_id = ?1"),
		reports: await count("SELECT COUNT(*) AS n FROM reports WHERE reporter_id = ?1 OR reported_id = ?1"),
	};
}
const blobsOf = async (accountId: string) => (await env.ATTACHMENTS.list({ prefix: `${accountId}/` })).objects.map((o) => o.key);
const remove = (user: TestUser, handle: string) => api("/api/account", { method: "DELETE", token: user.token, body: { handle } });

describe("deleting an account", () => {
	it("refuses without the account's own handle typed again, and changes nothing", async () => {
		const { alice, bob } = await contactPair();
		const refused = await remove(alice, bob.handle);
		expect([refused.status, refused.json.error.code]).toEqual([400, "bad_request"]);
		expect((await d1RowsOf(alice.accountId)).accounts).toBe(1);
		expect((await api("/api/contacts", { token: bob.token })).json.contacts).toHaveLength(1);
		expect((await api("/api/account", { token: alice.token })).status).toBe(200);
	});

	it("deletes its D1 rows, its blobs, its object's storage and every contact's copy of it; contacts hear `deleted`", async () => {
		const { alice, bob, key } = await contactPair();
		const phone = await addApprovedDevice(alice);
		await api(`/api/contacts/${alice.accountId}/report`, { token: bob.token, body: { reason: "spam" } });
		const blob = `${alice.accountId}/${newMessageId()}`;
		await env.ATTACHMENTS.put(blob, new Uint8Array(64));
		// A message of hers that Bob's offline device has not received yet.
		const a = await connect(alice.token);
		await a.next("synced");
		const waiting = sealedSend(alice, bob, key, "you will never read this");
		a.send(waiting);
		await a.next("sent");
		const phoneSocket = await connect(phone.token);
		await phoneSocket.next("synced");
		expect((await d1RowsOf(alice.accountId)).devices).toBe(2);

		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const deleted = await remove(alice, alice.handle);
		expect(deleted.status).toBe(204);

		expect(await bobSocket.next("contact")).toMatchObject({ event: "deleted", contact: { accountId: alice.accountId } });
		expect((await api("/api/contacts", { token: bob.token })).json.contacts).toEqual([]);
		// What she had queued for him went with her: his device got it on connect, or nothing is left of it.
		const bobQueue = await runInDurableObject(relay(bob.accountId), (_, state) =>
			state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM queue WHERE from_account = ?", alice.accountId).one(),
		);
		expect(bobQueue.n).toBe(0);

		expect(await d1RowsOf(alice.accountId)).toEqual({ accounts: 0, devices: 0, credit_ledger: 0, reports: 0 });
		expect(await blobsOf(alice.accountId)).toEqual([]);
		const tables = await runInDurableObject(relay(alice.accountId), (_, state) =>
			state.storage.sql
				.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'")
				.toArray(),
		);
		expect(tables).toEqual([]);
		// Her devices were disconnected, and their tokens reach nothing any more.
		expect((await phoneSocket.closed).code).toBe(4003);
		expect((await api("/api/account", { token: phone.token })).status).toBe(401);
		// Her handle is free again: a new account under it is somebody else.
		const asked = await api("/api/contacts", { token: bob.token, body: { handle: alice.handle } });
		expect([asked.status, asked.json.error.code]).toEqual([404, "not_found"]);
	});
});
