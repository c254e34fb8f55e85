import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { STAND_IN_BASE, STAND_IN_WEBHOOK_SECRET } from "../support/stripe-stand-in.ts";
import { addApprovedDevice, addPendingDevice, contactPair, newMessageId, sealedSend } from "../worker/fixtures.ts";
import { api, BASE, connect, registerUser, type TestUser } from "../worker/helpers.ts";
import { removeDevice } from "../worker/linking.ts";

/**
 * Buying credits (issue 19): the Checkout call against the local Stripe stand-in
 * (test/support/stripe-stand-in.ts), and the webhook with events signed by the stripe
 * library's own test-header helper, through the worker's real D1 migrations and objects.
 */

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const d1Credits = async (accountId: string) =>
	(await env.DB.prepare("SELECT credits FROM accounts WHERE id = ?").bind(accountId).first<{ credits: number }>())?.credits as number;
const ledgerOf = async (accountId: string) =>
	(
		await env.DB.prepare(
			"SELECT delta, balance_after, reason, ref FROM credit_ledger WHERE account_id = ? AND reason != 'starting_balance' ORDER BY id",
		)
			.bind(accountId)
			.all<{ delta: number; balance_after: number; reason: string; ref: string | null }>()
	).results;
/** The balance the account's object spends against, as its devices see it. */
const objectCredits = async (user: TestUser) => (await api("/api/account", { token: user.token })).json.credits as number;

async function setCredits(user: TestUser, credits: number) {
	await env.DB.prepare("UPDATE accounts SET credits = ? WHERE id = ?").bind(credits, user.accountId).run();
	await runInDurableObject(relay(user.accountId), (r) => r.reloadAccount());
}

const cryptoProvider = Stripe.createSubtleCryptoProvider();
let events = 0;

/** POST a Stripe event to the webhook, signed with `secret` (the deployment's by default). */
async function deliver(event: object, opts: { secret?: string; signature?: string | null; tamper?: boolean } = {}) {
	const payload = JSON.stringify(event);
	const header =
		opts.signature !== undefined
			? opts.signature
			: await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: opts.secret ?? STAND_IN_WEBHOOK_SECRET, cryptoProvider });
	const headers: Record<string, string> = { "content-type": "application/json" };
	if (header !== null) headers["stripe-signature"] = header;
	const body = opts.tamper ? payload.replace('"credits":"100"', '"credits":"9999"') : payload;
	// Through the worker itself, as Stripe would reach it (this project's global fetch goes to the stand-in).
	const res = await exports.default.fetch(new Request(`${BASE}/api/stripe/webhook`, { method: "POST", headers, body }));
	const text = await res.text();
	return { status: res.status, json: text ? JSON.parse(text) : null };
}

const eventOf = (type: string, object: object) => ({
	id: `evt_test_${++events}_${Math.floor(Math.random() * 1e9)}`,
	object: "event",
	api_version: Stripe.API_VERSION,
	created: Math.floor(Date.now() / 1000),
	livemode: false,
	pending_webhooks: 1,
	request: { id: null, idempotency_key: null },
	type,
	data: { object },
});

/** The session Stripe reports once the person paid (or did not) on the Checkout page. */
function completedSession(user: TestUser, paymentId: string, opts: { credits?: number; paid?: boolean } = {}) {
	const credits = opts.credits ?? 100;
	return eventOf("checkout.session.completed", {
		id: `cs_test_${paymentId}`,
		object: "checkout.session",
		mode: "payment",
		status: "complete",
		payment_status: opts.paid === false ? "unpaid" : "paid",
		amount_total: credits * 2,
		currency: "usd",
		client_reference_id: user.accountId,
		metadata: { account: user.accountId, credits: String(credits) },
		payment_intent: paymentId,
	});
}

const refunded = (paymentId: string, amount: number, amountRefunded: number) =>
	eventOf("charge.refunded", {
		id: `ch_${paymentId}`,
		object: "charge",
		amount,
		amount_refunded: amountRefunded,
		refunded: amountRefunded >= amount,
		currency: "usd",
		payment_intent: paymentId,
	});

const newPaymentId = () => `pi_test_${newMessageId().replace(/[-_]/g, "x")}`;

