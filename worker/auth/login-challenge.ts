import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { hmacSign, hmacVerify } from "./hmac.ts";

const PURPOSE = "challenge/1";

export interface Challenge {
	nonce: string;
	expiresAt: number;
}

/**
 * A login challenge needs no server state to issue: it is a random nonce and an expiry under
 * the server's MAC. Single use is enforced when it is redeemed (the account's Durable Object
 * remembers redeemed nonces until they expire), so a captured signature cannot be replayed.
 */
export async function issueChallenge(secret: string, now: number, ttlMs: number): Promise<{ challenge: string; expiresAt: number }> {
	const nonce = toB64u(randomBytes(16));
	const expiresAt = now + ttlMs;
	const body = `${nonce}.${expiresAt}`;
	return { challenge: `${body}.${await hmacSign(secret, PURPOSE, body)}`, expiresAt };
}

export async function verifyChallenge(secret: string, challenge: string, now: number): Promise<Challenge | null> {
	const parts = challenge.split(".");
	if (parts.length !== 3) return null;
	const [nonce = "", expiry = "", mac = ""] = parts;
	if (!/^[A-Za-z0-9_-]{22}$/.test(nonce) || !/^\d{1,16}$/.test(expiry)) return null;
	const expiresAt = Number(expiry);
	if (expiresAt <= now) return null;
	if (!(await hmacVerify(secret, PURPOSE, `${nonce}.${expiry}`, mac))) return null;
	return { nonce, expiresAt };
}
