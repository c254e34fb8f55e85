import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { INDEFINITE } from "../../worker/abuse/suspension.ts";
import { admin } from "./admin-client.ts";
import { contactPair, sealedSend, suspendFor } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const queuedIds = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec<{ msg_id: string }>("SELECT msg_id FROM queue").toArray());

afterEach(() => {
	vi.useRealTimers();
});

/** A spammer who sent contact requests to `n` fresh accounts, each of which can report it. */
async function spammerAndTargets(n: number) {
	const spammer = await registerUser("spammer");
	const targets: TestUser[] = [];
	for (let i = 0; i < n; i++) {
		const t = await registerUser("target");
		await api("/api/contacts", { token: spammer.token, body: { handle: t.handle } });
		targets.push(t);
	}
	return { spammer, targets };
}

const report = (reporter: TestUser, reported: TestUser, body: object = { reason: "spam" }) =>
	api(`/api/contacts/${reported.accountId}/report`, { token: reporter.token, body });

describe("reports", () => {
	it("are stored in D1, and reporting with block also blocks", async () => {
		const { spammer, targets } = await spammerAndTargets(1);
		const target = targets[0] as TestUser;
		expect((await report(target, spammer, { reason: "unsolicited ads", block: true })).status).toBe(204);
		const row = await env.DB.prepare("SELECT reporter_id, reason FROM reports WHERE reported_id = ?").bind(spammer.accountId).first();
		expect(row).toEqual({ reporter_id: target.accountId, reason: "unsolicited ads" });
		expect((await api("/api/contacts", { token: target.token })).json.contacts[0].state).toBe("blocked");
	});

	it("refuses reporting someone you have no contact with, a malformed report and an anonymous one", async () => {
		const a = await registerUser("a");
		const b = await registerUser("b");
		expect((await report(a, b)).status).toBe(404);
		expect((await api(`/api/contacts/${b.accountId}/report`, { token: a.token, body: { reason: "" } })).status).toBe(400);
		expect((await api(`/api/contacts/${b.accountId}/report`, { body: { reason: "x" } })).status).toBe(401);
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM reports WHERE reported_id = ?").bind(b.accountId).first<any>()).n).toBe(0);
	});

	it("from three distinct accounts suspend for 24 h: reading still works, sending and requesting do not, and it expires", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const { spammer, targets } = await spammerAndTargets(4);
		const [t1, t2, t3] = targets as [TestUser, TestUser, TestUser];
		await report(t1, spammer);
		await report(t1, spammer);
		await report(t2, spammer);
		expect((await api("/api/account", { token: spammer.token })).json.suspendedUntil).toBeUndefined();
		const start = Date.now();
		await report(t3, spammer);
		const status = (await api("/api/account", { token: spammer.token })).json;
		expect(status.suspendedUntil).toBe(start + 86_400_000);

		const requested = await api("/api/contacts", { token: spammer.token, body: { handle: (await registerUser("x")).handle } });
		expect(requested.json.error).toMatchObject({ code: "suspended", retryAfter: 86_400_000 });
		expect(requested.json.error.message).toContain(new Date(start + 86_400_000).toISOString());
		expect((await api("/api/contacts", { token: spammer.token })).status).toBe(200);

		vi.setSystemTime(start + 86_400_000 + 1);
		const fresh = { ...spammer, token: (await signIn(spammer.keys)).json.token };
		const after = await api("/api/contacts", { token: fresh.token, body: { handle: (await registerUser("y")).handle } });
		expect(after.status).toBe(201);
	});

	it("escalate: a second wave suspends for 7 days, a third until an administrator reviews it, which an admin can lift", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const { spammer, targets } = await spammerAndTargets(9);
		const suspension = () =>
			env.DB.prepare("SELECT suspended_until, suspension_level FROM accounts WHERE id = ?").bind(spammer.accountId).first<any>();
		// Sessions last 15 minutes: the reporters sign in again for each later wave.
		const wave = async (reporters: TestUser[]) => {
			for (const t of reporters) await report({ ...t, token: (await signIn(t.keys)).json.token }, spammer);
		};
		await wave(targets.slice(0, 3));
		expect((await suspension()).suspension_level).toBe(1);
		vi.setSystemTime(Date.now() + 86_400_000 + 1);
		const second = Date.now();
		await wave(targets.slice(3, 6));
		expect(await suspension()).toEqual({ suspended_until: second + 7 * 86_400_000, suspension_level: 2 });

		vi.setSystemTime(second + 7 * 86_400_000 + 1);
		await wave(targets.slice(6, 8));
		expect((await suspension()).suspended_until).toBe(second + 7 * 86_400_000);
		await wave(targets.slice(8));
		expect(await suspension()).toEqual({ suspended_until: INDEFINITE, suspension_level: 3 });

		// Still suspended a year on: the third suspension has no end of its own.
		vi.setSystemTime(Date.now() + 365 * 86_400_000);
		const token = (await signIn(spammer.keys)).json.token;
		const refused = await api("/api/contacts", { token, body: { handle: (await registerUser("x")).handle } });
		expect(refused.json.error.code).toBe("suspended");
		expect(refused.json.error.message).toContain("until an administrator reviews it");
		expect((await api("/api/contacts", { token })).status).toBe(200);

		const lifted = await admin(`/accounts/${spammer.accountId}/unsuspend`, { method: "POST" });
		expect(lifted.json.account).toMatchObject({ suspendedUntil: null, suspensionLevel: 3 });
		const after = await api("/api/contacts", { token, body: { handle: (await registerUser("y")).handle } });
		expect(after.status).toBe(201);
	});

	it("a suspended sender's messages are refused with `suspended` and nothing is delivered", async () => {
		const { alice, bob, key } = await contactPair();
		await suspendFor(alice, 3_600_000);
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust: "untrusted" } });
		const a = await connect(alice.token);
		a.send(sealedSend(alice, bob, key, "nope"));
		expect(await a.next("error")).toMatchObject({ code: "suspended" });
		const b = await connect(bob.token);
		expect(await b.next("ready")).toMatchObject({ queued: 0 });
	});

	it("a suspended recipient still receives its queued messages and acks them, and the queue empties", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const frame = sealedSend(alice, bob, key, "for later");
		a.send(frame);
		await a.next("sent", (x) => x.id === frame.id);
		await suspendFor(bob, 3_600_000);

		const b = await connect(bob.token);
		expect(await b.next("message")).toMatchObject({ id: frame.id });
		const reply = sealedSend(bob, alice, key, "nope");
		b.send(reply);
		expect(await b.next("error")).toMatchObject({ code: "suspended", ref: reply.id });
		b.send({ type: "ack", ids: [frame.id] });
		// An ack has no reply; the queue row going away is the observable effect.
		await vi.waitFor(async () => expect(await queuedIds(bob.accountId)).toEqual([]));
	});
});

