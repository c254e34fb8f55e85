import type { IRequest } from "itty-router";
import { fromB64u } from "../../common/encoding.ts";
import { verifyDetached } from "../../common/nacl.ts";
import { deviceRequestMessage } from "../../common/protocol/signing.ts";
import { type AddDeviceResponse, addDeviceRequest, approveDeviceRequest, type DeviceList } from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { isUsableDeviceKey } from "../auth/device-key.ts";
import { findAccountByHandle, listDevices } from "../db/accounts.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import { newId } from "./accounts.ts";

/** POST /api/devices: a new device asks to join an account; it stays `pending` until approved. */
export async function addDevice(request: IRequest, env: Env): Promise<Response> {
	const body = await readBody(request, addDeviceRequest);
	const publicKey = fromB64u(body.publicKey);
	if (!isUsableDeviceKey(publicKey)) throw new ApiError("bad_request", "publicKey is not a usable Ed25519 key.");
	if (!verifyDetached(publicKey, deviceRequestMessage(body.handle, body.publicKey, body.deviceName), fromB64u(body.signature))) {
		throw new ApiError("unauthorized", "The signature does not match the device key.");
	}
	const account = await findAccountByHandle(env.DB, body.handle);
	if (!account) throw new ApiError("not_found", `Nobody is called ${body.handle}.`);
	const deviceId = newId();
	unwrap(
		await relayFor(env, account.id).addPendingDevice({
			deviceId,
			publicKey: body.publicKey,
			name: body.deviceName,
			signature: body.signature,
		}),
	);
	return Response.json({ accountId: account.id, deviceId, status: "pending" } satisfies AddDeviceResponse, { status: 201 });
}

/** GET /api/devices: this account's devices with their status and when each was last seen. */
export async function listOwnDevices(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	unwrap(await relayFor(env, s.accountId).devices(s.deviceId));
	const devices = (await listDevices(env.DB, s.accountId)).map(({ accountId: _, ...d }) => d);
	return Response.json({ devices } satisfies DeviceList);
}

/** POST /api/devices/:deviceId/approve, by an approved device, with every contact key wrapped for the new one. */
export async function approveDevice(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const deviceId = pathId(request, "deviceId");
	const body = await readBody(request, approveDeviceRequest);
	const device = unwrap(await relayFor(env, s.accountId).approveDevice(s.deviceId, deviceId, body.signature, body.envelopes));
	return Response.json({ device });
}

/** POST /api/devices/:deviceId/revoke (also rejects a pending device). */
export async function revokeDevice(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const deviceId = pathId(request, "deviceId");
	const device = unwrap(await relayFor(env, s.accountId).removeDevice(s.deviceId, deviceId));
	return Response.json({ device });
}
