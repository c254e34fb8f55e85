import { ID_PATTERN } from "../../common/protocol/wire.ts";
import { hmacSign, hmacVerify } from "./hmac.ts";

export interface Session {
	accountId: string;
	deviceId: string;
	expiresAt: number;
}

const PURPOSE = "session/1";

/**
 * A stateless token `v1.<account>.<device>.<expiry>.<mac>`. It proves who signed in and
 * until when; whether the device is still approved is checked by the account's Durable
 * Object on every use, so revocation takes effect at once despite the token being valid.
 */
export async function issueSessionToken(secret: string, session: Session): Promise<string> {
	const body = `v1.${session.accountId}.${session.deviceId}.${session.expiresAt}`;
	return `${body}.${await hmacSign(secret, PURPOSE, body)}`;
}

export async function verifySessionToken(secret: string, token: string, now: number): Promise<Session | null> {
	if (token.length > 200) return null;
	const parts = token.split(".");
	if (parts.length !== 5 || parts[0] !== "v1") return null;
	const [, accountId = "", deviceId = "", expiry = "", mac = ""] = parts;
	if (!ID_PATTERN.test(accountId) || !ID_PATTERN.test(deviceId) || !/^\d{1,16}$/.test(expiry)) return null;
	const expiresAt = Number(expiry);
	if (expiresAt <= now) return null;
	if (!(await hmacVerify(secret, PURPOSE, `v1.${accountId}.${deviceId}.${expiry}`, mac))) return null;
	return { accountId, deviceId, expiresAt };
}