describe("the admin API", () => {
	it("refuses a missing or wrong token and changes nothing", async () => {
		// A suspended victim with a ledger, so a refused unsuspend, trust change or grant would show.
		const { spammer: victim, targets } = await spammerAndTargets(3);
		for (const t of targets) await report(t, victim);
		const state = async () => ({
			account: await env.DB.prepare("SELECT trust, credits, suspended_until, suspension_level FROM accounts WHERE id = ?")
				.bind(victim.accountId)
				.first<any>(),
			ledgerRows: (await env.DB.prepare("SELECT COUNT(*) AS n FROM credit_ledger WHERE account_id = ?").bind(victim.accountId).first<any>())
				.n,
		});
		const before = await state();
		expect(before.account).toMatchObject({ trust: "untrusted", credits: Number(env.STARTING_CREDITS), suspension_level: 1 });
		expect(before.account.suspended_until).toBeGreaterThan(Date.now());
		expect(before.ledgerRows).toBeGreaterThan(0);

		for (const token of [undefined, "wrong", `${env.ADMIN_TOKEN}x`, (await registerUser("u")).token]) {
			const attempts = [
				api(`/api/admin/accounts/${victim.handle}`, { token }),
				api(`/api/admin/accounts/${victim.accountId}/trust`, { token, body: { trust: "verified" } }),
				api(`/api/admin/accounts/${victim.accountId}/credits`, { token, body: { amount: 1000, reason: "free money" } }),
				api(`/api/admin/accounts/${victim.accountId}/unsuspend`, { token, method: "POST" }),
				api("/api/admin/flags", { token }),
				api("/api/admin/reports", { token }),
			];
			for (const r of await Promise.all(attempts)) expect([r.status, r.json.error.code]).toEqual([401, "unauthorized"]);
		}
		expect(await state()).toEqual(before);
		expect((await api("/api/account", { token: victim.token })).json.suspendedUntil).toBe(before.account.suspended_until);
	});

	it("looks up an account, sets trust, grants credits with a reason, lifts a suspension and lists reports", async () => {
		const { spammer, targets } = await spammerAndTargets(3);
		for (const t of targets) await report(t, spammer);
		const looked = await admin(`/accounts/${spammer.handle.toUpperCase()}`);
		expect(looked.json.account).toMatchObject({ id: spammer.accountId, suspensionLevel: 1 });
		expect(looked.json.reports).toHaveLength(3);
		expect(looked.json.devices[0]).toMatchObject({ deviceId: spammer.deviceId, status: "approved" });

		const lifted = await admin(`/accounts/${spammer.accountId}/unsuspend`, { method: "POST" });
		expect(lifted.json.account.suspendedUntil).toBeNull();
		expect((await api("/api/account", { token: spammer.token })).json.suspendedUntil).toBeUndefined();

		const verified = await admin(`/accounts/${spammer.accountId}/trust`, { body: { trust: "verified" } });
		expect(verified.json.account.trust).toBe("verified");
		expect((await api("/api/account", { token: spammer.token })).json).toMatchObject({ trust: "verified", quotaLeft: null });

		const all = await admin("/reports");
		expect(all.json.reports.filter((r: any) => r.reportedId === spammer.accountId)).toHaveLength(3);
		expect((await admin("/accounts/nobody_at_all")).status).toBe(404);
		expect((await admin(`/accounts/${spammer.accountId}/trust`, { body: { trust: "god" } })).status).toBe(400);
		expect((await admin(`/accounts/${spammer.accountId}/credits`, { body: { amount: -5, reason: "x" } })).status).toBe(400);
	});
});
