/**
 * A local stand-in for the one Stripe API call the relay makes, POST /v1/checkout/sessions:
 * Stripe's API cannot be reached from the test machine. It runs in Node as the outbound
 * service of the `worker-stripe` project (vitest.config.ts), so every fetch of that worker
 * to STRIPE_API_BASE lands here. It checks the form-encoded request as Stripe would refuse
 * it, answers a session object with a URL, and keeps what it received, which a test reads
 * back from GET /__stand-in/sessions?account=<id>.
 */

export const STAND_IN_BASE = "https://stripe.test";
export const STAND_IN_SECRET_KEY = "sk_test_stand_in_0123456789";
export const STAND_IN_WEBHOOK_SECRET = "whsec_stand_in_0123456789abcdef";

/** The fields the relay must send, as Stripe's form encoding names them. */
const REQUIRED = [
	"mode",
	"line_items[0][quantity]",
	"line_items[0][price_data][currency]",
	"line_items[0][price_data][unit_amount]",
	"line_items[0][price_data][product_data][name]",
	"client_reference_id",
	"metadata[account]",
	"metadata[credits]",
	"success_url",
	"cancel_url",
];

const received = new Map<string, Record<string, string>[]>();
let sessions = 0;

const stripeError = (status: number, message: string) =>
	Response.json({ error: { type: "invalid_request_error", message } }, { status, headers: { "request-id": "req_stand_in" } });

export async function stripeStandIn(request: Request): Promise<Response> {
	const url = new URL(request.url);
	if (url.origin !== STAND_IN_BASE) return new Response("the stand-in only answers for the Stripe API", { status: 502 });
	if (request.method === "GET" && url.pathname === "/__stand-in/sessions") {
		return Response.json(received.get(url.searchParams.get("account") ?? "") ?? []);
	}
	if (request.method !== "POST" || url.pathname !== "/v1/checkout/sessions") return stripeError(404, "Unrecognized request URL.");
	if (request.headers.get("authorization") !== `Bearer ${STAND_IN_SECRET_KEY}`) return stripeError(401, "Invalid API Key provided.");
	if (!request.headers.get("content-type")?.startsWith("application/x-www-form-urlencoded")) {
		return stripeError(400, "Expected a form-encoded body.");
	}
	const params = Object.fromEntries(new URLSearchParams(await request.text()));
	const missing = REQUIRED.filter((name) => !params[name]);
	if (missing.length > 0) return stripeError(400, `Missing required param: ${missing[0]}.`);
	if (params.mode !== "payment") return stripeError(400, "Invalid mode.");
	const amount = Number(params["line_items[0][price_data][unit_amount]"]);
	if (!Number.isInteger(amount) || amount < 50) return stripeError(400, "Invalid unit_amount.");
	const account = params.client_reference_id as string;
	received.set(account, [...(received.get(account) ?? []), params]);
	const id = `cs_test_stand_in_${++sessions}`;
	return Response.json({
		id,
		object: "checkout.session",
		mode: "payment",
		status: "open",
		payment_status: "unpaid",
		amount_total: amount * Number(params["line_items[0][quantity]"]),
		currency: params["line_items[0][price_data][currency]"],
		client_reference_id: account,
		metadata: { account: params["metadata[account]"], credits: params["metadata[credits]"] },
		success_url: params.success_url,
		cancel_url: params.cancel_url,
		url: `https://checkout.stripe.test/c/pay/${id}`,
	});
}
