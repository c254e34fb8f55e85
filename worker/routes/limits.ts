import type { LimitsResponse } from "../../common/protocol/wire.ts";
import { readConfig } from "../config.ts";

/** GET /api/limits: public, so a client can show what an action costs before it is taken. */
export function limits(_request: Request, env: Env): Response {
	const config = readConfig(env);
	const body: LimitsResponse = {
		prices: config.prices,
		rateLimit: config.rateLimit,
		quotaPerDay: config.quotaPerDay,
		maxSealedTextBytes: config.maxSealedTextBytes,
		attachmentTiers: config.attachmentTiers,
		historyArchiveMaxBytes: config.historyArchiveMaxBytes,
	};
	return Response.json(body, { headers: { "cache-control": "public, max-age=300" } });
}
