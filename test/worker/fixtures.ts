import { generateContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { fromB64u, toB64u } from "../../client/core/encoding.ts";
import { randomBytes } from "../../client/core/nacl.ts";
import { sealMessage } from "../../client/core/message-seal.ts";
import { api, registerUser, type TestUser } from "./helpers.ts";

/** Two accounts that are accepted contacts sharing one contact key (version 1). */
export async function contactPair(): Promise<{ alice: TestUser; bob: TestUser; key: Uint8Array }> {
	const alice = await registerUser("alice");
	const bob = await registerUser("bob");
	await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
	const key = generateContactKey();
	const mine = (await api("/api/devices", { token: bob.token })).json.devices;
	const theirs = (await api(`/api/contacts/${alice.accountId}/devices`, { token: bob.token })).json.devices;
	const wrap = (accountId: string, d: { deviceId: string; publicKey: string }) => ({
		accountId,
		deviceId: d.deviceId,
		...wrapContactKey({ accounts: [alice.accountId, bob.accountId], version: 1, key, senderSeed: bob.keys.seed, targetPublicKey: fromB64u(d.publicKey) }),
	});
	const envelopes = [...mine.map((d: any) => wrap(bob.accountId, d)), ...theirs.map((d: any) => wrap(alice.accountId, d))];
	const accepted = await api(`/api/contacts/${alice.accountId}/accept`, { token: bob.token, body: { keyVersion: 1, envelopes } });
	if (accepted.status !== 200) throw new Error(JSON.stringify(accepted.json));
	return { alice, bob, key };
}

export const newMessageId = (): string => toB64u(randomBytes(16));

/** A `send` frame carrying `text` sealed under the contact key, with a matching sealed header. */
export function sealedSend(from: TestUser, to: TestUser, key: Uint8Array, text: string, id = newMessageId()) {
	const header = { id, from: from.accountId, fromDevice: from.deviceId, to: to.accountId, keyVersion: 1, kind: "text", sentAt: Date.now() };
	const { nonce, box } = sealMessage(key, header, { text });
	return { type: "send", id, to: to.accountId, kind: "text", keyVersion: 1, nonce, box } as const;
}
