import type { IRequest } from "itty-router";
import { fromB64u } from "../../common/encoding.ts";
import { verifyDetached } from "../../common/nacl.ts";
import { b64uLength, type Schema } from "../../common/protocol/schema.ts";
import { recoverMessage } from "../../common/protocol/signing.ts";
import {
	completeRecoveryRequest,
	MAX_BACKUP_BYTES,
	type RecoverResponse,
	type RecoveryKeyRequest,
	recoverRequest,
	recoveryKeyRequest,
	type SealedBackup,
	sealedBackup,
} from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { isUsableDeviceKey } from "../auth/device-key.ts";
import { verifyChallenge } from "../auth/login-challenge.ts";
import { readConfig } from "../config.ts";
import { findAccountByHandle } from "../db/accounts.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import { isBackupTooLarge, RECOVERY_MISMATCH } from "../relay/recovery/recovery-rules.ts";
import { newId } from "./accounts.ts";

/** Room in a backup body for everything but the box: the version, the nonce, the keys and JSON's punctuation. */
const BACKUP_BODY_BYTES = b64uLength(MAX_BACKUP_BYTES) + 1024;

/**
 * The backup schema with a too-large box refused as `too_large`, as the protocol says,
 * rather than as the malformed field the schema alone would call it.
 */
const backupBody: Schema<SealedBackup> = {
	parse(value, path) {
		const box = typeof value === "object" && value !== null ? (value as { box?: unknown }).box : undefined;
		if (typeof box === "string" && isBackupTooLarge(box)) {
			throw new ApiError("too_large", `A sealed backup is at most ${MAX_BACKUP_BYTES} bytes.`);
		}
		return sealedBackup.parse(value, path);
	},
};

/** PUT /api/account/recovery: register the recovery public key, signed by the identity key; it replaces any earlier one. */
export async function setRecoveryKey(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, recoveryKeyRequest);
	unwrap(await relayFor(env, s.accountId).setRecoveryKey(s.deviceId, body));
	return Response.json({ ok: true });
}

/** GET /api/account/recovery: the registered key with its signature, for a device to check before it seals a backup to it. */
export async function recoveryKey(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const key = unwrap(await relayFor(env, s.accountId).recoveryKey(s.deviceId));
	return Response.json(key satisfies RecoveryKeyRequest);
}

/** PUT /api/account/backup: the next sealed backup (version one more than the stored one). */
export async function putBackup(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, backupBody, { maxBytes: BACKUP_BODY_BYTES });
	unwrap(await relayFor(env, s.accountId).putBackup(s.deviceId, body));
	return Response.json({ ok: true });
}

/** GET /api/account/backup: the sealed backup as it was stored. */
export async function backup(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const stored = unwrap(await relayFor(env, s.accountId).backup(s.deviceId));
	return Response.json(stored satisfies SealedBackup);
}

/**
 * POST /api/recovery (no token): a new device restores the account with the recovery key.
 * Everything that does not depend on the account (the challenge's MAC, the device's key and
 * signature) is checked before the handle is looked up, and an unknown handle gets the same
 * refusal as a wrong key, without being counted: there is no account whose attempts to count.
 */
export async function recover(request: IRequest, env: Env): Promise<Response> {
	const config = readConfig(env);
	const body = await readBody(request, recoverRequest);
	const issued = await verifyChallenge(config.authSecret, body.challenge, Date.now());
	if (!issued) throw new ApiError("unauthorized", "The challenge is invalid or expired. Ask for a new one.");
	const publicKey = fromB64u(body.publicKey);
	if (!isUsableDeviceKey(publicKey)) throw new ApiError("bad_request", "publicKey is not a usable Ed25519 key.");
	const message = recoverMessage(body.challenge, body.handle, body.publicKey, body.deviceName);
	if (!verifyDetached(publicKey, message, fromB64u(body.deviceSignature))) {
		throw new ApiError("unauthorized", "The device signature does not match the device key.");
	}
	const account = await findAccountByHandle(env.DB, body.handle);
	if (!account) throw new ApiError("unauthorized", RECOVERY_MISMATCH);
	const deviceId = newId();
	const restored = unwrap(
		await relayFor(env, account.id).recover({
			challenge: body.challenge,
			nonce: issued.nonce,
			expiresAt: issued.expiresAt,
			handle: body.handle,
			recoveryKey: body.recoveryKey,
			signature: body.signature,
			deviceId,
			publicKey: body.publicKey,
			name: body.deviceName,
		}),
	);
	const response: RecoverResponse = { accountId: account.id, deviceId, status: "pending", backup: restored };
	return Response.json(response, { status: 201 });
}

/** POST /api/devices/:deviceId/recover, by that recovering device itself: the next signed list, with it. */
export async function completeRecovery(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const deviceId = pathId(request, "deviceId", "There is no such device on this account.");
	const body = await readBody(request, completeRecoveryRequest);
	const device = unwrap(await relayFor(env, s.accountId).completeRecovery(s.deviceId, deviceId, body.deviceList));
	return Response.json({ device });
}
