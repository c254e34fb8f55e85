import type { IRequest } from "itty-router";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { randomBytes, verifyDetached } from "../../common/nacl.ts";
import { registrationMessage } from "../../common/protocol/signing.ts";
import { type RegisterResponse, registerRequest } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { isUsableDeviceKey } from "../auth/device-key.ts";
import { readConfig } from "../config.ts";
import { createAccount } from "../db/accounts.ts";
import { readBody } from "../http.ts";

export const newId = (): string => toB64u(randomBytes(16));

/** POST /api/accounts: a handle and the first device, proven by a signature of that device's key. */
export async function register(request: IRequest, env: Env): Promise<Response> {
	const config = readConfig(env);
	const body = await readBody(request, registerRequest);
	const publicKey = fromB64u(body.publicKey);
	if (!isUsableDeviceKey(publicKey)) throw new ApiError("bad_request", "publicKey is not a usable Ed25519 key.");
	if (!verifyDetached(publicKey, registrationMessage(body.handle, body.publicKey, body.deviceName), fromB64u(body.signature))) {
		throw new ApiError("unauthorized", "The signature does not match the device key.");
	}
	const response: RegisterResponse = { accountId: newId(), deviceId: newId(), handle: body.handle };
	const created = await createAccount(env.DB, {
		...response,
		publicKey: body.publicKey,
		deviceName: body.deviceName,
		registrationSignature: body.signature,
		startingCredits: config.startingCredits,
		now: Date.now(),
	});
	if (!created) throw new ApiError("handle_taken", "That handle or device key is already registered.");
	return Response.json(response, { status: 201 });
}
