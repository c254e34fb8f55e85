import { concatBytes, fromB64u, toB64u, utf8Encode } from "../../../common/encoding.ts";

/**
 * The two pieces of Web Push that are cryptography, on WebCrypto alone (workerd has all of
 * it: ECDSA and ECDH on P-256, HKDF, AES-GCM), so the relay needs no push library:
 *
 * - VAPID (RFC 8292): the relay proves to the push service which application server it is,
 *   with an ES256 JWT signed by its VAPID key, sent as `Authorization: vapid t=…, k=…`.
 * - Payload encryption (RFC 8291 over RFC 8188's aes128gcm): the payload is sealed for the
 *   browser's subscription key (p256dh) and auth secret, so the push service cannot read it.
 *
 * Pure functions of their inputs (the clock and the randomness can be given), tested against
 * RFC 8291's Appendix A and an independent node:crypto decryptor (test/support/push-stand-in.ts).
 */

/** RFC 8188 record size: one record holds up to 4096 - 16 (tag) - 1 (delimiter) bytes of payload. */
export const RECORD_SIZE = 4096;
const TAG_BYTES = 16;
/** The most a single-record payload may be. Push services take 4096 bytes of body; ours is tens. */
export const MAX_PUSH_PLAINTEXT = RECORD_SIZE - TAG_BYTES - 1 - 86;
/** A VAPID JWT may live at most 24 h (RFC 8292 §2); 12 h leaves room for a skewed clock at the push service. */
export const VAPID_TOKEN_TTL_SECONDS = 12 * 60 * 60;

const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDH = { name: "ECDH", namedCurve: "P-256" } as const;

export class WebPushKeyError extends Error {
	override readonly name = "WebPushKeyError";
}

/** x and y of an uncompressed P-256 point (0x04 || x || y), as a public JWK. */
function publicJwk(point: Uint8Array): JsonWebKey {
	if (point.length !== 65 || point[0] !== 0x04) throw new WebPushKeyError("not an uncompressed P-256 point");
	return { kty: "EC", crv: "P-256", x: toB64u(point.subarray(1, 33)), y: toB64u(point.subarray(33)), ext: true };
}

/** Whether these bytes are a point on P-256 (the browser's p256dh must be, or no push can be sealed for it). */
export async function isP256Point(point: Uint8Array): Promise<boolean> {
	if (point.length !== 65 || point[0] !== 0x04) return false;
	try {
		await crypto.subtle.importKey("raw", point, ECDH, false, []);
		return true;
	} catch {
		return false;
	}
}

export interface VapidKeys {
	/** The public key, base64url of the uncompressed point: `k=` of the header, and the browser's applicationServerKey. */
	publicKey: string;
	signingKey: CryptoKey;
}

/**
 * The deployment's VAPID key pair, as `web-push generate-vapid-keys` (or worker/scripts/
 * vapid-keys.mjs) prints it: the public point and the private scalar d, both base64url.
 * Importing checks that they are one pair: WebCrypto refuses a d that does not match x, y.
 */
export async function importVapidKeys(publicKey: string, privateKey: string): Promise<VapidKeys> {
	const d = fromB64u(privateKey);
	if (d.length !== 32) throw new WebPushKeyError("the VAPID private key must be 32 bytes");
	try {
		const jwk = { ...publicJwk(fromB64u(publicKey)), d: toB64u(d), ext: false };
		const signingKey = await crypto.subtle.importKey("jwk", jwk, P256, false, ["sign"]);
		// A d that is not the public key's is not always refused on import: sign and verify once.
		const verifyKey = await crypto.subtle.importKey("raw", fromB64u(publicKey), P256, false, ["verify"]);
		const probe = utf8Encode("vapid key check");
		const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signingKey, probe);
		if (!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, verifyKey, signature, probe))) {
			throw new WebPushKeyError("the VAPID private key does not belong to the public key");
		}
		return { publicKey, signingKey };
	} catch (err) {
		if (err instanceof WebPushKeyError) throw err;
		throw new WebPushKeyError("the VAPID key pair could not be imported");
	}
}

/**
 * The Authorization header for one push request (RFC 8292 §3): a JWT for the origin of the
 * push service, expiring `VAPID_TOKEN_TTL_SECONDS` from `now`, naming the operator's contact.
 * WebCrypto's ECDSA signature is r || s, which is exactly JWS's ES256 form.
 */
