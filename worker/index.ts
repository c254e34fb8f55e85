import { router } from "./router.ts";
import { withSecurityHeaders } from "./security-headers.ts";

export { UserRelay } from "./user-relay.ts";

export default {
	// Every request comes here first (`run_worker_first = true`), so static pages get their
	// security headers too: the API answers /api/*, the assets binding everything else.
	async fetch(request, env, ctx) {
		const response = (await router.fetch(request, env, ctx)) ?? (await env.ASSETS.fetch(request));
		return withSecurityHeaders(request, response, env);
	},
} satisfies ExportedHandler<Env>;
