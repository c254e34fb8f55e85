import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Two projects: `worker` runs inside workerd (DOs, D1 with the real migrations, alarms,
// hibernating sockets); `node` runs the SDK against a real `wrangler dev` and the crypto
// against TweetNaCl and libsodium.
export default defineConfig(async () => {
	const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
	return {
		test: {
			projects: [
				{
					plugins: [
						cloudflareTest({
							wrangler: { configPath: "./wrangler.toml" },
							miniflare: {
								bindings: { TEST_MIGRATIONS: migrations, AUTH_SECRET: "test-secret-0123456789abcdef0123456789abcdef", ENVIRONMENT: "test" },
							},
						}),
					],
					test: {
						name: "worker",
						include: ["test/worker/**/*.test.ts"],
						setupFiles: ["test/worker/apply-migrations.ts"],
					},
				},
				{
					test: {
						name: "node",
						include: ["test/node/**/*.test.ts"],
						environment: "node",
						testTimeout: 60_000,
						hookTimeout: 120_000,
					},
				},
			],
		},
	};
});
