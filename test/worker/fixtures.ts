import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { generateContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { sealMessage } from "../../client/core/message-seal.ts";
import { sealReceipt } from "../../client/core/receipt-seal.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import type { CallSignalKind } from "../../common/protocol/wire.ts";
import { enqueueAll } from "../../worker/relay/messaging/message-queue.ts";
import { api, connect, registerUser, type TestSocket, type TestUser } from "./helpers.ts";
import { type ClaimingDevice, linkDevice, pendingDevice } from "./linking.ts";

/** Another approved device of `user`'s account, linked as clients do it (linking.ts), holding every contact key `user` holds. */
export function addApprovedDevice(user: TestUser, name = "phone"): Promise<TestUser> {
	return linkDevice(user, name);
}

/** A device that claimed a link code of `user`'s account and signed in, not approved. */
export function addPendingDevice(user: TestUser, name = "new phone"): Promise<TestUser & { claim: ClaimingDevice }> {
	return pendingDevice(user, name);
}

/** The prices in credits that wrangler.toml and the documentation give. */
export const DOCUMENTED_PRICES = {
	text: 4,
	attachmentSmall: 8,
	attachmentMedium: 20,
	attachmentLarge: 40,
	edit: 2,
	delete: 1,
	reaction: 1,
};

/** Two accounts that are accepted contacts sharing one contact key (version 1). */
export async function contactPair(
	opts: { extraDevices?: number } = {},
): Promise<{ alice: TestUser; bob: TestUser; key: Uint8Array; aliceDevices: TestUser[]; bobDevices: TestUser[] }> {
	const alice = await registerUser("alice");
	const bob = await registerUser("bob");
	const aliceDevices = [alice];
	const bobDevices = [bob];
	for (let i = 0; i < (opts.extraDevices ?? 0); i++) {
		aliceDevices.push(await addApprovedDevice(alice));
		bobDevices.push(await addApprovedDevice(bob));
	}
	await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
	const key = await acceptContact(bob, alice);
	return { alice, bob, key, aliceDevices, bobDevices };
}

/** `me` accepts `requester`'s contact request as a client does, with a fresh contact key (version 1), which it returns. */
export async function acceptContact(me: TestUser, requester: TestUser): Promise<Uint8Array> {
	const key = generateContactKey();
	const envelopes = await wrapForBoth(me, requester, 1, key);
	const accepted = await api(`/api/contacts/${requester.accountId}/accept`, { token: me.token, body: { keyVersion: 1, envelopes } });
	if (accepted.status !== 200) throw new Error(JSON.stringify(accepted.json));
	return key;
}

export const newMessageId = (): string => toB64u(randomBytes(16));

/**
 * `key` as `version` of the pair's contact key, wrapped by `me` for every approved device of
 * both accounts as the relay lists them, under both accounts' current list versions.
 */
export async function wrapForBoth(me: TestUser, peer: TestUser, version: number, key: Uint8Array) {
	const own = (await api("/api/devices", { token: me.token })).json;
	const theirs = (await api(`/api/contacts/${peer.accountId}/devices`, { token: me.token })).json;
	const mine = own.devices.filter((d: any) => d.status === "approved");
	const lists = { [me.accountId]: own.deviceList?.version ?? 1, [peer.accountId]: theirs.deviceList?.version ?? 1 };
	const wrap = (accountId: string, d: { deviceId: string; publicKey: string }) => ({
		accountId,
		deviceId: d.deviceId,
		...wrapContactKey({
			accounts: [me.accountId, peer.accountId],
			version,
			lists,
			key,
			senderSeed: me.keys.seed,
			targetPublicKey: fromB64u(d.publicKey),
		}),
	});
	return [...mine.map((d: any) => wrap(me.accountId, d)), ...theirs.devices.map((d: any) => wrap(peer.accountId, d))];
}

/** What a rotating client does: a fresh key as `version` for both accounts' devices, after `adjust` (to test what the relay refuses). */
export async function rotateContactKey(
	me: TestUser,
	peer: TestUser,
	version: number,
	adjust: (envelopes: Array<{ accountId: string; deviceId: string; nonce: string; box: string }>) => unknown[] = (e) => e,
): Promise<{ key: Uint8Array; res: Awaited<ReturnType<typeof api>> }> {
	const key = generateContactKey();
	const envelopes = await wrapForBoth(me, peer, version, key);
	const res = await api(`/api/contacts/${peer.accountId}/rotate`, {
		token: me.token,
		body: { keyVersion: version, envelopes: adjust(envelopes) },
	});
	return { key, res };
}

/** A `send` frame carrying `text` sealed under the contact key, with a matching sealed header. */
export function sealedSend(from: TestUser, to: TestUser, key: Uint8Array, text: string, id = newMessageId(), keyVersion = 1) {
	const header = { id, from: from.accountId, fromDevice: from.deviceId, to: to.accountId, keyVersion, kind: "text", sentAt: Date.now() };
	const { nonce, box } = sealMessage(key, header, { text });
	return { type: "send", id, to: to.accountId, kind: "text", keyVersion, nonce, box } as const;
}

/** What `by`'s device sends once it stored these messages of `sender`: an ack with a receipt sealed for the sender. */
export function sealedAck(by: TestUser, sender: TestUser, key: Uint8Array, ids: string[], keyVersion = 1) {
	const me = { accountId: by.accountId, deviceId: by.deviceId } as Parameters<typeof sealReceipt>[0];
	return {
		type: "ack",
		ids,
		from: sender.accountId,
		receipt: sealReceipt(me, sender.accountId, { version: keyVersion, key }, ids),
	} as const;
}

/**
 * `count` real sealed messages from `from` queued for `to`'s device, written by the queue's
 * own write path (which keeps its counters), as if delivered while `to` was away: filling a
 * queue to its 10,000-message cap through a socket would take minutes.
 */
export async function queueMessagesFor(to: TestUser, from: TestUser, key: Uint8Array, count: number): Promise<void> {
	await runInDurableObject(env.USERS.get(env.USERS.idFromName(to.accountId)), (_, state) => {
		const now = Date.now();
		const rows = Array.from({ length: count }, () => {
			const { type: _, ...send } = sealedSend(from, to, key, "waiting");
			const frame = JSON.stringify({ type: "message", ...send, from: from.accountId, fromDevice: from.deviceId, sentAt: now });
			const bytes = fromB64u(send.box).length;
			return { deviceId: to.deviceId, msgId: send.id, fromAccount: from.accountId, frame, bytes, expiresAt: now + 30 * 86_400_000 };
		});
		enqueueAll(state.storage.sql, rows, null);
	});
}

export interface SignalFrame {
	type: "call";
	id: string;
	to: string;
	kind: CallSignalKind;
	keyVersion?: number;
	nonce?: string;
	box?: string;
}

/** A `call` frame with `body` sealed under the contact key with a "call:" kind (control signals seal an empty body). */
export function callSignal(
	from: TestUser,
	to: TestUser,
	key: Uint8Array,
	callId: string,
	kind: CallSignalKind,
	body: unknown = {},
): SignalFrame {
	const header = {
		id: callId,
		from: from.accountId,
		fromDevice: from.deviceId,
		to: to.accountId,
		keyVersion: 1,
		kind: `call:${kind}`,
		sentAt: Date.now(),
	};
	return { type: "call", id: callId, to: to.accountId, kind, keyVersion: 1, ...sealMessage(key, header, body) };
}

/** An ICE candidate signal, the n-th of a call. */
export const iceSignal = (from: TestUser, to: TestUser, key: Uint8Array, callId: string, n: number): SignalFrame =>
	callSignal(from, to, key, callId, "ice", { candidate: `candidate:${n} 1 udp 1 192.0.2.1 ${5000 + n} typ host`, sdpMid: "0" });

/** Suspend an account as the abuse rules do (a first suspension, for `ms`): D1 first, then its object reads it again. */
export async function suspendFor(user: { accountId: string }, ms: number): Promise<void> {
	await env.DB.prepare("UPDATE accounts SET suspended_until = ?, suspension_level = 1 WHERE id = ?")
		.bind(Date.now() + ms, user.accountId)
		.run();
	await env.USERS.get(env.USERS.idFromName(user.accountId)).reloadAccount();
}

/**
 * `caller` and `callee` connect (the callee's backlog drained), and the caller offers a call
 * the callee has not allowed: the relay refuses it as `calls_not_allowed`, naming the offer.
 */
export async function callNotAllowed(
	caller: TestUser,
	callee: TestUser,
	key: Uint8Array,
	video = false,
): Promise<{ a: TestSocket; b: TestSocket; call: SignalFrame }> {
	const a = await connect(caller.token);
	const b = await connect(callee.token);
	await b.next("synced");
	const call = callSignal(caller, callee, key, newMessageId(), "offer", { sdp: "v=0 offer", video });
	a.send(call);
	expect(await a.next("error")).toMatchObject({ code: "calls_not_allowed", ref: call.id });
	return { a, b, call };
}
