import type { IRequest } from "itty-router";
import { fromB64u } from "../../common/encoding.ts";
import { verifyDetached } from "../../common/nacl.ts";
import { loginMessage } from "../../common/protocol/signing.ts";
import { type ChallengeResponse, challengeRequest, type SessionResponse, sessionRequest } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { issueChallenge, verifyChallenge } from "../auth/login-challenge.ts";
import { issueSessionToken } from "../auth/session-token.ts";
import { readConfig } from "../config.ts";
import { findDeviceByPublicKey, getAccount } from "../db/accounts.ts";
import { readBody, relayFor } from "../http.ts";

/** POST /api/auth/challenge */
export async function challenge(request: IRequest, env: Env): Promise<Response> {
	const config = readConfig(env);
	await readBody(request, challengeRequest, { emptyAs: {} });
	const issued: ChallengeResponse = await issueChallenge(config.authSecret, Date.now(), config.challengeTtlMs);
	return Response.json(issued);
}

/** POST /api/auth/session: a device proves it holds its key by signing a fresh challenge. */
export async function session(request: IRequest, env: Env): Promise<Response> {
	const config = readConfig(env);
	const body = await readBody(request, sessionRequest);
	const now = Date.now();
	const issued = await verifyChallenge(config.authSecret, body.challenge, now);
	if (!issued) throw new ApiError("unauthorized", "The challenge is invalid or expired. Ask for a new one.");
	// One message for an unknown key and a bad signature, so keys cannot be probed.
	const refused = new ApiError("unauthorized", "The signature does not match a registered device.");
	const device = await findDeviceByPublicKey(env.DB, body.publicKey);
	if (!device) throw refused;
	if (!verifyDetached(fromB64u(body.publicKey), loginMessage(body.challenge), fromB64u(body.signature))) throw refused;
	if (device.status === "revoked") throw new ApiError("device_revoked", "This device was removed from the account.");
	if (!(await relayFor(env, device.accountId).redeemChallenge(issued.nonce, issued.expiresAt))) {
		throw new ApiError("unauthorized", "This challenge was already used. Ask for a new one.");
	}
	const account = await getAccount(env.DB, device.accountId);
	if (!account) throw refused;
	const expiresAt = now + config.sessionTtlMs;
	const token = await issueSessionToken(config.authSecret, { accountId: account.id, deviceId: device.deviceId, expiresAt });
	const response: SessionResponse = {
		token,
		expiresAt,
		accountId: account.id,
		deviceId: device.deviceId,
		handle: account.handle,
		deviceStatus: device.status,
	};
	return Response.json(response);
}
