import type { IRequest } from "itty-router";
import { type CheckoutResponse, type CreditPacksResponse, checkoutRequest } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { type PurchaseConfig, readConfig } from "../config.ts";
import { getAccount } from "../db/accounts.ts";
import { findPurchase, recordPurchase } from "../db/purchases.ts";
import { authenticate, readBody, relayFor, unwrap } from "../http.ts";
import { coveredCredits, readPurchaseEvent } from "../payments/purchase-events.ts";
import { createCheckout, verifiedEvent } from "../payments/stripe-api.ts";

/** Stripe's events are small; a body past this is not one. */
const MAX_WEBHOOK_BYTES = 256 * 1024;

function purchasesOf(env: Env): PurchaseConfig {
	const purchases = readConfig(env).purchases;
	if (!purchases) throw new ApiError("not_configured", "This server does not sell credits; its operator grants them.");
	return purchases;
}

/** GET /api/credits/packs: public, like the prices, so the panel can show what a pack costs. */
export function creditPacks(_request: Request, env: Env): Response {
	const purchases = readConfig(env).purchases;
	const body: CreditPacksResponse = purchases
		? { forSale: true, currency: purchases.currency, packs: purchases.packs.map(({ credits, price }) => ({ credits, price })) }
		: { forSale: false, currency: null, packs: [] };
	return Response.json(body);
}

/**
 * POST /api/credits/checkout `{ pack }`: a Stripe Checkout page for the pack, for the signed-in
 * account. Nothing is granted here: the credits come with the webhook, once Stripe says paid.
 */
export async function checkout(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	// Refuses a pending or revoked device, as every account route does.
	unwrap(await relayFor(env, s.accountId).accountStatus(s.deviceId));
	const purchases = purchasesOf(env);
	const body = await readBody(request, checkoutRequest);
	const pack = purchases.packs.find((p) => p.credits === body.pack);
	if (!pack) throw new ApiError("bad_request", "There is no pack of that many credits.");
	// Back to the app this request came from; the query is read once by the app (credits panel).
	const app = new URL("/", request.url);
	const url = await createCheckout(purchases, s.accountId, pack, {
		success: `${app.href}?credits=added`,
		cancel: `${app.href}?credits=cancelled`,
	});
	return Response.json({ url } satisfies CheckoutResponse);
}

async function rawBody(request: Request): Promise<string> {
	const declared = Number(request.headers.get("content-length") ?? "0");
	if (declared > MAX_WEBHOOK_BYTES) throw new ApiError("too_large", "The request body is too large.");
	const buffer = await request.arrayBuffer();
	if (buffer.byteLength > MAX_WEBHOOK_BYTES) throw new ApiError("too_large", "The request body is too large.");
	return new TextDecoder().decode(buffer);
}

/**
 * POST /api/stripe/webhook: Stripe's events, trusted only through the signature over the raw
 * body. Stripe delivers an event until it hears 2xx, and may deliver it again after that, so
 * each effect is applied once whatever the number of deliveries (db/purchases.ts); an
 * answer other than 2xx (D1 or the account's object failed) makes Stripe try again.
 */
export async function stripeWebhook(request: IRequest, env: Env): Promise<Response> {
	const purchases = purchasesOf(env);
	const event = await verifiedEvent(purchases, await rawBody(request), request.headers.get("stripe-signature"));
	const meaning = readPurchaseEvent(event);
	if (meaning.kind === "paid") {
		const { purchase } = meaning;
		if (await getAccount(env.DB, purchase.accountId)) {
			const granted = await recordPurchase(env.DB, purchase, Date.now());
			// Again on a repeated delivery: the object may have missed it if the first one failed after D1.
			await relayFor(env, purchase.accountId).reloadAccount();
			console.log(JSON.stringify({ event: "credit_purchase", credits: purchase.credits, granted }));
		} else {
			// Deleted since it paid: nothing to credit. The payment stays in Stripe, for a refund.
			console.log(JSON.stringify({ event: "credit_purchase", credits: purchase.credits, granted: false, account: "missing" }));
		}
	} else if (meaning.kind === "refunded") {
		const purchase = await findPurchase(env.DB, meaning.paymentId);
		if (purchase) {
			const covered = coveredCredits(purchase.credits, meaning.amount, meaning.amountRefunded);
			const taken = await relayFor(env, purchase.accountId).refundPurchase(purchase.paymentId, covered);
			console.log(JSON.stringify({ event: "credit_refund", covered, taken }));
		}
	}
	return Response.json({ received: true });
}
