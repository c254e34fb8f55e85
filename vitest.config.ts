import { availableParallelism } from "node:os";
import path from "node:path";
import { cloudflareTest, type D1Migration, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { pushStandIn } from "./test/support/push-stand-in.ts";
import { STAND_IN_BASE, STAND_IN_SECRET_KEY, STAND_IN_WEBHOOK_SECRET, stripeStandIn } from "./test/support/stripe-stand-in.ts";
import { TEST_VAPID } from "./test/support/test-vapid.ts";
import { relaxedRateLimits } from "./test/support/wrangler-config.ts";

const SECRETS = {
	AUTH_SECRET: "test-secret-0123456789abcdef0123456789abcdef",
	ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
	ENVIRONMENT: "test",
	// A coturn-style TURN server (use-auth-secret), so GET /api/turn hands out credentials.
	TURN_SECRET: "test-turn-secret-0123456789abcdef",
	TURN_URLS: "turn:turn.relay.test:3478?transport=udp turns:turn.relay.test:5349?transport=tcp",
};

/**
 * Relay and storage tests send many messages in a row, so their project lifts the abuse
 * limits; the `worker-policy` project runs with wrangler.toml's real defaults and owns the
 * tests of those limits.
 */
const RELAXED_LIMITS = {
	RATE_LIMIT_COUNT: "100000",
	QUOTA_UNTRUSTED_PER_DAY: "100000",
	QUOTA_TRUSTED_PER_DAY: "100000",
	STARTING_CREDITS: "1000000",
	CONTACT_REQUESTS_PER_HOUR: "100000",
	SUSPEND_AFTER_VIOLATIONS: "100000",
	// Twice the deployed 1 s: on a loaded 2-core machine a test's ack must not miss a hold
	// that the test expects it to end (held-messages.test.ts).
	DELIVERY_HOLD_MS: "2000",
};

/**
 * The `worker` and `worker-policy` projects register many accounts and sign in many times
 * from one address (their tests send no CF-Connecting-IP), so both also raise the limits per
 * client address: the `[[ratelimits]]` bindings of wrangler.toml, which no var reaches. The
 * `worker-address-limits` project keeps wrangler.toml's and owns the tests of those.
 */
const RELAXED_ADDRESS_LIMITS = relaxedRateLimits();

/**
 * The `worker-stripe` project sells credits: both Stripe secrets are set, and the worker's
 * outbound fetches (Stripe's API at STRIPE_API_BASE) go to a local stand-in, since Stripe's
 * API cannot be reached from the test machine. The other projects have no Stripe secrets.
 */
const STRIPE = {
	STRIPE_SECRET_KEY: STAND_IN_SECRET_KEY,
	STRIPE_WEBHOOK_SECRET: STAND_IN_WEBHOOK_SECRET,
	STRIPE_API_BASE: STAND_IN_BASE,
};

/**
 * The `worker-push` project sends Web Push: VAPID keys are configured, and the worker's
 * outbound fetches (the push services at the subscriptions' endpoints) go to a local push
 * service and browser stand-in, which checks the VAPID JWT and decrypts what it gets. The
 * other projects have no VAPID keys, so they send no pushes.
 */
const PUSH = {
	VAPID_PUBLIC_KEY: TEST_VAPID.publicKey,
	VAPID_PRIVATE_KEY: TEST_VAPID.privateKey,
	VAPID_SUBJECT: TEST_VAPID.subject,
	PUSH_COALESCE_MS: "30000",
};

function workerProject(
	name: string,
	include: string[],
	bindings: Record<string, string | D1Migration[]>,
	ratelimits: ReturnType<typeof relaxedRateLimits> = {},
	outboundService?: typeof stripeStandIn,
) {
	return {
		plugins: [
			cloudflareTest({
				wrangler: { configPath: "./wrangler.toml" },
				miniflare: { bindings, ratelimits, ...(outboundService && { outboundService }) },
			}),
		],
		// A guard against a hang, not a measure of speed: on a loaded 2-core CI machine a test
		// that drives a few hundred frames or requests through workerd can take well over 5 s.
		test: { name, include, setupFiles: ["test/worker/apply-migrations.ts"], testTimeout: 30_000 },
	};
}

// `worker`, `worker-policy` and `worker-address-limits` run inside workerd (DOs, D1 with the
// real migrations, alarms, hibernating sockets); `node` runs the SDK against a real
// `wrangler dev` and the crypto against TweetNaCl and libsodium; `e2e` the web app in Chromium.
export default defineConfig(async () => {
	const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
	return {
		test: {
			// Vitest's default, one worker fewer than the cores, runs the files one at a time on a
			// 2-core machine, though most of them wait on workerd or wrangler dev: two at a time
			// took the suite from 1,121 s to 618 s there. The e2e files run one at a time (below).
			maxWorkers: Math.max(2, availableParallelism() - 1),
			projects: [
				workerProject(
					"worker",
					["test/worker/**/*.test.ts"],
					{ TEST_MIGRATIONS: migrations, ...SECRETS, ...RELAXED_LIMITS },
					RELAXED_ADDRESS_LIMITS,
				),
				workerProject(
					"worker-policy",
					["test/worker-policy/**/*.test.ts"],
					{ TEST_MIGRATIONS: migrations, ...SECRETS },
					RELAXED_ADDRESS_LIMITS,
				),
				workerProject(
					"worker-stripe",
					["test/worker-stripe/**/*.test.ts"],
					{ TEST_MIGRATIONS: migrations, ...SECRETS, ...RELAXED_LIMITS, ...STRIPE },
					RELAXED_ADDRESS_LIMITS,
					stripeStandIn,
				),
				workerProject(
					"worker-push",
					["test/worker-push/**/*.test.ts"],
					{ TEST_MIGRATIONS: migrations, ...SECRETS, ...RELAXED_LIMITS, ...PUSH },
					RELAXED_ADDRESS_LIMITS,
					pushStandIn,
				),
				workerProject("worker-address-limits", ["test/worker-address-limits/**/*.test.ts"], { TEST_MIGRATIONS: migrations, ...SECRETS }),
				{
					test: {
						name: "node",
						include: ["test/node/**/*.test.ts"],
						environment: "node",
						testTimeout: 60_000,
						hookTimeout: 120_000,
					},
				},
				{
					// Real headless Chromium (Debian `chromium`, driven by playwright-core) against a real
					// `wrangler dev`: the web app and the widget as people use them. One file alone keeps a
					// 2-core machine's load average near 4 (a Chromium and a relay); two at a time, a 30 s
					// wait for an error line failed in CI, so these files run one at a time, after the
					// others (Vitest runs a project with one worker last).
					test: {
						name: "e2e",
						maxWorkers: 1,
						include: ["test/e2e/**/*.test.ts"],
						environment: "node",
						testTimeout: 120_000,
						hookTimeout: 120_000,
					},
				},
			],
		},
	};
});
