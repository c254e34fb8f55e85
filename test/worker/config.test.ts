import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateDeviceKeys } from "../../common/nacl.ts";
import { priceOf } from "../../common/pricing.ts";
import { creditPacksResponse, type DeviceInfo, limitsResponse, pushKeyResponse } from "../../common/protocol/wire.ts";
import { isContactBurst, isLowAcceptRatio, isMachineRegular } from "../../worker/abuse/behaviour-flags.ts";
import { joinRefusal, lapsedAsks } from "../../worker/abuse/device-joins.ts";
import { reportRetryAfter } from "../../worker/abuse/report-allowance.ts";
import { reportOutcome } from "../../worker/abuse/report-weight.ts";
import { INDEFINITE, nextSuspension } from "../../worker/abuse/suspension.ts";
import { ApiError } from "../../worker/api-error.ts";
import { DEV_SECRET_PREFIX, readConfig } from "../../worker/config.ts";
import worker from "../../worker/index.ts";
import { creditPacks } from "../../worker/routes/credits.ts";
import { limits } from "../../worker/routes/limits.ts";
import { TEST_VAPID } from "../support/test-vapid.ts";
import { DOCUMENTED_PRICES } from "./fixtures.ts";
import { BASE, registerUser, registrationBody, socketHeaders } from "./helpers.ts";

const withVars = (vars: Record<string, string | undefined>): Env => ({ ...env, ...vars }) as Env;

/** Each of these sets of vars is refused as server_misconfigured. */
function expectMisconfigured(wrong: Record<string, string | undefined>[]): void {
	for (const vars of wrong) {
		let thrown: unknown;
		try {
			readConfig(withVars(vars));
		} catch (err) {
			thrown = err;
		}
		expect([vars, (thrown as ApiError | undefined)?.code]).toEqual([vars, "server_misconfigured"]);
	}
}

