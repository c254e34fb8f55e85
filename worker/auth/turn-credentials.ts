import { array, object, optional, type Schema, string, ValidationError } from "../../common/protocol/schema.ts";
import { type IceServer, parseJson, type TurnResponse } from "../../common/protocol/wire.ts";

export interface TurnConfig {
	stunUrls: string[];
	turnUrls: string[];
	/** coturn's `static-auth-secret`; null: no TURN of our own. */
	secret: string | null;
	ttlSeconds: number;
	/** Cloudflare's managed TURN: a TURN key id and its API token; used instead of `secret` when set. */
	cloudflare: { keyId: string; apiToken: string } | null;
}

const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary);
}

/**
 * A credential in coturn's `use-auth-secret` scheme (the "TURN REST API" draft): the user name
 * is `expiry:accountId` with the expiry in Unix seconds, the password is
 * base64(HMAC-SHA1(secret, user name)). The TURN server recomputes it and refuses it after
 * the expiry, so nothing has to be shared with it but the secret.
 */
export async function turnCredential(
	secret: string,
	accountId: string,
	expiresAtSeconds: number,
): Promise<{ username: string; credential: string }> {
	const username = `${expiresAtSeconds}:${accountId}`;
	const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
	const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(username));
	return { username, credential: base64(new Uint8Array(mac)) };
}

const CLOUDFLARE_TURN_API = "https://rtc.live.cloudflare.com/v1/turn/keys";

const turnUrl = string({ min: 1, max: 512 });
/** Cloudflare's answer, checked like any other untrusted input; it gives `urls` as one string or a list. */
const urlOrUrls: Schema<string | string[]> = {
	parse: (value, path) => (typeof value === "string" ? turnUrl.parse(value, path) : array(turnUrl, { min: 1, max: 16 }).parse(value, path)),
};
const cloudflareIceServers = object({
	iceServers: array(object({ urls: urlOrUrls, username: optional(string({ max: 512 })), credential: optional(string({ max: 512 })) }), {
		min: 1,
		max: 8,
	}),
});

/** Cloudflare issues its own short-lived credentials through an API call with the TURN key's token. */
async function fromCloudflare(config: TurnConfig & { cloudflare: object }, fetchFn: typeof fetch): Promise<IceServer[]> {
	const response = await fetchFn(`${CLOUDFLARE_TURN_API}/${encodeURIComponent(config.cloudflare.keyId)}/credentials/generate-ice-servers`, {
		method: "POST",
		headers: { authorization: `Bearer ${config.cloudflare.apiToken}`, "content-type": "application/json" },
		body: JSON.stringify({ ttl: config.ttlSeconds }),
	});
	const text = await response.text();
	if (!response.ok) throw new Error(`Cloudflare TURN answered ${response.status}`);
	const servers = parseJson(cloudflareIceServers, text).iceServers;
	return servers.map((s) => ({ ...s, urls: typeof s.urls === "string" ? [s.urls] : s.urls }));
}

/**
 * The ICE servers a device may use until `expiresAt`: the configured STUN servers, plus TURN
 * with a credential of its own. Without TURN configured only STUN is given (or nothing), and
 * calls still connect where the two devices can reach each other directly.
 */
export async function iceServersFor(config: TurnConfig, accountId: string, now: number, fetchFn: typeof fetch): Promise<TurnResponse> {
	const expiresAtSeconds = Math.floor(now / 1000) + config.ttlSeconds;
	const stun: IceServer[] = config.stunUrls.length > 0 ? [{ urls: config.stunUrls }] : [];
	const expiresAt = expiresAtSeconds * 1000;
	if (config.cloudflare) {
		try {
			return { iceServers: await fromCloudflare({ ...config, cloudflare: config.cloudflare }, fetchFn), expiresAt };
		} catch (err) {
			// Calls may still connect without a relay; the failure is for the operator, not the user.
			const problem = err instanceof ValidationError ? "malformed answer" : err instanceof Error ? err.message : "failed";
			console.error(JSON.stringify({ event: "turn_provider_failed", problem }));
			return { iceServers: stun, expiresAt };
		}
	}
	if (config.secret === null || config.turnUrls.length === 0) return { iceServers: stun, expiresAt };
	const credential = await turnCredential(config.secret, accountId, expiresAtSeconds);
	return { iceServers: [...stun, { urls: config.turnUrls, ...credential }], expiresAt };
}