describe("buying credits with Stripe Checkout", () => {
	it("lists the packs of wrangler.toml, with their prices, to anyone", async () => {
		const { status, json } = await api("/api/credits/packs");
		expect(status).toBe(200);
		expect(json).toEqual({
			forSale: true,
			currency: "usd",
			packs: [
				{ credits: 100, price: 200 },
				{ credits: 500, price: 1000 },
				{ credits: 2500, price: 5000 },
			],
		});
	});

	it("creates a Checkout session for the pack, form-encoded as Stripe takes it, and answers its URL", async () => {
		const user = await registerUser("buyer");
		const { status, json } = await api("/api/credits/checkout", { token: user.token, body: { pack: 500 } });
		expect(status).toBe(200);
		expect(json.url).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_stand_in_\d+$/);
		const received = (await (await fetch(`${STAND_IN_BASE}/__stand-in/sessions?account=${user.accountId}`)).json()) as Record<
			string,
			string
		>[];
		expect(received).toHaveLength(1);
		expect(received[0]).toMatchObject({
			mode: "payment",
			"line_items[0][quantity]": "1",
			"line_items[0][price_data][currency]": "usd",
			"line_items[0][price_data][unit_amount]": "1000",
			client_reference_id: user.accountId,
			"metadata[account]": user.accountId,
			"metadata[credits]": "500",
			"payment_intent_data[metadata][account]": user.accountId,
			success_url: `${BASE}/?credits=added`,
			cancel_url: `${BASE}/?credits=cancelled`,
		});
		// Nothing is granted before Stripe says paid.
		expect(await ledgerOf(user.accountId)).toEqual([]);
	});

	it("refuses a pack that is not sold, a malformed body, and callers that are not an approved device", async () => {
		const user = await registerUser("picky");
		const unknown = await api("/api/credits/checkout", { token: user.token, body: { pack: 123 } });
		expect([unknown.status, unknown.json.error.code]).toEqual([400, "bad_request"]);
		const malformed = await api("/api/credits/checkout", { token: user.token, body: { pack: "100", extra: 1 } });
		expect([malformed.status, malformed.json.error.code]).toEqual([400, "bad_request"]);
		const nobody = await api("/api/credits/checkout", { body: { pack: 100 } });
		expect([nobody.status, nobody.json.error.code]).toEqual([401, "unauthorized"]);
		const pending = await addPendingDevice(user);
		const asPending = await api("/api/credits/checkout", { token: pending.token, body: { pack: 100 } });
		expect([asPending.status, asPending.json.error.code]).toEqual([403, "device_pending"]);
		const lost = await addApprovedDevice(user, "lost phone");
		await removeDevice(user, lost.deviceId);
		const asRevoked = await api("/api/credits/checkout", { token: lost.token, body: { pack: 100 } });
		expect([asRevoked.status, asRevoked.json.error.code]).toEqual([401, "device_revoked"]);
		const received = await (await fetch(`${STAND_IN_BASE}/__stand-in/sessions?account=${user.accountId}`)).json();
		expect(received).toEqual([]);
	});

	it("grants a paid checkout's credits once, to the object's balance too, however often Stripe delivers it", async () => {
		const user = await registerUser("paid");
		const start = await d1Credits(user.accountId);
		const socket = await connect(user.token);
		const paymentId = newPaymentId();
		const event = completedSession(user, paymentId);
		for (let i = 0; i < 3; i++) {
			const { status, json } = await deliver(event);
			expect([status, json]).toEqual([200, { received: true }]);
		}
		// The same payment in another event (Stripe may send a new id for it) grants nothing either.
		expect((await deliver(completedSession(user, paymentId))).status).toBe(200);
		expect(await d1Credits(user.accountId)).toBe(start + 100);
		expect(await ledgerOf(user.accountId)).toEqual([{ delta: 100, balance_after: start + 100, reason: "purchase", ref: paymentId }]);
		expect(await objectCredits(user)).toBe(start + 100);
		// The open device heard the new balance, as after an admin's grant.
		await socket.next("account", (f) => f.account.credits === start + 100);
		const history = await api("/api/account/credits", { token: user.token });
		expect(history.json.entries[0]).toMatchObject({ delta: 100, reason: "purchase", ref: paymentId });
	});

	it("changes nothing for a bad signature: another secret, a changed body, a missing or garbled header", async () => {
		const user = await registerUser("forger");
		const start = await d1Credits(user.accountId);
		const event = completedSession(user, newPaymentId());
		const attempts = [
			await deliver(event, { secret: "whsec_someone_else_0123456789" }),
			await deliver(event, { tamper: true }),
			await deliver(event, { signature: null }),
			await deliver(event, { signature: "t=1,v1=00" }),
			// Signed correctly, but long ago: a replay.
			await deliver(event, {
				signature: await Stripe.webhooks.generateTestHeaderStringAsync({
					payload: JSON.stringify(event),
					secret: STAND_IN_WEBHOOK_SECRET,
					timestamp: Math.floor(Date.now() / 1000) - 3600,
					cryptoProvider,
				}),
			}),
		];
		for (const { status, json } of attempts) expect([status, json.error.code]).toEqual([400, "bad_request"]);
		expect(await d1Credits(user.accountId)).toBe(start);
		expect(await ledgerOf(user.accountId)).toEqual([]);
		expect(await objectCredits(user)).toBe(start);
		expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM credit_purchases WHERE account_id = ?").bind(user.accountId).first("n")).toBe(0);
	});

	it("grants nothing for an unpaid session, a session that is not ours, or an event type it does not handle", async () => {
		const user = await registerUser("unpaid");
		const start = await d1Credits(user.accountId);
		const stranger = completedSession(user, newPaymentId());
		(stranger.data.object as any).client_reference_id = null;
		for (const event of [
			completedSession(user, newPaymentId(), { paid: false }),
			stranger,
			eventOf("customer.created", { id: "cus_test_1", object: "customer" }),
			refunded(newPaymentId(), 200, 200),
		]) {
			const { status, json } = await deliver(event);
			expect([event.type, status, json]).toEqual([event.type, 200, { received: true }]);
		}
		expect(await d1Credits(user.accountId)).toBe(start);
		expect(await ledgerOf(user.accountId)).toEqual([]);
	});

	it("reverses a refund once, in part and then in full", async () => {
		const user = await registerUser("refund");
		const start = await d1Credits(user.accountId);
		const paymentId = newPaymentId();
		await deliver(completedSession(user, paymentId));
		expect(await objectCredits(user)).toBe(start + 100);
		// Half the money back: half the credits; delivered twice, taken once.
		const half = refunded(paymentId, 200, 100);
		expect((await deliver(half)).status).toBe(200);
		expect((await deliver(half)).status).toBe(200);
		expect(await objectCredits(user)).toBe(start + 50);
		expect(await d1Credits(user.accountId)).toBe(start + 50);
		// Then the rest (Stripe reports the total refunded so far).
		expect((await deliver(refunded(paymentId, 200, 200))).status).toBe(200);
		expect((await deliver(refunded(paymentId, 200, 200))).status).toBe(200);
		expect(await objectCredits(user)).toBe(start);
		expect(await ledgerOf(user.accountId)).toEqual([
			{ delta: 100, balance_after: start + 100, reason: "purchase", ref: paymentId },
			{ delta: -50, balance_after: start + 50, reason: "refund", ref: paymentId },
			{ delta: -50, balance_after: start, reason: "refund", ref: paymentId },
		]);
		// A late redelivery of the paid session grants nothing back.
		await deliver(completedSession(user, paymentId));
		expect(await d1Credits(user.accountId)).toBe(start);
	});

	it("takes back only what is left when the credits were partly spent: the balance stops at zero, and the journal still lands", async () => {
		const { alice, bob, key } = await contactPair();
		await setCredits(alice, 0);
		const paymentId = newPaymentId();
		await deliver(completedSession(alice, paymentId));
		expect(await objectCredits(alice)).toBe(100);
		const socket = await connect(alice.token);
		for (let i = 0; i < 2; i++) {
			const frame = sealedSend(alice, bob, key, `spent ${i}`);
			socket.send(frame);
			await socket.next("sent", (s) => s.id === frame.id);
		}
		// 8 credits spent, still in the object's journal (D1 has not seen them).
		expect(await objectCredits(alice)).toBe(92);
		expect(await d1Credits(alice.accountId)).toBe(100);
		expect((await deliver(refunded(paymentId, 200, 200))).status).toBe(200);
		expect(await objectCredits(alice)).toBe(0);
		// The journal's charges landed after the refund (the object reloads its balance, which
		// writes them first) without taking D1 below zero, which its CHECK would refuse.
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await d1Credits(alice.accountId)).toBe(0);
		// The two texts reached D1 in one flush: one ledger row for the run.
		expect((await ledgerOf(alice.accountId)).slice(-2)).toEqual([
			{ delta: -92, balance_after: 8, reason: "refund", ref: paymentId },
			{ delta: -8, balance_after: 0, reason: "text", ref: null },
		]);
		// Sending now needs credits again.
		const frame = sealedSend(alice, bob, key, "no more");
		socket.send(frame);
		expect((await socket.next("error", (e) => e.ref === frame.id)).code).toBe("insufficient_credits");
	});
});