describe("configuration", () => {
	it("refuses to run in production without a secret, with a short one, or with a development secret", () => {
		for (const AUTH_SECRET of [undefined, "short", `${DEV_SECRET_PREFIX}${"x".repeat(40)}`]) {
			let thrown: unknown;
			try {
				readConfig(withVars({ AUTH_SECRET, ENVIRONMENT: "production" }));
			} catch (err) {
				thrown = err;
			}
			expect(thrown).toBeInstanceOf(ApiError);
			expect((thrown as ApiError).code).toBe("server_misconfigured");
		}
	});

	it("answers requests through the worker with a typed 500 server_misconfigured in production without a real secret", async () => {
		const user = await registerUser("prod");
		/** The worker's own fetch handler, given this deployment's variables instead of the test's. */
		const request = async (vars: Record<string, string | undefined>, path: string, init: RequestInit<IncomingRequestCfProperties> = {}) => {
			const ctx = createExecutionContext();
			const response = await worker.fetch(new Request<unknown, IncomingRequestCfProperties>(`${BASE}${path}`, init), withVars(vars), ctx);
			await waitOnExecutionContext(ctx);
			return { status: response.status, json: (await response.json()) as any };
		};
		const calls: Array<[string, RequestInit<IncomingRequestCfProperties>]> = [
			["/api/auth/challenge", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }],
			["/api/contacts", { headers: { authorization: `Bearer ${user.token}` } }],
			["/api/ws", { headers: socketHeaders(user.token) }],
		];
		for (const AUTH_SECRET of [undefined, `${DEV_SECRET_PREFIX}${"x".repeat(40)}`]) {
			for (const [path, init] of calls) {
				const { status, json } = await request({ AUTH_SECRET, ENVIRONMENT: "production" }, path, init);
				expect([AUTH_SECRET, path, status, json.error.code]).toEqual([AUTH_SECRET, path, 500, "server_misconfigured"]);
				expect(JSON.stringify(json)).not.toContain(DEV_SECRET_PREFIX);
			}
		}
		// The same request with the test's own secret goes through: only the secret was wrong.
		const fine = await request({}, "/api/contacts", calls[1]![1]);
		expect(fine.status).toBe(200);
	});

	it("answers a route limited per client address with server_misconfigured, creating nothing, when the deployment lacks its binding", async () => {
		const body = registrationBody(`nolimit_${Math.floor(Math.random() * 1e6)}`, generateDeviceKeys());
		/** The worker's own fetch handler, given `deployment` as its bindings. */
		const register = async (deployment: Env) => {
			const ctx = createExecutionContext();
			const init = { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } };
			const response = await worker.fetch(new Request<unknown, IncomingRequestCfProperties>(`${BASE}/api/accounts`, init), deployment, ctx);
			await waitOnExecutionContext(ctx);
			return { status: response.status, json: (await response.json()) as any };
		};
		const lacking = await register({ ...env, REGISTRATION_LIMITER: undefined } as unknown as Env);
		expect([lacking.status, lacking.json.error.code]).toEqual([500, "server_misconfigured"]);
		expect(lacking.json.error.message).toContain("REGISTRATION_LIMITER");
		expect(await env.DB.prepare("SELECT id FROM accounts WHERE handle = ?").bind(body.handle).first()).toBeNull();
		// With the binding the same request registers.
		expect((await register(env)).status).toBe(201);
	});

	it("accepts a development secret in development and a real one in production", () => {
		expect(readConfig(withVars({ AUTH_SECRET: `${DEV_SECRET_PREFIX}${"x".repeat(40)}`, ENVIRONMENT: "development" })).authSecret).toMatch(
			/^dev-only:/,
		);
		expect(readConfig(withVars({ AUTH_SECRET: "y".repeat(48), ENVIRONMENT: "production" })).rateLimit).toEqual({
			count: 100000,
			windowMs: 10_000,
		});
	});

	it("reads the attachment tiers, device join limits, link code lifetime, suspension escalation and flag thresholds from their variables", () => {
		const config = readConfig(
			withVars({
				ATTACHMENT_SMALL_BELOW_MB: "0.5",
				ATTACHMENT_MEDIUM_UP_TO_MB: "5",
				ATTACHMENT_MAX_MB: "20",
				DEVICE_REQUESTS_PER_HOUR: "2",
				DEVICE_ASK_LAPSE_HOURS: "6",
				LINK_CODE_TTL_MS: "120000",
				SUSPEND_FIRST_HOURS: "1",
				SUSPEND_SECOND_DAYS: "2",
				FLAG_CONTACT_BURST_DISTINCT: "4",
				FLAG_CONTACT_BURST_MINUTES: "15",
				FLAG_LOW_ACCEPT_MIN_REQUESTS: "6",
				FLAG_LOW_ACCEPT_PERCENT: "50",
				FLAG_REGULAR_SAMPLE: "3",
				FLAG_REGULAR_VARIATION_PERCENT: "10",
			}),
		);
		const MB = 1024 * 1024;
		expect(config.attachmentTiers).toEqual({ smallBelowBytes: MB / 2, mediumUpToBytes: 5 * MB, maxBytes: 20 * MB });
		expect(config.deviceRequestsPerHour).toBe(2);
		expect(config.deviceJoins).toEqual({ lapseMs: 6 * 3_600_000 });
		expect(config.linkCodeTtlMs).toBe(120_000);
		expect(config.suspension.escalationMs).toEqual([3_600_000, 2 * 86_400_000]);
		expect(config.flags).toEqual({
			burstDistinct: 4,
			burstWindowMs: 15 * 60_000,
			lowAcceptMinRequests: 6,
			lowAcceptRatio: 0.5,
			regularSample: 3,
			regularMaxVariation: 0.1,
		});

		// The rules obey what was read: the tier boundaries, the escalation and the flag thresholds move.
		const price = (bytes: number, trust: "untrusted" | "trusted") =>
			priceOf({ kind: "attachment", bytes }, trust, config.prices, config.attachmentTiers);
		expect(price(MB / 2 - 1, "untrusted")).toEqual({ ok: true, price: 8 });
		expect(price(MB / 2, "untrusted")).toMatchObject({ ok: false, code: "forbidden", message: expect.stringContaining("0.5 MB") });
		expect(price(5 * MB, "trusted")).toEqual({ ok: true, price: 20 });
		expect(price(5 * MB + 1, "trusted")).toEqual({ ok: true, price: 40 });
		expect(price(20 * MB + 1, "trusted")).toMatchObject({ ok: false, code: "too_large", message: expect.stringContaining("20 MB") });
		const now = 1_000_000;
		expect(nextSuspension(0, now, config.suspension.escalationMs)).toEqual({ level: 1, until: now + 3_600_000 });
		expect(nextSuspension(1, now, config.suspension.escalationMs)).toEqual({ level: 2, until: now + 2 * 86_400_000 });
		expect(nextSuspension(2, now, config.suspension.escalationMs)).toEqual({ level: 3, until: INDEFINITE });
		expect([isContactBurst(3, config.flags), isContactBurst(4, config.flags)]).toEqual([false, true]);
		expect([isLowAcceptRatio(5, 0, config.flags), isLowAcceptRatio(6, 2, config.flags), isLowAcceptRatio(6, 3, config.flags)]).toEqual([
			false,
			true,
			false,
		]);
		expect([isMachineRegular([0, 100, 200], config.flags), isMachineRegular([0, 100, 200, 300], config.flags)]).toEqual([false, true]);
		const waiting: DeviceInfo = { deviceId: "d", publicKey: "k", name: "phone", status: "pending", createdAt: now };
		expect(joinRefusal([], 1)).toBeNull();
		expect(joinRefusal([waiting], 1)).toContain("waiting for approval");
		expect(lapsedAsks([waiting], now + 6 * 3_600_000 - 1, config.deviceJoins)).toEqual([]);
		expect(lapsedAsks([waiting], now + 6 * 3_600_000, config.deviceJoins)).toEqual([waiting]);
	});

	it("defaults to the documented limits and prices, as wrangler.toml sets them", () => {
		const config = readConfig(withVars({}));
		expect(config.attachmentTiers).toEqual({ smallBelowBytes: 1024 * 1024, mediumUpToBytes: 10 * 1024 * 1024, maxBytes: 50 * 1024 * 1024 });
		expect(config.deviceRequestsPerHour).toBe(5);
		expect(config.prices).toEqual(DOCUMENTED_PRICES);
		expect(readConfig(withVars({ PRICE_REACTION: "3" })).prices.reaction).toBe(3);
		expect(() => readConfig(withVars({ PRICE_REACTION: "-1" }))).toThrow(/PRICE_REACTION/);
		expect(config.deviceJoins).toEqual({ lapseMs: 86_400_000 });
		expect(config.linkCodeTtlMs).toBe(600_000);
		expect(config.historyTransferTtlMs).toBe(3_600_000);
		expect(config.historyArchiveMaxBytes).toBe(90 * 1024 * 1024);
		expect(config.suspension.escalationMs).toEqual([86_400_000, 7 * 86_400_000]);
		expect(config.flags).toMatchObject({ burstDistinct: 10, burstWindowMs: 3_600_000, lowAcceptRatio: 0.2, regularSample: 10 });
	});

	it("reads a history transfer's lifetime and the largest archive from HISTORY_TRANSFER_TTL_MS and HISTORY_ARCHIVE_MAX_MB", () => {
		const config = readConfig(withVars({ HISTORY_TRANSFER_TTL_MS: "120000", HISTORY_ARCHIVE_MAX_MB: "0.5" }));
		expect([config.historyTransferTtlMs, config.historyArchiveMaxBytes]).toEqual([120_000, 512 * 1024]);
	});

	it("reads the reports one account may file a day from REPORTS_PER_DAY (5 by default), and the report weight that suspends from SUSPEND_AFTER_REPORTERS", () => {
		const defaults = readConfig(withVars({}));
		expect([defaults.reportsPerDay, defaults.suspension.reporters]).toEqual([5, 3]);
		const set = readConfig(withVars({ REPORTS_PER_DAY: "2", SUSPEND_AFTER_REPORTERS: "1.5" }));
		expect([set.reportsPerDay, set.suspension.reporters]).toEqual([2, 1.5]);
		// The rules obey what was read: three reports from accounts made today (0.5 each) reach 1.5.
		expect(
			reportOutcome(
				{ suspensionLevel: 0, suspendedNow: false, reviewPending: false },
				{ reporters: 3, weight: 1.5 },
				set.suspension.reporters,
			),
		).toBe("suspend");
		expect(reportRetryAfter(2, 0, 1000, set.reportsPerDay)).toBe(86_400_000 - 1000);
		expect(reportRetryAfter(1, 0, 1000, set.reportsPerDay)).toBeNull();
	});

	it("reads the device limit from MAX_DEVICES_PER_ACCOUNT and refuses one below a single device", () => {
		expect(readConfig(withVars({})).maxDevicesPerAccount).toBe(10);
		expect(readConfig(withVars({ MAX_DEVICES_PER_ACCOUNT: "3" })).maxDevicesPerAccount).toBe(3);
		for (const bad of ["0", "2.5", "many"]) {
			expect(() => readConfig(withVars({ MAX_DEVICES_PER_ACCOUNT: bad }))).toThrow(/MAX_DEVICES_PER_ACCOUNT/);
		}
	});

	it.each([
		["SUSPEND_FIRST_HOURS", "a day"],
		["FLAG_CONTACT_BURST_DISTINCT", "-1"],
		["ATTACHMENT_MAX_MB", "0.5"],
		["ATTACHMENT_SMALL_BELOW_MB", "20"],
		["FLAG_LOW_ACCEPT_PERCENT", "120"],
		["FLAG_REGULAR_SAMPLE", "2.5"],
		["FLAG_REGULAR_SAMPLE", "1"],
		["DEVICE_REQUESTS_PER_HOUR", "0"],
		["LINK_CODE_TTL_MS", "0"],
		["LINK_CODE_TTL_MS", "ten minutes"],
		["HISTORY_TRANSFER_TTL_MS", "0"],
		["HISTORY_TRANSFER_TTL_MS", "an hour"],
		["HISTORY_ARCHIVE_MAX_MB", "0"],
		["HISTORY_ARCHIVE_MAX_MB", "-5"],
		["REPORTS_PER_DAY", "0"],
		["REPORTS_PER_DAY", "2.5"],
		["SUSPEND_AFTER_REPORTERS", "-1"],
	])("refuses %s = %j with server_misconfigured, naming the variable", (name, value) => {
		let thrown: unknown;
		try {
			readConfig(withVars({ [name]: value }));
		} catch (err) {
			thrown = err;
		}
		expect(thrown).toBeInstanceOf(ApiError);
		expect((thrown as ApiError).code).toBe("server_misconfigured");
		expect((thrown as ApiError).message).toContain(name);
	});

	it("publishes the configured attachment tiers and history archive cap at GET /api/limits", async () => {
		const response = limits(
			new Request("https://relay.test/api/limits"),
			withVars({ ATTACHMENT_MEDIUM_UP_TO_MB: "8", ATTACHMENT_MAX_MB: "25", HISTORY_ARCHIVE_MAX_MB: "12" }),
		);
		const body = limitsResponse.parse(await response.json(), "limits");
		expect(body.attachmentTiers).toEqual({
			smallBelowBytes: 1024 * 1024,
			mediumUpToBytes: 8 * 1024 * 1024,
			maxBytes: 25 * 1024 * 1024,
		});
		expect(body.historyArchiveMaxBytes).toBe(12 * 1024 * 1024);
	});

	it("sells credits only with both Stripe secrets, reading CREDIT_PACKS, CREDIT_CURRENCY and STRIPE_API_BASE", () => {
		const stripe = { STRIPE_SECRET_KEY: "sk_test_x", STRIPE_WEBHOOK_SECRET: "whsec_x" };
		expect(readConfig(withVars({})).purchases).toBeNull();
		const configured = readConfig(
			withVars({ ...stripe, CREDIT_PACKS: " 500:1000, 100:200 ", CREDIT_CURRENCY: "EUR", STRIPE_API_BASE: "" }),
		);
		expect(configured.purchases).toMatchObject({
			secretKey: "sk_test_x",
			webhookSecret: "whsec_x",
			currency: "eur",
			packs: [
				{ credits: 100, price: 200 },
				{ credits: 500, price: 1000 },
			],
		});
		expect(configured.purchases?.apiBase.href).toBe("https://api.stripe.com/");
		// wrangler.toml's own packs: a credit at $0.02.
		const defaults = readConfig(withVars(stripe)).purchases;
		expect(defaults?.packs.every((p) => p.price === p.credits * 2)).toBe(true);
		expect(defaults?.currency).toBe("usd");
		const wrong: Record<string, string | undefined>[] = [
			{ STRIPE_SECRET_KEY: "sk_test_x" },
			{ STRIPE_WEBHOOK_SECRET: "whsec_x" },
			{ ...stripe, CREDIT_PACKS: "" },
			{ ...stripe, CREDIT_PACKS: "100" },
			{ ...stripe, CREDIT_PACKS: "100:20" },
			{ ...stripe, CREDIT_PACKS: "100:200,100:300" },
			{ ...stripe, CREDIT_PACKS: "-5:200" },
			{ ...stripe, CREDIT_CURRENCY: "dollars" },
			{ ...stripe, STRIPE_API_BASE: "not a url" },
			{ ...stripe, STRIPE_API_BASE: "ftp://stripe.example" },
		];
		expectMisconfigured(wrong);
	});

	it("without Stripe, sells nothing: no packs, and checkout and the webhook answer 404 not_configured", async () => {
		const packs = creditPacksResponse.parse(await creditPacks(new Request("https://relay.test/api/credits/packs"), env).json(), "packs");
		expect(packs).toEqual({ forSale: false, currency: null, packs: [] });
		const user = await registerUser("nostripe");
		const checkout = await exports.default.fetch(
			new Request(`${BASE}/api/credits/checkout`, {
				method: "POST",
				headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
				body: JSON.stringify({ pack: 100 }),
			}),
		);
		expect([checkout.status, ((await checkout.json()) as any).error.code]).toEqual([404, "not_configured"]);
		const webhook = await exports.default.fetch(
			new Request(`${BASE}/api/stripe/webhook`, { method: "POST", headers: { "stripe-signature": "t=1,v1=00" }, body: "{}" }),
		);
		expect([webhook.status, ((await webhook.json()) as any).error.code]).toEqual([404, "not_configured"]);
	});

	it("sends Web Push only with a VAPID pair and subject, reading PUSH_COALESCE_MS (30 s by default)", () => {
		const vapid = {
			VAPID_PUBLIC_KEY: TEST_VAPID.publicKey,
			VAPID_PRIVATE_KEY: TEST_VAPID.privateKey,
			VAPID_SUBJECT: "mailto:ops@relay.example",
		};
		expect(readConfig(withVars({})).push).toBeNull();
		expect(readConfig(withVars(vapid)).push).toEqual({
			publicKey: TEST_VAPID.publicKey,
			privateKey: TEST_VAPID.privateKey,
			subject: "mailto:ops@relay.example",
			coalesceMs: 30_000,
		});
		expect(readConfig(withVars({ ...vapid, VAPID_SUBJECT: "https://relay.example/contact", PUSH_COALESCE_MS: "5000" })).push).toMatchObject(
			{
				subject: "https://relay.example/contact",
				coalesceMs: 5000,
			},
		);
		const wrong: Record<string, string | undefined>[] = [
			{ VAPID_PUBLIC_KEY: TEST_VAPID.publicKey },
			{ VAPID_PRIVATE_KEY: TEST_VAPID.privateKey },
			{ ...vapid, VAPID_SUBJECT: "" },
			{ ...vapid, VAPID_SUBJECT: "ops@relay.example" },
			{ ...vapid, VAPID_SUBJECT: "http://relay.example" },
			{ ...vapid, VAPID_PUBLIC_KEY: TEST_VAPID.publicKey.slice(1) },
			{ ...vapid, VAPID_PRIVATE_KEY: `${TEST_VAPID.privateKey}A` },
			{ ...vapid, PUSH_COALESCE_MS: "-1" },
			{ ...vapid, PUSH_COALESCE_MS: "1.5" },
		];
		expectMisconfigured(wrong);
	});

	it("without VAPID keys, sends no pushes: the key route says none, and no device can subscribe (404 not_configured)", async () => {
		const key = await exports.default.fetch(new Request(`${BASE}/api/push/key`));
		expect(pushKeyResponse.parse(await key.json(), "key")).toEqual({ publicKey: null });
		const user = await registerUser("nopush");
		const subscription = {
			endpoint: "https://push.example/send/abc",
			keys: { p256dh: TEST_VAPID.publicKey, auth: "AAAAAAAAAAAAAAAAAAAAAA" },
		};
		const put = await exports.default.fetch(
			new Request(`${BASE}/api/devices/push`, {
				method: "PUT",
				headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
				body: JSON.stringify(subscription),
			}),
		);
		expect([put.status, ((await put.json()) as any).error.code]).toEqual([404, "not_configured"]);
		const stored = await runInDurableObject(env.USERS.get(env.USERS.idFromName(user.accountId)), (_, state) =>
			state.storage.sql.exec("SELECT COUNT(*) AS n FROM push_subscriptions").one(),
		);
		expect(stored.n).toBe(0);
	});
});
