/**
 * The page side of the approval benchmark (approval-bench.ts bundles it for Chromium): the
 * crypto of approving a device for an account with many contacts, before and after the
 * shared-key change, in one page, one after the other.
 *
 * - before: every envelope a whole crypto_box from the two Ed25519 keys, as sealForDevice did
 *   until then (sender secret and target public key converted, X25519, HSalsa20, secretbox);
 * - after: what ContactKeyRing.wrapAllFor now does: one DeviceChannel (one conversion, one
 *   X25519 + HSalsa20), then a secretbox per envelope;
 * - wrapAllFor: ContactKeyRing.wrapAllFor itself, the function approveDevice calls, over a
 *   store in memory and over the web app's IndexedDB store (its reads included);
 * - before, IndexedDB: wrapAllFor as it was, over the same IndexedDB store: four reads per
 *   contact (latestVersion twice, the key, its lists) and a whole crypto_box per envelope.
 *
 * Both crypto loops build the same envelope plaintext with wrapContactKeyTo. No network.
 */
import { type ContactKeyContent, unwrapContactKey, wrapContactKeyTo } from "../../client/core/contact-key.ts";
import { DeviceSender, type SealedBox } from "../../client/core/device-box.ts";
import type { KeyStore } from "../../client/core/key-store.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import {
	boxPublicKeyFromEd25519,
	boxSecretKeyFromSeed,
	cryptoBox,
	type DeviceKeys,
	generateDeviceKeys,
	NONCE_BYTES,
	randomBytes,
} from "../../common/nacl.ts";
import { offlineIdentity, offlineKeyRing, storeContactKeys } from "../support/offline-key-ring.ts";

export interface ApprovalRound {
	beforeMs: number;
	beforeIndexedDbMs: number;
	afterMs: number;
	wrapAllForMs: number;
	wrapAllForIndexedDbMs: number;
}

export interface ApprovalPageResult {
	contacts: number;
	/** Envelopes per approval (one per contact: each holds one key version). */
	envelopes: number;
	rounds: ApprovalRound[];
	/** Envelopes of the last round opened by the new device (unwrapContactKey): all of a sample. */
	checked: number;
}

/** The crypto_box per envelope of before the change: sealForDevice as it was, nothing kept between envelopes. */
function sealFromScratch(plaintext: Uint8Array, senderSeed: Uint8Array, targetPublicKey: Uint8Array): SealedBox {
	const nonce = randomBytes(NONCE_BYTES);
	const secret = boxSecretKeyFromSeed(senderSeed);
	try {
		return { nonce: toB64u(nonce), box: toB64u(cryptoBox(plaintext, nonce, boxPublicKeyFromEd25519(targetPublicKey), secret)) };
	} finally {
		secret.fill(0);
	}
}

function wrapBefore(contents: ContactKeyContent[], seed: Uint8Array, target: string): SealedBox[] {
	return contents.map((c) => wrapContactKeyTo({ seal: (plaintext) => sealFromScratch(plaintext, seed, fromB64u(target)) }, c));
}

function wrapAfter(contents: ContactKeyContent[], sender: DeviceSender, target: string): SealedBox[] {
	const channel = sender.channelTo(fromB64u(target));
	try {
		return contents.map((c) => wrapContactKeyTo(channel, c));
	} finally {
		channel.wipe();
	}
}

/** ContactKeyRing.wrapAllFor before the change (its loop as it was; every contact's keys are stored). */
async function wrapAllForBefore(store: KeyStore, me: { accountId: string; seed: Uint8Array }, peerIds: string[], target: string) {
	const out: Array<SealedBox & { peerId: string; keyVersion: number }> = [];
	for (const peerId of peerIds) {
		if ((await store.latestVersion(peerId)) === undefined) throw new Error("approval bench: a contact without keys");
		const latest = (await store.latestVersion(peerId)) ?? 0;
		for (let version = 1; version <= latest; version++) {
			const key = await store.getContactKey(peerId, version);
			const lists = await store.getKeyLists(peerId, version);
			if (!key || !lists) continue;
			const wrapped = wrapContactKeyTo(
				{ seal: (plaintext) => sealFromScratch(plaintext, me.seed, fromB64u(target)) },
				{ accounts: [me.accountId, peerId], version, lists, key },
			);
			out.push({ peerId, keyVersion: version, ...wrapped });
		}
	}
	return out;
}

