import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../worker/api-error.ts";
import { DEV_SECRET_PREFIX, readConfig } from "../../worker/config.ts";

const withVars = (vars: Record<string, string | undefined>): Env => ({ ...env, ...vars }) as Env;

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

	it("accepts a development secret in development and a real one in production", () => {
		expect(readConfig(withVars({ AUTH_SECRET: `${DEV_SECRET_PREFIX}${"x".repeat(40)}`, ENVIRONMENT: "development" })).authSecret).toMatch(
			/^dev-only:/,
		);
		expect(readConfig(withVars({ AUTH_SECRET: "y".repeat(48), ENVIRONMENT: "production" })).rateLimit).toEqual({
			count: 100000,
			windowMs: 10_000,
		});
	});
});
