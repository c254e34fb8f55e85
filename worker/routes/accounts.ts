import type { IRequest } from "itty-router";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { randomBytes, verifyDetached } from "../../common/nacl.ts";
import { identityProofMessage, registrationMessage } from "../../common/protocol/signing.ts";
import { type RegisterResponse, registerRequest } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { isUsableDeviceKey } from "../auth/device-key.ts";
import { readConfig } from "../config.ts";
import { createAccount } from "../db/accounts.ts";
import { readBody } from "../http.ts";

export const newId = (): string => toB64u(randomBytes(16));

/**
 * POST /api/accounts: a handle, the first device and the account's identity key. The device
 * key signs all three; the identity key signs the handle and the device, so neither key can
 * be registered by someone who holds only the other.
 */
export async function register(request: IRequest, env: Env): Promise<Response> {
	const config = readConfig(env);
	const body = await readBody(request, registerRequest);
	const publicKey = fromB64u(body.publicKey);
	const identityKey = fromB64u(body.identityKey);
	if (!isUsableDeviceKey(publicKey)) throw new ApiError("bad_request", "publicKey is not a usable Ed25519 key.");
	if (!isUsableDeviceKey(identityKey)) throw new ApiError("bad_request", "identityKey is not a usable Ed25519 key.");
	// One key in both roles would let a device's signature pass for the identity's.
	if (body.identityKey === body.publicKey) throw new ApiError("bad_request", "identityKey must not be the device key.");
	const registered = registrationMessage(body.handle, body.publicKey, body.deviceName, body.identityKey);
	if (!verifyDetached(publicKey, registered, fromB64u(body.signature))) {
		throw new ApiError("unauthorized", "The signature does not match the device key.");
	}
	const proof = identityProofMessage(body.handle, body.identityKey, body.publicKey);
	if (!verifyDetached(identityKey, proof, fromB64u(body.identitySignature))) {
		throw new ApiError("unauthorized", "The identity signature does not match the identity key.");
	}
	const response: RegisterResponse = { accountId: newId(), deviceId: newId(), handle: body.handle };
	const created = await createAccount(env.DB, {
		...response,
		publicKey: body.publicKey,
		deviceName: body.deviceName,
		registrationSignature: body.signature,
		identityKey: body.identityKey,
		startingCredits: config.startingCredits,
		now: Date.now(),
	});
	if (!created) throw new ApiError("handle_taken", "That handle or device key is already registered.");
	return Response.json(response, { status: 201 });
}
