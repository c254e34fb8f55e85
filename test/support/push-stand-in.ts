import { createDecipheriv, createECDH, createPublicKey, type ECDH, hkdfSync, randomBytes, verify } from "node:crypto";
import { PUSH_BASE, TEST_VAPID } from "./test-vapid.ts";

export { PUSH_BASE, TEST_VAPID };

/**
 * A push service and the browsers behind it, in Node, for the `worker-push` project
 * (vitest.config.ts): every fetch of that worker to PUSH_BASE lands here, as the relay's
 * pushes would land at FCM or Mozilla's autopush. It does what a real one and a browser do
 * together, with node:crypto and nothing of the relay's code:
 *
 * - POST /__stand-in/subscribe makes a subscription as a browser does (a P-256 key pair and a
 *   16-byte auth secret of its own) and answers it as `PushSubscription.toJSON()` would.
 * - POST /push/<id> checks the VAPID header (RFC 8292: the ES256 JWT's signature against the
 *   configured public key, its aud, exp and sub), then decrypts the aes128gcm body (RFC 8291)
 *   with the subscription's private key, and keeps what it read.
 * - GET /__stand-in/pushes?subscription=<id> answers what reached that subscription, and
 *   POST /__stand-in/gone?subscription=<id> makes it answer 410 Gone from then on.
 */

/** One request that reached a subscription: refused ones too (`status`), and what a browser read from it. */
export interface ReceivedPush {
	status: number;
	/** The decrypted payload, exactly as the relay sealed it (accepted pushes only). */
	payload?: string;
	/** The encrypted body, base64url: what the push service itself saw. */
	body: string;
	headers: { ttl: string | null; urgency: string | null; topic: string | null; contentEncoding: string | null };
	/** The verified JWT claims. */
	claims?: Record<string, unknown>;
	/** Why a push was refused (400): what a real push service or browser would have refused it for. */
	error?: string;
}

interface Subscription {
	ecdh: ECDH;
	auth: Buffer;
	gone: boolean;
	received: ReceivedPush[];
}

const subscriptions = new Map<string, Subscription>();

const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

/** The browser's side of RFC 8291 / RFC 8188: one aes128gcm record, opened with the subscription's private key. */
export function openPushBody(body: Buffer, ua: ECDH, auth: Buffer): string {
	const salt = body.subarray(0, 16);
	const recordSize = body.readUInt32BE(16);
	const idLength = body[20] ?? 0;
	const asPublic = body.subarray(21, 21 + idLength);
	const record = body.subarray(21 + idLength);
	if (idLength !== 65) throw new Error("the key id must be the sender's 65-byte public key");
	if (record.length > recordSize) throw new Error("more than one record");
	const shared = ua.computeSecret(asPublic);
	const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
	const ikm = Buffer.from(hkdfSync("sha256", shared, auth, keyInfo, 32));
	const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
	const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
	const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
	decipher.setAuthTag(record.subarray(record.length - 16));
	const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
	let end = plain.length - 1;
	while (end >= 0 && plain[end] === 0) end--;
	if (plain[end] !== 0x02) throw new Error("the last record must end with the delimiter 0x02");
	return plain.subarray(0, end).toString("utf8");
}

/** RFC 8292: `vapid t=<jwt>, k=<key>`, the key the configured one, the JWT signed by it, for this origin, not expired, at most 24 h ahead. */
export function checkVapid(header: string | null, audience: string, nowMs: number, vapid = TEST_VAPID): Record<string, unknown> {
	const match = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header ?? "");
	if (!match) throw new Error("Authorization is not a vapid header");
	const [, head, claimsPart, signature, key] = match as unknown as [string, string, string, string, string];
	if (key !== vapid.publicKey) throw new Error("k is not the application server's key");
	const point = Buffer.from(key, "base64url");
	const publicKey = createPublicKey({
		key: { kty: "EC", crv: "P-256", x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)) },
		format: "jwk",
	});
	const signed = Buffer.from(`${head}.${claimsPart}`);
	if (!verify("sha256", signed, { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature, "base64url"))) {
		throw new Error("the JWT signature does not verify");
	}
	const jwtHeader = JSON.parse(Buffer.from(head, "base64url").toString());
	if (jwtHeader.alg !== "ES256") throw new Error("the JWT is not ES256");
	const claims = JSON.parse(Buffer.from(claimsPart, "base64url").toString());
	if (claims.aud !== audience) throw new Error(`aud is ${claims.aud}, not ${audience}`);
	const now = Math.floor(nowMs / 1000);
	if (typeof claims.exp !== "number" || claims.exp <= now || claims.exp > now + 24 * 3600) throw new Error("exp is not within 24 h");
	if (claims.sub !== vapid.subject) throw new Error("sub is not the operator's contact");
	return claims;
}

export async function pushStandIn(request: Request): Promise<Response> {
	const url = new URL(request.url);
	if (url.origin !== PUSH_BASE) return new Response("the stand-in only answers for the push service", { status: 502 });
	const named = subscriptions.get(url.searchParams.get("subscription") ?? "");
	if (request.method === "POST" && url.pathname === "/__stand-in/subscribe") {
		const id = b64u(randomBytes(12));
		const ecdh = createECDH("prime256v1");
		ecdh.generateKeys();
		const auth = randomBytes(16);
		subscriptions.set(id, { ecdh, auth, gone: false, received: [] });
		return Response.json({ id, endpoint: `${PUSH_BASE}/push/${id}`, keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) } });
	}
	if (request.method === "GET" && url.pathname === "/__stand-in/pushes") {
		return named ? Response.json(named.received) : new Response("no such subscription", { status: 404 });
	}
	if (request.method === "POST" && url.pathname === "/__stand-in/gone") {
		if (!named) return new Response("no such subscription", { status: 404 });
		named.gone = true;
		return Response.json({ ok: true });
	}
	const push = /^\/push\/([\w-]+)$/.exec(url.pathname);
	if (request.method !== "POST" || !push) return new Response("not a push service route", { status: 404 });
	const sub = subscriptions.get(push[1] as string);
	if (!sub) return new Response("no such subscription", { status: 404 });
	const body = Buffer.from(await request.arrayBuffer());
	const got: ReceivedPush = {
		status: 201,
		body: b64u(body),
		headers: {
			ttl: request.headers.get("ttl"),
			urgency: request.headers.get("urgency"),
			topic: request.headers.get("topic"),
			contentEncoding: request.headers.get("content-encoding"),
		},
	};
	sub.received.push(got);
	if (sub.gone) {
		got.status = 410;
		return new Response("subscription expired", { status: 410 });
	}
	try {
		got.claims = checkVapid(request.headers.get("authorization"), PUSH_BASE, Date.now());
		if (got.headers.contentEncoding !== "aes128gcm") throw new Error("Content-Encoding must be aes128gcm");
		if (!/^\d+$/.test(got.headers.ttl ?? "")) throw new Error("TTL is required");
		got.payload = openPushBody(body, sub.ecdh, sub.auth);
	} catch (err) {
		got.status = 400;
		got.error = err instanceof Error ? err.message : String(err);
		return new Response(err instanceof Error ? err.message : String(err), { status: 400 });
	}
	return new Response(null, { status: 201 });
}
