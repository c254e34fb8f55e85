import Stripe from "stripe";
import { ApiError } from "../api-error.ts";
import type { CreditPack, PurchaseConfig } from "../config.ts";

/**
 * Stripe's official library, on workerd's fetch and WebCrypto (it has no Node dependency on
 * that path). Its host comes from STRIPE_API_BASE, so the tests can point it at a local
 * stand-in: Stripe's API cannot be reached from the test machine.
 */
export function stripeClient(config: PurchaseConfig): Stripe {
	const base = config.apiBase;
	const protocol = base.protocol === "http:" ? "http" : "https";
	return new Stripe(config.secretKey, {
		httpClient: Stripe.createFetchHttpClient(),
		host: base.hostname,
		port: base.port || (protocol === "http" ? 80 : 443),
		protocol,
		// One retry (with Stripe's idempotency key): the person waits on this request.
		maxNetworkRetries: 1,
		timeout: 15_000,
	});
}

const cryptoProvider = Stripe.createSubtleCryptoProvider();

/** The webhook's event, if its Stripe-Signature header signs this exact body with our secret (and is recent). */
export async function verifiedEvent(config: PurchaseConfig, rawBody: string, signature: string | null): Promise<Stripe.Event> {
	if (!signature) throw new ApiError("bad_request", "The Stripe-Signature header is missing.");
	try {
		return await Stripe.webhooks.constructEventAsync(rawBody, signature, config.webhookSecret, undefined, cryptoProvider);
	} catch {
		// The library's message may quote the header; the sender learns only that it was refused.
		throw new ApiError("bad_request", "The Stripe signature does not match this body.");
	}
}

/** Create the hosted Checkout page for one pack, bought by `accountId`; answers its URL. */
export async function createCheckout(
	config: PurchaseConfig,
	accountId: string,
	pack: CreditPack,
	urls: { success: string; cancel: string },
): Promise<string> {
	// The account and the pack travel in the session's metadata, so the webhook needs nothing else.
	const metadata = { account: accountId, credits: String(pack.credits) };
	let session: Stripe.Checkout.Session;
	try {
		session = await stripeClient(config).checkout.sessions.create({
			mode: "payment",
			line_items: [
				{
					quantity: 1,
					price_data: { currency: config.currency, unit_amount: pack.price, product_data: { name: `${pack.credits} message credits` } },
				},
			],
			client_reference_id: accountId,
			metadata,
			payment_intent_data: { metadata },
			success_url: urls.success,
			cancel_url: urls.cancel,
		});
	} catch (err) {
		// The kind of failure only: Stripe's message could name the account.
		console.error(
			JSON.stringify({ event: "stripe_checkout_failed", type: err instanceof Stripe.errors.StripeError ? err.type : "network" }),
		);
		throw new ApiError("unavailable", "The payment service did not answer. Nothing was charged; please try again.", 30_000);
	}
	if (typeof session.url !== "string") {
		console.error(JSON.stringify({ event: "stripe_checkout_failed", type: "no_url" }));
		throw new ApiError("unavailable", "The payment service gave no payment page. Nothing was charged; please try again.", 30_000);
	}
	return session.url;
}