async function timed<T>(work: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
	const start = performance.now();
	const value = await work();
	return { ms: performance.now() - start, value };
}

/**
 * `rounds` approvals of a fresh device each (its public key never converted before, as in a
 * real approval), after a warm-up of the same code on a few contacts. `browserStore` opens
 * the web app's IndexedDB store (passed in, so this file needs no DOM types).
 */
export async function runApprovalRounds(
	opts: { contacts: number; rounds: number },
	browserStore: (name: string) => KeyStore,
): Promise<ApprovalPageResult> {
	const me = offlineIdentity();
	const memory = new MemoryKeyStore();
	const peers = await storeContactKeys(memory, me, opts.contacts);
	const indexedDb = browserStore(`approval-bench-${toB64u(randomBytes(8))}`);
	const stored = await memory.listContactKeys();
	for (const k of stored) await indexedDb.putContactKey(k.peerId, k.version, k.key, k.lists);
	const contents: ContactKeyContent[] = stored.map((k) => ({
		accounts: [me.accountId, k.peerId],
		version: k.version,
		lists: k.lists,
		key: k.key,
	}));
	const memoryRing = offlineKeyRing(memory, me);
	const indexedDbRing = offlineKeyRing(indexedDb, me);
	const sender = new DeviceSender(me);
	const device = (keys: DeviceKeys) => ({ deviceId: toB64u(randomBytes(16)), publicKey: toB64u(keys.publicKey) });

	// Warm-up: the JIT sees every path before anything is timed.
	const warm = generateDeviceKeys();
	wrapBefore(contents.slice(0, 50), me.seed, toB64u(warm.publicKey));
	wrapAfter(contents.slice(0, 50), sender, toB64u(warm.publicKey));
	await memoryRing.wrapAllFor(peers.slice(0, 50), device(warm));
	await indexedDbRing.wrapAllFor(peers.slice(0, 50), device(warm));
	await wrapAllForBefore(indexedDb, me, peers.slice(0, 50), toB64u(warm.publicKey));

	const rounds: ApprovalRound[] = [];
	let last: { keys: DeviceKeys; envelopes: SealedBox[] } | null = null;
	for (let r = 0; r < opts.rounds; r++) {
		const targets = [generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys()] as const;
		const before = await timed(() => wrapBefore(contents, me.seed, toB64u(targets[0].publicKey)));
		const after = await timed(() => wrapAfter(contents, sender, toB64u(targets[1].publicKey)));
		const all = await timed(() => memoryRing.wrapAllFor(peers, device(targets[2])));
		const allIndexedDb = await timed(() => indexedDbRing.wrapAllFor(peers, device(targets[3])));
		const beforeIndexedDb = await timed(() => wrapAllForBefore(indexedDb, me, peers, toB64u(targets[4].publicKey)));
		rounds.push({
			beforeMs: before.ms,
			beforeIndexedDbMs: beforeIndexedDb.ms,
			afterMs: after.ms,
			wrapAllForMs: all.ms,
			wrapAllForIndexedDbMs: allIndexedDb.ms,
		});
		for (const made of [before.value, after.value, all.value, allIndexedDb.value, beforeIndexedDb.value]) {
			if (made.length !== contents.length) throw new Error(`approval bench: ${made.length} envelopes for ${contents.length} keys`);
		}
		last = { keys: targets[1], envelopes: after.value };
	}

	// The fast envelopes are real ones: the new device opens a sample of them.
	let checked = 0;
	if (last) {
		const made = last.envelopes;
		for (let i = 0; i < made.length; i += Math.max(1, Math.floor(made.length / 50))) {
			const c = contents[i] as ContactKeyContent;
			const opened = unwrapContactKey({
				...(made[i] as SealedBox),
				senderPublicKey: me.publicKey,
				mySeed: last.keys.seed,
				accounts: c.accounts,
				version: c.version,
			});
			if (toB64u(opened.key) !== toB64u(c.key)) throw new Error("approval bench: an envelope opened to another key");
			checked++;
		}
	}
	memoryRing.close();
	indexedDbRing.close();
	sender.wipe();
	return { contacts: opts.contacts, envelopes: contents.length, rounds, checked };
}
