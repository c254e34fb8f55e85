import type { IRequest } from "itty-router";
import { fromB64u } from "../../common/encoding.ts";
import { verifyDetached } from "../../common/nacl.ts";
import { linkClaimMessage } from "../../common/protocol/signing.ts";
import {
	approveDeviceRequest,
	type ClaimLinkResponse,
	claimLinkRequest,
	type DeviceList,
	type IdentityEnvelope,
	openLinkRequest,
	publishDeviceListRequest,
	revokeDeviceRequest,
} from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { isUsableDeviceKey } from "../auth/device-key.ts";
import { findAccountByHandle } from "../db/accounts.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import { INVALID_LINK } from "../relay/devices/link-store.ts";
import { newId } from "./accounts.ts";

/**
 * POST /api/devices/link (no token): a new device claims a link code an approved device of
 * the account showed; it stays `pending` until approved. The key's signature is checked
 * before the handle is looked up, and an unknown handle gets the same refusal as a dead link.
 */
export async function claimLink(request: IRequest, env: Env): Promise<Response> {
	const body = await readBody(request, claimLinkRequest);
	const publicKey = fromB64u(body.publicKey);
	if (!isUsableDeviceKey(publicKey)) throw new ApiError("bad_request", "publicKey is not a usable Ed25519 key.");
	const claimed = linkClaimMessage(body.handle, body.linkId, body.publicKey, body.deviceName);
	if (!verifyDetached(publicKey, claimed, fromB64u(body.signature))) {
		throw new ApiError("unauthorized", "The signature does not match the device key.");
	}
	const account = await findAccountByHandle(env.DB, body.handle);
	if (!account) throw new ApiError("not_found", INVALID_LINK);
	const deviceId = newId();
	const claimant = { linkId: body.linkId, proof: body.proof, deviceId, publicKey: body.publicKey, name: body.deviceName };
	unwrap(await relayFor(env, account.id).claimLink(claimant));
	return Response.json({ accountId: account.id, deviceId, status: "pending" } satisfies ClaimLinkResponse, { status: 201 });
}

/** GET /api/devices: this account's devices with their status and when each was last seen, and its signed list. */
export async function listOwnDevices(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const listing = unwrap(await relayFor(env, s.accountId).devices(s.deviceId));
	return Response.json(listing satisfies DeviceList);
}

/** POST /api/devices/list: the account's first signed list, or one under a new identity key. */
export async function publishDeviceList(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, publishDeviceListRequest);
	const deviceList = unwrap(await relayFor(env, s.accountId).publishDeviceList(s.deviceId, body));
	return Response.json({ deviceList });
}

/** POST /api/devices/links: an approved device opens a link code by the id derived from its secret. */
export async function openLink(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, openLinkRequest);
	const opened = unwrap(await relayFor(env, s.accountId).openLink(s.deviceId, body.linkId));
	return Response.json(opened, { status: 201 });
}

/** DELETE /api/devices/links/:linkId: the code was not used and should not be. */
export async function cancelLink(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const linkId = pathId(request, "linkId", "There is no open link code with that id.");
	unwrap(await relayFor(env, s.accountId).cancelLink(s.deviceId, linkId));
	return Response.json({ ok: true });
}

/** GET /api/devices/identity: the identity key as it was wrapped for the calling device. */
export async function identityEnvelope(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const envelope = unwrap(await relayFor(env, s.accountId).identityEnvelope(s.deviceId));
	return Response.json(envelope satisfies IdentityEnvelope);
}

/** POST /api/devices/:deviceId/approve, by an approved device: the next signed list, the identity key and every contact key for the new one. */
export async function approveDevice(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const deviceId = pathId(request, "deviceId", "There is no such device on this account.");
	const body = await readBody(request, approveDeviceRequest);
	const device = unwrap(await relayFor(env, s.accountId).approveDevice(s.deviceId, deviceId, body));
	return Response.json({ device });
}

/** POST /api/devices/:deviceId/revoke (and /reject): an approved device goes with the next list, without it; a pending one with none. */
export async function revokeDevice(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const deviceId = pathId(request, "deviceId", "There is no such device on this account.");
	const body = await readBody(request, revokeDeviceRequest, { emptyAs: {} });
	const device = unwrap(await relayFor(env, s.accountId).removeDevice(s.deviceId, deviceId, body.deviceList));
	return Response.json({ device });
}
