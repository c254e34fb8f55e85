import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { generateContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { fromB64u, toB64u } from "../../client/core/encoding.ts";
import { sealMessage } from "../../client/core/message-seal.ts";
import { generateDeviceKeys, randomBytes } from "../../client/core/nacl.ts";
import { api, registerUser, signIn, type TestUser } from "./helpers.ts";

/**
 * A second approved device written straight into D1, standing in for the approval flow
 * (issue 4) so that fan-out and sent-sync can be tested on their own.
 */
export async function addApprovedDevice(user: TestUser, name = "phone"): Promise<TestUser> {
	const keys = generateDeviceKeys();
	const deviceId = newMessageId();
	await env.DB.prepare("INSERT INTO devices (id, account_id, public_key, name, status, created_at) VALUES (?, ?, ?, ?, 'approved', ?)")
		.bind(deviceId, user.accountId, toB64u(keys.publicKey), name, Date.now())
		.run();
	await runInDurableObject(env.USERS.get(env.USERS.idFromName(user.accountId)), (relay) => relay.reloadDevices(user.accountId));
	const session = await signIn(keys);
	return { ...user, deviceId, keys, token: session.json.token };
}

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
	const key = generateContactKey();
	const mine = (await api("/api/devices", { token: bob.token })).json.devices;
	const theirs = (await api(`/api/contacts/${alice.accountId}/devices`, { token: bob.token })).json.devices;
	const wrap = (accountId: string, d: { deviceId: string; publicKey: string }) => ({
		accountId,
		deviceId: d.deviceId,
		...wrapContactKey({
			accounts: [alice.accountId, bob.accountId],
			version: 1,
			key,
			senderSeed: bob.keys.seed,
			targetPublicKey: fromB64u(d.publicKey),
		}),
	});
	const envelopes = [...mine.map((d: any) => wrap(bob.accountId, d)), ...theirs.map((d: any) => wrap(alice.accountId, d))];
	const accepted = await api(`/api/contacts/${alice.accountId}/accept`, { token: bob.token, body: { keyVersion: 1, envelopes } });
	if (accepted.status !== 200) throw new Error(JSON.stringify(accepted.json));
	return { alice, bob, key, aliceDevices, bobDevices };
}

export const newMessageId = (): string => toB64u(randomBytes(16));

/** A `send` frame carrying `text` sealed under the contact key, with a matching sealed header. */
export function sealedSend(from: TestUser, to: TestUser, key: Uint8Array, text: string, id = newMessageId(), keyVersion = 1) {
	const header = { id, from: from.accountId, fromDevice: from.deviceId, to: to.accountId, keyVersion, kind: "text", sentAt: Date.now() };
	const { nonce, box } = sealMessage(key, header, { text });
	return { type: "send", id, to: to.accountId, kind: "text", keyVersion, nonce, box } as const;
}
