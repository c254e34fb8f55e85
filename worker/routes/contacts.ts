import type { IRequest } from "itty-router";
import {
	acceptRequest,
	type ContactList,
	type ContactResponse,
	contactRequest,
	type DeviceList,
	type EnvelopeList,
	rotateRequest,
} from "../../common/protocol/wire.ts";
import { ApiError } from "../api-error.ts";
import { type Account, getAccount } from "../db/accounts.ts";
import { authenticate, pathId, readBody, relayFor, unwrap } from "../http.ts";
import type { PeerRef } from "../relay/contacts/contact-book.ts";

const peerRef = (account: Account): PeerRef => ({ id: account.id, handle: account.handle });

async function requireAccount(env: Env, accountId: string): Promise<Account> {
	const account = await getAccount(env.DB, accountId);
	if (!account) throw new ApiError("not_found", "No such account.");
	return account;
}

/** GET /api/contacts */
export async function listContacts(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const contacts = unwrap(await relayFor(env, s.accountId).contacts(s.deviceId));
	return Response.json({ contacts } satisfies ContactList);
}

/** POST /api/contacts: ask the account with this handle to become a contact. */
export async function requestContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const body = await readBody(request, contactRequest);
	const contact = unwrap(await relayFor(env, s.accountId).requestContact(s.deviceId, body.handle));
	return Response.json({ contact } satisfies ContactResponse, { status: 201 });
}

/** POST /api/contacts/:accountId/accept, with the new contact key wrapped for every device. */
export async function acceptContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const body = await readBody(request, acceptRequest);
	const me = await requireAccount(env, s.accountId);
	const relay = relayFor(env, s.accountId);
	const contact = unwrap(await relay.acceptContact(s.deviceId, peerRef(me), peerId, body.keyVersion, body.envelopes));
	return Response.json({ contact } satisfies ContactResponse);
}

/** POST /api/contacts/:accountId/decline */
export async function declineContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const contact = unwrap(await relayFor(env, s.accountId).declineContact(s.deviceId, peerId));
	return Response.json({ contact } satisfies ContactResponse);
}

/** POST /api/contacts/:accountId/block */
export async function blockContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peer = await requireAccount(env, pathId(request, "accountId"));
	const contact = unwrap(await relayFor(env, s.accountId).blockContact(s.deviceId, peerRef(peer)));
	return Response.json({ contact } satisfies ContactResponse);
}

/** POST /api/contacts/:accountId/unblock: the contact is again what the block hid (an accepted one: accepted, same key). */
export async function unblockContact(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const contact = unwrap(await relayFor(env, s.accountId).unblockContact(s.deviceId, peerId));
	return Response.json({ contact } satisfies ContactResponse);
}

/** GET /api/contacts/:accountId/keys: the calling device's own envelopes for this contact. */
export async function contactKeys(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const envelopes = unwrap(await relayFor(env, s.accountId).contactKeys(s.deviceId, peerId));
	return Response.json({ envelopes } satisfies EnvelopeList);
}

/** GET /api/contacts/:accountId/devices: the contact's approved device keys and its signed list, to verify before wrapping a key. */
export async function contactDevices(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const listing = unwrap(await relayFor(env, s.accountId).peerDevices(s.deviceId, peerId));
	return Response.json(listing satisfies DeviceList);
}

/** POST /api/contacts/:accountId/rotate: the next key version, after a device of either side was revoked. */
export async function rotateContactKey(request: IRequest, env: Env): Promise<Response> {
	const s = await authenticate(request, env);
	const peerId = pathId(request, "accountId");
	const body = await readBody(request, rotateRequest);
	const contact = unwrap(await relayFor(env, s.accountId).rotateContactKey(s.deviceId, peerId, body.keyVersion, body.envelopes));
	return Response.json({ contact } satisfies ContactResponse);
}
