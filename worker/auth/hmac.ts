import { fromB64u, toB64u } from "../../common/encoding.ts";

const keys = new Map<string, Promise<CryptoKey>>();
const encoder = new TextEncoder();

function hmacKey(secret: string, purpose: string): Promise<CryptoKey> {
	const cacheKey = `${purpose}\u0000${secret}`;
	let key = keys.get(cacheKey);
	if (!key) {
		// One derived key per purpose, so a session token's MAC can never pass as a challenge's.
		key = crypto.subtle.importKey("raw", encoder.encode(`${purpose}\u0000${secret}`), { name: "HMAC", hash: "SHA-256" }, false, [
			"sign",
			"verify",
		]);
		keys.set(cacheKey, key);
	}
	return key;
}

export async function hmacSign(secret: string, purpose: string, data: string): Promise<string> {
	const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret, purpose), encoder.encode(data));
	return toB64u(new Uint8Array(mac));
}

/** Constant-time check through WebCrypto; malformed MACs are simply not valid. */
export async function hmacVerify(secret: string, purpose: string, data: string, mac: string): Promise<boolean> {
	let bytes: Uint8Array;
	try {
		bytes = fromB64u(mac);
	} catch {
		return false;
	}
	if (bytes.length !== 32) return false;
	return crypto.subtle.verify("HMAC", await hmacKey(secret, purpose), new Uint8Array(bytes), encoder.encode(data));
}