export async function vapidAuthorization(endpoint: string, subject: string, keys: VapidKeys, now: number): Promise<string> {
	const header = toB64u(utf8Encode(JSON.stringify({ typ: "JWT", alg: "ES256" })));
	const claims = { aud: new URL(endpoint).origin, exp: Math.floor(now / 1000) + VAPID_TOKEN_TTL_SECONDS, sub: subject };
	const unsigned = `${header}.${toB64u(utf8Encode(JSON.stringify(claims)))}`;
	const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.signingKey, utf8Encode(unsigned));
	return `vapid t=${unsigned}.${toB64u(new Uint8Array(signature))}, k=${keys.publicKey}`;
}

/** The subscription's keys, as the browser gave them (base64url). */
export interface PushKeys {
	p256dh: string;
	auth: string;
}

/** Fixed instead of fresh, only to reproduce a test vector. */
export interface SealOptions {
	salt?: Uint8Array;
	/** The application server's one-time ECDH key pair: its private key and its public point. */
	ephemeral?: { privateKey: CryptoKey; publicKey: Uint8Array };
}

async function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, bytes: number): Promise<Uint8Array> {
	const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
	return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

/** An ECDH private key from its scalar and public point, for SealOptions.ephemeral (test vectors). */
export async function importEcdhPrivateKey(d: Uint8Array, publicKey: Uint8Array): Promise<CryptoKey> {
	return crypto.subtle.importKey("jwk", { ...publicJwk(publicKey), d: toB64u(d) }, ECDH, false, ["deriveBits"]);
}

/**
 * Seal `plaintext` for a subscription (RFC 8291 §3.4, one aes128gcm record of RFC 8188):
 * ECDH between a one-time key and the browser's p256dh, mixed with the auth secret into the
 * input key ("WebPush: info" || 0 || ua_public || as_public), then the content key and nonce
 * from the salt. The body starts with the salt, the record size and the one-time public key,
 * which is all the browser needs besides its own keys.
 */
export async function sealPushPayload(plaintext: Uint8Array, keys: PushKeys, opts: SealOptions = {}): Promise<Uint8Array> {
	if (plaintext.length > MAX_PUSH_PLAINTEXT) throw new RangeError("a push payload must fit one record");
	const uaPublic = fromB64u(keys.p256dh);
	const authSecret = fromB64u(keys.auth);
	if (authSecret.length !== 16) throw new WebPushKeyError("the auth secret must be 16 bytes");
	const uaKey = await crypto.subtle.importKey("raw", uaPublic, ECDH, false, []).catch(() => {
		throw new WebPushKeyError("p256dh is not a P-256 point");
	});
	let ephemeral = opts.ephemeral;
	if (!ephemeral) {
		const pair = (await crypto.subtle.generateKey(ECDH, true, ["deriveBits"])) as CryptoKeyPair;
		ephemeral = {
			privateKey: pair.privateKey,
			publicKey: new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer),
		};
	}
	const salt = opts.salt ?? crypto.getRandomValues(new Uint8Array(16));
	// workers-types spells the field `$public` (a C++ name); the runtime, like the standard, reads `public`.
	const ecdh = { name: "ECDH", public: uaKey } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0];
	const shared = new Uint8Array(await crypto.subtle.deriveBits(ecdh, ephemeral.privateKey, 256));
	const keyInfo = concatBytes(utf8Encode("WebPush: info"), new Uint8Array([0]), uaPublic, ephemeral.publicKey);
	const ikm = await hkdf(authSecret, shared, keyInfo, 32);
	const cek = await hkdf(salt, ikm, concatBytes(utf8Encode("Content-Encoding: aes128gcm"), new Uint8Array([0])), 16);
	const nonce = await hkdf(salt, ikm, concatBytes(utf8Encode("Content-Encoding: nonce"), new Uint8Array([0])), 12);
	const aesKey = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
	// The last (and only) record ends with the delimiter 0x02, and carries no further padding.
	const record = concatBytes(plaintext, new Uint8Array([0x02]));
	const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, aesKey, record));
	const header = new Uint8Array(21);
	header.set(salt, 0);
	new DataView(header.buffer).setUint32(16, RECORD_SIZE);
	header[20] = ephemeral.publicKey.length;
	return concatBytes(header, ephemeral.publicKey, sealed);
}
