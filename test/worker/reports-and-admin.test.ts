import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { adminReview, adminReviewList } from "../../common/protocol/wire.ts";
import { INDEFINITE } from "../../worker/abuse/suspension.ts";
import { countReceived, forgetReceived, RECEIVED_COUNT_CAP, receivedFrom } from "../../worker/relay/messaging/received-counts.ts";
import { admin } from "./admin-client.ts";
import { acceptContact, contactPair, sealedSend, suspendFor } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestUser } from "./helpers.ts";
import { statementsDuring } from "./sql-statements.ts";

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

const DAY = 86_400_000;
/** Sessions last 15 minutes: after the clock moved, a user signs in again. */
const fresh = async (u: TestUser): Promise<TestUser> => ({ ...u, token: (await signIn(u.keys)).json.token });
const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

interface Contact {
	user: TestUser;
	key: Uint8Array;
}

/** `n` accounts that `abuser` asked to be contacts and that accepted: each can report it, none has heard from it yet. */
async function acceptedContactsOf(abuser: TestUser, n: number): Promise<Contact[]> {
	const contacts: Contact[] = [];
	for (let i = 0; i < n; i++) {
		const user = await registerUser("contact");
		await api("/api/contacts", { token: abuser.token, body: { handle: user.handle } });
		contacts.push({ user, key: await acceptContact(user, abuser) });
	}
	return contacts;
}

/** One message from `from` to each contact, through the relay as a client sends it. */
async function writeTo(from: TestUser, contacts: Contact[], text = "buy my coins") {
	const socket = await connect(from.token);
	for (const c of contacts) {
		const frame = sealedSend(from, c.user, c.key, text);
		socket.send(frame);
		await socket.next("sent", (s) => s.id === frame.id);
	}
	socket.ws.close();
}

const accountRow = (id: string) =>
	env.DB.prepare("SELECT trust, suspended_until, suspension_level FROM accounts WHERE id = ?").bind(id).first<any>();
const reportRows = (reportedId: string) =>
	env.DB.prepare("SELECT reporter_id, weight, contact_state, messages_received FROM reports WHERE reported_id = ? ORDER BY id")
		.bind(reportedId)
		.all<any>()
		.then((r) => r.results);

/**
 * An abuser made `ageDays` ago with `n` accepted contacts of the same age, each of which
 * has received a message from it; the clock is back at now and everyone signed in again.
 */
async function abuserWrittenTo(ageDays = 2, n = 3) {
	vi.useFakeTimers({ toFake: ["Date"] });
	advance(-ageDays * DAY);
	const abuser = await registerUser("abuser");
	const contacts = await acceptedContactsOf(abuser, n);
	advance(ageDays * DAY);
	const signedIn = await fresh(abuser);
	for (const c of contacts) c.user = await fresh(c.user);
	await writeTo(signedIn, contacts);
	return { abuser: signedIn, contacts };
}

// These tests make several accounts that become contacts and write to each other, a few
// hundred milliseconds each on a busy two-core machine: more than the default 5 s, so a test
// fails on a wrong answer, not on a slow machine.
const SLOW = { timeout: 60_000 };

