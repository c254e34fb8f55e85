/**
 * The SDK's ContactKeyRing with its real collaborators but no relay, over a store that already
 * holds the contact keys: what device approval runs to wrap every key for a new device
 * (ContactKeyRing.wrapAllFor), for tests and the approval benchmark. Nothing here imports
 * vitest or Node, so the benchmark can bundle it for Chromium.
 */
import { ApiClient } from "../../client/core/api-client.ts";
import { ContactKeyRing } from "../../client/core/contact-key-ring.ts";
import type { DeviceIdentity, KeyStore } from "../../client/core/key-store.ts";
import { SessionKeeper } from "../../client/core/session-keeper.ts";
import { TrustBook } from "../../client/core/trust-book.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, KEY_BYTES, randomBytes } from "../../common/nacl.ts";

/** A relay that is never there: wrapping keys the store holds asks it nothing, and anything that did would fail. */
const noRelay: typeof fetch = async () => {
	throw new TypeError("offline key ring: there is no relay");
};

export function offlineKeyRing(store: KeyStore, identity: DeviceIdentity): ContactKeyRing {
	const api = new ApiClient("http://relay.invalid", noRelay);
	const session = new SessionKeeper(api, store);
	const errors: unknown[] = [];
	const report = (error: unknown) => errors.push(error);
	const trust = new TrustBook({
		store,
		api,
		session,
		identity: async () => identity,
		report,
		adoptOwnReset: async () => false,
		identityChanged: report,
	});
	return new ContactKeyRing({ store, api, session, trust, identity: async () => identity, report });
}

/** A device of a new account (no relay account behind it: nothing here signs in). */
export function offlineIdentity(): DeviceIdentity {
	return { ...generateDeviceKeys(), accountId: toB64u(randomBytes(16)), deviceId: toB64u(randomBytes(16)), handle: "approver" };
}

/**
 * `contacts` accepted contacts in `store`, each with `versions` random contact keys, as
 * device approval finds them; returns their account ids.
 */
export async function storeContactKeys(store: KeyStore, me: DeviceIdentity, contacts: number, versions = 1): Promise<string[]> {
	const peers: string[] = [];
	for (let i = 0; i < contacts; i++) {
		const peerId = toB64u(randomBytes(16));
		for (let version = 1; version <= versions; version++) {
			await store.putContactKey(peerId, version, randomBytes(KEY_BYTES), { [me.accountId]: version, [peerId]: 1 });
		}
		peers.push(peerId);
	}
	return peers;
}
