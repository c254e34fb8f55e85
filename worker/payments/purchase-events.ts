import type Stripe from "stripe";
import type { Purchase } from "../db/purchases.ts";

/** What a verified Stripe event means for the credits: a paid purchase, a refund, or nothing. */
export type PurchaseEvent =
	| { kind: "paid"; purchase: Purchase }
	| { kind: "refunded"; paymentId: string; amount: number; amountRefunded: number }
	| { kind: "ignored"; why: string };

const idOf = (value: string | { id: string } | null | undefined): string | null =>
	typeof value === "string" ? value : typeof value?.id === "string" ? value.id : null;

const ACCOUNT_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Read an event the signature check let through. Only what our own checkout created counts:
 * the account and pack come from the metadata `createCheckout` set, and must agree with
 * `client_reference_id`. Everything else is answered 200 and ignored, or Stripe would
 * retry it for days.
 */
export function readPurchaseEvent(event: Stripe.Event): PurchaseEvent {
	switch (event.type) {
		case "checkout.session.completed":
		case "checkout.session.async_payment_succeeded":
			return paidSession(event.data.object);
		case "charge.refunded": {
			const charge = event.data.object;
			const paymentId = idOf(charge.payment_intent);
			if (!paymentId) return { kind: "ignored", why: "refund without a payment" };
			return { kind: "refunded", paymentId, amount: charge.amount, amountRefunded: charge.amount_refunded };
		}
		default:
			return { kind: "ignored", why: "event type not handled" };
	}
}

function paidSession(session: Stripe.Checkout.Session): PurchaseEvent {
	// A delayed payment method completes unpaid and sends async_payment_succeeded once paid.
	if (session.mode !== "payment" || session.payment_status !== "paid") return { kind: "ignored", why: "not paid" };
	const accountId = session.metadata?.account;
	const credits = Number(session.metadata?.credits);
	const paymentId = idOf(session.payment_intent);
	if (!accountId || !ACCOUNT_ID.test(accountId) || session.client_reference_id !== accountId) {
		return { kind: "ignored", why: "not a credit purchase" };
	}
	if (!Number.isSafeInteger(credits) || credits < 1 || !paymentId) return { kind: "ignored", why: "not a credit purchase" };
	return {
		kind: "paid",
		purchase: {
			paymentId,
			accountId,
			checkoutSession: session.id,
			credits,
			amount: session.amount_total ?? 0,
			currency: session.currency ?? "",
		},
	};
}

/**
 * The credits a refund covers: the refunded share of the payment, rounded up, so what is
 * left paid for never buys more credits than it paid for. A full refund covers the pack.
 */
export function coveredCredits(credits: number, amount: number, amountRefunded: number): number {
	if (amount <= 0 || amountRefunded >= amount) return credits;
	return Math.min(credits, Math.ceil((credits * amountRefunded) / amount));
}
