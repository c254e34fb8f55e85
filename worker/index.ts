import { router } from "./router.ts";

export { UserRelay } from "./user-relay.ts";

export default {
	async fetch(request, env, ctx) {
		const response = await router.fetch(request, env, ctx);
		return response ?? env.ASSETS.fetch(request);
	},
} satisfies ExportedHandler<Env>;
