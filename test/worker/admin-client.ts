import { env } from "cloudflare:workers";
import { api } from "./helpers.ts";

/** Calls the admin API with the deployment's admin token (set in vitest.config.ts). */
export function admin(path: string, init: { method?: string; body?: unknown } = {}) {
	return api(`/api/admin${path}`, { ...init, token: env.ADMIN_TOKEN });
}