describe("reports", SLOW, () => {
	it("are stored in D1 with what they weighed, and reporting with block also blocks", async () => {
		const { spammer, targets } = await spammerAndTargets(1);
		const target = targets[0] as TestUser;
		expect((await report(target, spammer, { reason: "unsolicited ads", block: true })).status).toBe(204);
		const row = await env.DB.prepare("SELECT reporter_id, reason, weight FROM reports WHERE reported_id = ?")
			.bind(spammer.accountId)
			.first();
		// A stranger who was only sent a request: kept for the admins, weighing nothing.
		expect(row).toEqual({ reporter_id: target.accountId, reason: "unsolicited ads", weight: 0 });
		expect((await api("/api/contacts", { token: target.token })).json.contacts[0].state).toBe("blocked");
		expect((await admin(`/accounts/${spammer.handle}`)).json.reports).toMatchObject([{ reason: "unsolicited ads", weight: 0 }]);
	});

	it("refuses reporting someone you have no contact with, a malformed report and an anonymous one", async () => {
		const a = await registerUser("a");
		const b = await registerUser("b");
		expect((await report(a, b)).status).toBe(404);
		expect((await report(a, a)).status).toBe(404);
		expect((await api(`/api/contacts/${b.accountId}/report`, { token: a.token, body: { reason: "" } })).status).toBe(400);
		expect((await api(`/api/contacts/${b.accountId}/report`, { body: { reason: "x" } })).status).toBe(401);
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM reports WHERE reported_id = ?").bind(b.accountId).first<any>()).n).toBe(0);
	});

	it("from three strangers who sent the victim a contact request weigh nothing: no suspension, no review, and the victim is still promoted to trusted", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		advance(-8 * DAY);
		const pair = await contactPair();
		// One attacker made just now, one old enough to weigh something, one even verified: it is not who they are but that they are strangers.
		const attackers = [await registerUser("attacker"), await registerUser("attacker")];
		advance(8 * DAY);
		attackers.push(await registerUser("attacker"));
		const victim = await fresh(pair.alice);
		const friend = await fresh(pair.bob);
		await admin(`/accounts/${attackers[0]?.accountId}/trust`, { body: { trust: "verified" } });
		for (const a of attackers) {
			const attacker = await fresh(a);
			expect((await api("/api/contacts", { token: attacker.token, body: { handle: victim.handle } })).status).toBe(201);
			expect((await report(attacker, victim, { reason: "made up" })).status).toBe(204);
		}
		expect((await reportRows(victim.accountId)).map((r: any) => [r.weight, r.contact_state, r.messages_received])).toEqual([
			[0, "outgoing", 0],
			[0, "outgoing", 0],
			[0, "outgoing", 0],
		]);
		expect(await accountRow(victim.accountId)).toMatchObject({ suspended_until: null, suspension_level: 0 });
		expect((await admin("/reviews")).json.reviews.filter((r: any) => r.accountId === victim.accountId)).toEqual([]);

		// 7 days old and 20 messages: promoted as if nobody had reported it.
		const socket = await connect(victim.token);
		for (let i = 0; i < 20; i++) {
			const frame = sealedSend(victim, friend, pair.key, `hello ${i}`);
			socket.send(frame);
			await socket.next("sent", (s) => s.id === frame.id);
		}
		expect((await api("/api/account", { token: victim.token })).json.trust).toBe("trusted");
	});

	it("from accepted contacts it never wrote to weigh nothing either", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		advance(-2 * DAY);
		const abuser = await registerUser("abuser");
		const contacts = await acceptedContactsOf(abuser, 3);
		advance(2 * DAY);
		for (const c of contacts) expect((await report(await fresh(c.user), abuser)).status).toBe(204);
		expect((await reportRows(abuser.accountId)).map((r: any) => [r.weight, r.contact_state])).toEqual([
			[0, "accepted"],
			[0, "accepted"],
			[0, "accepted"],
		]);
		expect((await accountRow(abuser.accountId)).suspension_level).toBe(0);
	});

	it("from accepted contacts who received a message suspend for 24 h, a repeat report not counting twice: reading still works, sending and requesting do not, and it expires", async () => {
		const { abuser, contacts } = await abuserWrittenTo();
		const [t1, t2, t3] = contacts.map((c) => c.user) as [TestUser, TestUser, TestUser];
		await report(t1, abuser);
		await report(t1, abuser);
		await report(t2, abuser);
		// Weight 2 of 3: t1's second report adds nothing.
		expect((await api("/api/account", { token: abuser.token })).json.suspendedUntil).toBeUndefined();
		const start = Date.now();
		await report(t3, abuser);
		expect((await reportRows(abuser.accountId)).map((r: any) => [r.weight, r.contact_state, r.messages_received])).toEqual([
			[1, "accepted", 1],
			[1, "accepted", 1],
			[1, "accepted", 1],
			[1, "accepted", 1],
		]);
		const status = (await api("/api/account", { token: abuser.token })).json;
		expect(status.suspendedUntil).toBe(start + DAY);

		const requested = await api("/api/contacts", { token: abuser.token, body: { handle: (await registerUser("x")).handle } });
		expect(requested.json.error).toMatchObject({ code: "suspended", retryAfter: DAY });
		expect(requested.json.error.message).toContain(new Date(start + DAY).toISOString());
		expect((await api("/api/contacts", { token: abuser.token })).status).toBe(200);

		vi.setSystemTime(start + DAY + 1);
		const after = await api("/api/contacts", { token: (await fresh(abuser)).token, body: { handle: (await registerUser("y")).handle } });
		expect(after.status).toBe(201);
	});

	it("from contacts made today weigh half: three of them do not suspend", async () => {
		const abuser = await registerUser("abuser");
		const contacts = await acceptedContactsOf(abuser, 3);
		await writeTo(abuser, contacts);
		for (const c of contacts) await report(c.user, abuser);
		expect((await reportRows(abuser.accountId)).map((r: any) => r.weight)).toEqual([0.5, 0.5, 0.5]);
		expect((await accountRow(abuser.accountId)).suspension_level).toBe(0);
	});

	it("are limited to 5 a day per reporter: the 6th is rate_limited with the exact wait, changes nothing, and goes through once the oldest is a day old", async () => {
		const { abuser, contacts } = await abuserWrittenTo(2, 1);
		const reporter = (contacts[0] as Contact).user;
		const first = Date.now();
		for (let i = 0; i < 5; i++) {
			expect((await report(await fresh(reporter), abuser, { reason: `again ${i}` })).status).toBe(204);
			advance(3_600_000);
		}
		const refused = await report(await fresh(reporter), abuser, { reason: "once more", block: true });
		expect([refused.status, refused.json.error.code, refused.json.error.retryAfter]).toEqual([
			429,
			"rate_limited",
			first + DAY - Date.now(),
		]);
		expect(await reportRows(abuser.accountId)).toHaveLength(5);
		expect((await api("/api/contacts", { token: (await fresh(reporter)).token })).json.contacts[0].state).toBe("accepted");
		// Five reports from one account: one reporter, weight 1, nothing acted on.
		expect((await accountRow(abuser.accountId)).suspension_level).toBe(0);

		vi.setSystemTime(first + DAY);
		expect((await report(await fresh(reporter), abuser, { reason: "the next day" })).status).toBe(204);
	});

	it("escalate only through an admin: a second wave opens a review instead of 7 days, which only the admin's confirmation applies; a dismissal applies nothing; the third level is indefinite until lifted", async () => {
		const { abuser, contacts } = await abuserWrittenTo(8);
		const reporters = contacts.map((c) => c.user);
		const wave = async (reason: string) => {
			for (const r of reporters) expect((await report(await fresh(r), abuser, { reason })).status).toBe(204);
		};
		// Every answer as PROTOCOL.md describes it (the schema in wire.ts refuses anything else).
		const pending = async () =>
			adminReviewList.parse((await admin("/reviews")).json, "").reviews.filter((r) => r.accountId === abuser.accountId);

		await wave("first wave");
		expect(await accountRow(abuser.accountId)).toMatchObject({ suspension_level: 1, suspended_until: Date.now() + DAY });
		expect(await pending()).toEqual([]);
		advance(DAY + 1);

		// The second wave: still level 1 and not suspended, but waiting for an admin.
		const opened = Date.now();
		await wave("second wave");
		expect(await accountRow(abuser.accountId)).toMatchObject({ suspension_level: 1, suspended_until: opened - 1 });
		const waiting = await pending();
		expect(waiting).toHaveLength(1);
		const review = waiting[0] as (typeof waiting)[number];
		expect(review).toMatchObject({
			handle: abuser.handle,
			state: "pending",
			openedAt: opened,
			decidedAt: null,
			account: {
				trust: "untrusted",
				suspensionLevel: 1,
				createdAt: opened - 9 * DAY - 1,
				messagesSent: 3,
				requestsSent: 3,
				requestsAccepted: 3,
				contacts: 3,
			},
			next: { level: 2, durationMs: 7 * DAY },
			evidence: { reports: 3, countingReports: 3, reporters: 3, weight: 3, weightNeeded: 3 },
		});
		expect(review.reporters).toHaveLength(3);
		for (const r of review.reporters) {
			expect(r).toMatchObject({ trust: "untrusted", contactState: "accepted", messagesReceived: 1, reports: 1, weight: 1 });
			expect(r.accountAgeMs).toBeGreaterThan(8 * DAY);
		}
		expect(review.reports.map((r: any) => r.reason)).toEqual(["second wave", "second wave", "second wave"]);
		// Counts, levels and the reporters' words only: nothing the abuser wrote.
		expect(JSON.stringify(review)).not.toContain("buy my coins");

		// Waiting for an admin holds promotion back: 8 days old and 20 more messages, still untrusted.
		const signedIn = await fresh(abuser);
		const [friend] = await acceptedContactsOf(signedIn, 1);
		await writeTo(
			signedIn,
			Array.from({ length: 20 }, () => friend as Contact),
			"hello",
		);
		expect((await api("/api/account", { token: signedIn.token })).json.trust).toBe("untrusted");

		// More reports while it waits open no second review.
		await wave("still at it");
		expect(await pending()).toHaveLength(1);

		const confirmedAt = Date.now();
		const confirmed = await admin(`/accounts/${abuser.accountId}/review`, { body: { decision: "confirm" } });
		expect(confirmed.status).toBe(200);
		expect(adminReview.parse(confirmed.json.review, "review")).toMatchObject({ state: "confirmed", decidedAt: confirmedAt, next: null });
		expect(confirmed.json.review.account).toMatchObject({ suspensionLevel: 2, suspendedUntil: confirmedAt + 7 * DAY });
		expect(await accountRow(abuser.accountId)).toMatchObject({ suspension_level: 2, suspended_until: confirmedAt + 7 * DAY });
		expect((await api("/api/account", { token: (await fresh(abuser)).token })).json.suspendedUntil).toBe(confirmedAt + 7 * DAY);
		expect(await pending()).toEqual([]);
		const again = await admin(`/accounts/${abuser.accountId}/review`, { body: { decision: "confirm" } });
		expect([again.status, again.json.error.code]).toEqual([404, "not_found"]);

		// A third wave a week on: another review, which the admin dismisses; nothing is applied, and its reports are not counted again.
		vi.setSystemTime(confirmedAt + 7 * DAY + 1);
		await wave("third wave");
		expect(await pending()).toHaveLength(1);
		const dismissed = await admin(`/accounts/${abuser.accountId}/review`, { body: { decision: "dismiss" } });
		expect(dismissed.json.review).toMatchObject({ state: "dismissed", account: { suspensionLevel: 2 } });
		expect(dismissed.json.review.evidence).toMatchObject({ reports: 3, weight: 3 });
		// One more report: with the dismissed wave counted again it would reach the weight; alone it does not.
		advance(1);
		await report(await fresh(reporters[0] as TestUser), abuser, { reason: "after the dismissal" });
		expect(await pending()).toEqual([]);
		expect(await accountRow(abuser.accountId)).toMatchObject({ suspension_level: 2, suspended_until: confirmedAt + 7 * DAY });

		// The rest of a fourth wave, confirmed: the third level has no end of its own, until an admin lifts it.
		for (const r of reporters.slice(1)) await report(await fresh(r), abuser, { reason: "fourth wave" });
		expect(await pending()).toHaveLength(1);
		await admin(`/accounts/${abuser.accountId}/review`, { body: { decision: "confirm" } });
		expect(await accountRow(abuser.accountId)).toMatchObject({ suspension_level: 3, suspended_until: INDEFINITE });
		advance(365 * DAY);
		const token = (await fresh(abuser)).token;
		const refused = await api("/api/contacts", { token, body: { handle: (await registerUser("x")).handle } });
		expect(refused.json.error.code).toBe("suspended");
		expect(refused.json.error.message).toContain("until an administrator reviews it");
		const lifted = await admin(`/accounts/${abuser.accountId}/unsuspend`, { method: "POST" });
		expect(lifted.json.account).toMatchObject({ suspendedUntil: null, suspensionLevel: 3 });
		expect((await api("/api/contacts", { token, body: { handle: (await registerUser("y")).handle } })).status).toBe(201);
	});

	it("a decision needs a waiting review, a known account and a known decision", async () => {
		const spammer = await registerUser("spammer");
		const none = await admin(`/accounts/${spammer.accountId}/review`, { body: { decision: "confirm" } });
		expect([none.status, none.json.error.code]).toEqual([404, "not_found"]);
		const unknown = await admin("/accounts/AAAAAAAAAAAAAAAAAAAAAA/review", { body: { decision: "dismiss" } });
		expect([unknown.status, unknown.json.error.code]).toEqual([404, "not_found"]);
		const bad = await admin(`/accounts/${spammer.accountId}/review`, { body: { decision: "suspend forever" } });
		expect([bad.status, bad.json.error.code]).toEqual([400, "bad_request"]);
		expect(await accountRow(spammer.accountId)).toMatchObject({ suspension_level: 0, suspended_until: null });
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

describe("the admin API", SLOW, () => {
	it("refuses a missing or wrong token and changes nothing", async () => {
		// A suspended account with a ledger and a review waiting (a second wave during its
		// suspension), so a refused unsuspend, trust change, grant or decision would show.
		const { abuser: victim, contacts } = await abuserWrittenTo();
		for (const c of contacts) await report(c.user, victim);
		advance(1);
		for (const c of contacts) await report(c.user, victim, { reason: "still at it" });
		const state = async () => ({
			account: await env.DB.prepare("SELECT trust, credits, suspended_until, suspension_level FROM accounts WHERE id = ?")
				.bind(victim.accountId)
				.first<any>(),
			ledgerRows: (await env.DB.prepare("SELECT COUNT(*) AS n FROM credit_ledger WHERE account_id = ?").bind(victim.accountId).first<any>())
				.n,
			reviews: (await env.DB.prepare("SELECT state FROM suspension_reviews WHERE account_id = ?").bind(victim.accountId).all()).results,
		});
		// A lookup writes the charges for its three messages to D1 first, so the balance stands still from here.
		await admin(`/accounts/${victim.handle}`);
		const before = await state();
		expect(before.reviews).toEqual([{ state: "pending" }]);
		expect(before.account).toMatchObject({ trust: "untrusted", credits: Number(env.STARTING_CREDITS) - 12, suspension_level: 1 });
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
				api("/api/admin/reviews", { token }),
				api(`/api/admin/accounts/${victim.accountId}/review`, { token, body: { decision: "confirm" } }),
				api(`/api/admin/accounts/${victim.accountId}/review`, { token, body: { decision: "dismiss" } }),
			];
			for (const r of await Promise.all(attempts)) expect([r.status, r.json.error.code]).toEqual([401, "unauthorized"]);
		}
		expect(await state()).toEqual(before);
		expect((await api("/api/account", { token: victim.token })).json.suspendedUntil).toBe(before.account.suspended_until);
	});

	it("looks up an account, sets trust, grants credits with a reason, lifts a suspension and lists reports", async () => {
		const { abuser: spammer, contacts } = await abuserWrittenTo();
		for (const c of contacts) await report(c.user, spammer);
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

describe("what a report is weighed on", () => {
	it("counts the messages received from a peer up to 10, and then writes nothing more on delivery", async () => {
		const { bob } = await contactPair();
		const peer = "p".repeat(22);
		const written = await runInDurableObject(relay(bob.accountId), async (_, state) => {
			const sql = state.storage.sql;
			const first = countReceived(sql, peer);
			for (let i = 1; i < RECEIVED_COUNT_CAP; i++) countReceived(sql, peer);
			const atCap = countReceived(sql, peer);
			const count = receivedFrom(sql, peer);
			// Once found at the cap, a delivery runs no statement for it at all.
			const after = await statementsDuring(sql, () => countReceived(sql, peer));
			// A forgotten peer (its account deleted) counts from zero again.
			forgetReceived(sql, peer);
			const again = countReceived(sql, peer);
			return { first, atCap, count, statements: after.statements, again, recount: receivedFrom(sql, peer) };
		});
		expect(written.first).toBeGreaterThan(0);
		expect(RECEIVED_COUNT_CAP).toBe(10);
		expect(written).toMatchObject({ atCap: 0, count: RECEIVED_COUNT_CAP, statements: [], recount: 1 });
		expect(written.again).toBeGreaterThan(0);
	});
});
