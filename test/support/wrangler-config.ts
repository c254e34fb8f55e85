/**
 * wrangler.toml with the limits per client address raised, for test runs that make many
 * accounts and sign-ins from one address. Those limits are Rate Limiting bindings
 * (`[[ratelimits]]`), which no `--var` reaches, so a test run gets them another way: the
 * Vitest Workers pool through Miniflare's `ratelimits` option (`relaxedRateLimits`), a
 * `wrangler dev` through a copy of the configuration (`writeRelaxedWranglerConfig`). Both
 * are made from wrangler.toml itself, so a binding added there is raised here too, and the
 * deployed file keeps its real limits. Their own tests run with those
 * (test/worker-address-limits/).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { experimental_readRawConfig } from "wrangler";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const WRANGLER_TOML = path.join(ROOT, "wrangler.toml");

/** Requests per period a test run allows each address on every limited route. */
export const RELAXED_ADDRESS_LIMIT = 1_000_000;

type Period = 10 | 60;
export interface RateLimitBinding {
	name: string;
	namespace_id: string;
	simple: { limit: number; period: Period };
}

/** wrangler's raw configuration: what the file says, before defaults. wrangler does not type it. */
function readRaw(configPath: string): Record<string, any> {
	return experimental_readRawConfig({ config: configPath }).rawConfig;
}

function rateLimitsOf(raw: Record<string, any>): RateLimitBinding[] {
	const limits: unknown = raw.ratelimits ?? [];
	if (!Array.isArray(limits)) throw new Error("wrangler.toml: ratelimits is not a list");
	return limits as RateLimitBinding[];
}

/** The `[[ratelimits]]` bindings as wrangler.toml declares them. */
export function declaredRateLimits(configPath = WRANGLER_TOML): RateLimitBinding[] {
	return rateLimitsOf(readRaw(configPath));
}

/** The `[[ratelimits]]` bindings of wrangler.toml, as Miniflare's `ratelimits` option takes them, each with its limit raised. */
export function relaxedRateLimits(configPath = WRANGLER_TOML): Record<string, { simple: { limit: number; period: Period } }> {
	return Object.fromEntries(
		rateLimitsOf(readRaw(configPath)).map((b) => [b.name, { simple: { limit: RELAXED_ADDRESS_LIMIT, period: b.simple.period } }]),
	);
}

/**
 * Writes `<dir>/wrangler.json`: the configuration at `configPath` with every rate limit
 * raised, and its paths (the entry point, the assets, the D1 migrations) made absolute so the
 * copy works from `dir` (the server's temporary persist directory). Returns its path, for
 * `wrangler -c`.
 */
export function writeRelaxedWranglerConfig(dir: string, configPath = WRANGLER_TOML): string {
	const raw = readRaw(configPath);
	const from = path.dirname(configPath);
	const absolute = (p: string) => path.resolve(from, p);
	const config = {
		...raw,
		main: absolute(raw.main),
		...(raw.assets && { assets: { ...raw.assets, directory: absolute(raw.assets.directory) } }),
		d1_databases: (raw.d1_databases ?? []).map((db: Record<string, string>) => ({
			...db,
			// wrangler's default is "migrations" beside the configuration.
			migrations_dir: absolute(db.migrations_dir ?? "migrations"),
		})),
		ratelimits: rateLimitsOf(raw).map((b) => ({ ...b, simple: { ...b.simple, limit: RELAXED_ADDRESS_LIMIT } })),
	};
	const out = path.join(dir, "wrangler.json");
	writeFileSync(out, JSON.stringify(config, null, "\t"));
	return out;
}
