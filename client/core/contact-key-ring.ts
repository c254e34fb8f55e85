import { CryptoError } from "../../common/crypto-error.ts";
import { equalBytes, fromB64u } from "../../common/encoding.ts";
import type { ListedDevice } from "../../common/protocol/device-list.ts";
import type { Contact, EnvelopeUpload, OwnEnvelopeUpload } from "../../common/protocol/wire.ts";
import type { ApiClient } from "./api-client.ts";
import { generateContactKey, type ListVersions, unwrapContactKey, wrapContactKeyTo } from "./contact-key.ts";
import { DeviceSender } from "./device-box.ts";
import type { DeviceIdentity, KeyStore, StoredContactKey } from "./key-store.ts";
import { lists, rotationDue } from "./list-trust.ts";
import { SdkError } from "./sdk-error.ts";
import type { SessionKeeper } from "./session-keeper.ts";
import type { TrustBook } from "./trust-book.ts";

export interface KeyRingDeps {
	store: KeyStore;
	api: ApiClient;
	session: SessionKeeper;
	trust: TrustBook;
	identity: () => Promise<DeviceIdentity>;
	/** Told about envelopes that were refused; the others are still used. */
	report: (error: SdkError) => void;
	/** A key was added to the store (the key backup is written again). */
	stored?: () => void;
}

/** Contact keys (one symmetric key per contact pair, never seen by the relay): made and wrapped on accept, fetched and unwrapped on demand, kept in the KeyStore. */
export class ContactKeyRing {
	private readonly loading = new Map<string, Promise<number[]>>();
	// Versions already looked for on the relay in this session and not found, so a stream of
	// messages under an unknown version costs one request, not one each.
	private readonly missing = new Set<string>();
	// This device's X25519 secret, converted once for the session instead of once per envelope.
	private sender: DeviceSender | null = null;

	constructor(private readonly deps: KeyRingDeps) {}

	/** The session is over: the converted secret is wiped (the next wrap converts it again). */
	close(): void {
		this.sender?.wipe();
		this.sender = null;
	}

	private senderFor(me: DeviceIdentity): DeviceSender {
		if (!this.sender?.isFor(me.publicKey)) {
			this.sender?.wipe();
			this.sender = new DeviceSender(me);
		}
		return this.sender;
	}

	/** The key of one version, asking the relay at most once per session when it is not stored. */
	async get(peerId: string, version: number): Promise<Uint8Array | undefined> {
		const stored = await this.deps.store.getContactKey(peerId, version);
		const slot = `${peerId}/${version}`;
		if (stored || this.missing.has(slot)) return stored;
		await this.load(peerId);
		const loaded = await this.deps.store.getContactKey(peerId, version);
		if (!loaded) this.missing.add(slot);
		return loaded;
	}

	/** The newest key for this peer, fetching the keys first if none is stored. */
	async latest(peerId: string): Promise<{ version: number; key: Uint8Array } | undefined> {
		const { store } = this.deps;
		let version = await store.latestVersion(peerId);
		if (version === undefined) {
			await this.load(peerId);
			version = await store.latestVersion(peerId);
		}
		if (version === undefined) return undefined;
		const key = await store.getContactKey(peerId, version);
		return key && { version, key };
	}

	/** Something changed for this contact (accepted, key rotated): look on the relay again next time. */
	forget(peerId: string): void {
		for (const slot of this.missing) if (slot.startsWith(`${peerId}/`)) this.missing.delete(slot);
	}

	/** Fetch, check, unwrap and store this device's envelopes for a contact; the versions now held. */
	load(peerId: string): Promise<number[]> {
		let pending = this.loading.get(peerId);
		if (!pending) {
			pending = this.fetchAndStore(peerId).finally(() => this.loading.delete(peerId));
			this.loading.set(peerId, pending);
		}
		return pending;
	}

	/**
	 * Accept a contact request: a fresh key (version 1) wrapped for every approved device of
	 * both accounts, uploaded, then kept. A device list that changes in between makes the relay
	 * answer `conflict`; that is retried once with the new lists.
	 */
	async accept(peerId: string): Promise<Contact> {
		try {
			return await this.acceptOnce(peerId);
		} catch (err) {
			if (!(err instanceof SdkError) || err.code !== "conflict") throw err;
			return this.acceptOnce(peerId);
		}
	}

	private async acceptOnce(peerId: string): Promise<Contact> {
		const { api, session, store } = this.deps;
		const { key, envelopes, lists } = await this.freshKeyFor(peerId, 1);
		const contact = await session.withToken((t) => api.acceptContact(t, peerId, { keyVersion: 1, envelopes }));
		await store.putContactKey(peerId, 1, key, lists);
		this.deps.stored?.();
		this.forget(peerId);
		return contact;
	}

	/**
	 * Whether the newest key this device holds for a contact must be replaced: a verified list
	 * of either account removed a device after the key was shared (rotationDue). The relay's
	 * say-so is never enough.
	 */
	async rotationJustified(peerId: string): Promise<boolean> {
		const { store, trust } = this.deps;
		const latest = await store.latestVersion(peerId);
		if (latest === undefined) return false;
		const keyLists = await store.getKeyLists(peerId, latest);
		if (!keyLists) return false;
		const [mine, theirs] = await Promise.all([trust.own(), trust.peer(peerId)]);
		return rotationDue(keyLists, [mine.list, theirs.list]);
	}

	/**
	 * Replace the contact key after a device of either account was removed from its signed
	 * list, so the removed device cannot read what is sent from now on: the next version,
	 * wrapped for the devices of both verified lists. If another device rotated first, the
	 * relay answers `conflict` and its key is fetched instead.
	 */
	async rotate(peerId: string, toVersion: number): Promise<void> {
		const { api, session, store } = this.deps;
		if ((await store.getContactKey(peerId, toVersion)) !== undefined) return;
		const { key, envelopes, lists } = await this.freshKeyFor(peerId, toVersion);
		try {
			await session.withToken((t) => api.rotateContactKey(t, peerId, { keyVersion: toVersion, envelopes }));
			await store.putContactKey(peerId, toVersion, key, lists);
			this.deps.stored?.();
		} catch (err) {
			if (!(err instanceof SdkError) || err.code !== "conflict") throw err;
		}
		this.forget(peerId);
		await this.load(peerId);
	}

	/**
	 * Every contact key this device holds for these contacts, wrapped for a new device of
	 * this account (device approval): it reads old and new messages at once. Each version
	 * keeps the device lists it was first shared under, so every device judges a later
	 * rotation the same way. Every envelope goes from this device to that one, so they share
	 * one X25519 (a DeviceChannel): a secretbox each, not a crypto_box each.
	 */
	async wrapAllFor(peerIds: string[], target: ListedDevice): Promise<OwnEnvelopeUpload[]> {
		const me = await this.deps.identity();
		const held = await this.heldKeys(peerIds);
		const channel = this.senderFor(me).channelTo(fromB64u(target.publicKey));
		const out: OwnEnvelopeUpload[] = [];
		try {
			for (const peerId of peerIds) {
				for (const { version, key, lists } of held.get(peerId) ?? []) {
					const wrapped = wrapContactKeyTo(channel, { accounts: [me.accountId, peerId], version, lists, key });
					out.push({ peerId, keyVersion: version, ...wrapped });
				}
			}
		} finally {
			channel.wipe();
		}
		return out;
	}

	/**
	 * The stored keys of these contacts, each contact's by version, fetching those of a contact
	 * with none stored first. One read of the whole store, not four per contact: in IndexedDB
	 * each read is a transaction of ~0.5 ms, which for 1,000 contacts was most of an approval.
	 */
	private async heldKeys(peerIds: string[]): Promise<Map<string, StoredContactKey[]>> {
		const wanted = new Set(peerIds);
		const group = (keys: StoredContactKey[]) => {
			const byPeer = new Map<string, StoredContactKey[]>();
			for (const k of keys) {
				if (!wanted.has(k.peerId) || !Number.isSafeInteger(k.version) || k.version < 1) continue;
				const list = byPeer.get(k.peerId);
				if (list) list.push(k);
				else byPeer.set(k.peerId, [k]);
			}
			for (const list of byPeer.values()) list.sort((a, b) => a.version - b.version);
			return byPeer;
		};
		const held = group(await this.deps.store.listContactKeys());
		const missing = peerIds.filter((p) => !held.has(p));
		if (missing.length === 0) return held;
		for (const peerId of missing) await this.load(peerId);
		return group(await this.deps.store.listContactKeys());
	}

	/** A new random key and its envelopes for every device of both verified lists. */
	private async freshKeyFor(
		peerId: string,
		version: number,
	): Promise<{ key: Uint8Array; envelopes: EnvelopeUpload[]; lists: ListVersions }> {
		const me = await this.deps.identity();
		const { mine, theirs } = await this.deps.trust.forWrapping(peerId);
		const lists: ListVersions = { [me.accountId]: mine.list.version, [peerId]: theirs.list.version };
		const key = generateContactKey();
		const sender = this.senderFor(me);
		// One envelope per device: each its own X25519, but the secret is converted once.
		const wrap = (accountId: string, device: ListedDevice): EnvelopeUpload => {
			const channel = sender.channelTo(fromB64u(device.publicKey));
			try {
				return {
					accountId,
					deviceId: device.deviceId,
					...wrapContactKeyTo(channel, { accounts: [me.accountId, peerId], version, lists, key }),
				};
			} finally {
				channel.wipe();
			}
		};
		return {
			key,
			lists,
			envelopes: [...mine.list.devices.map((d) => wrap(me.accountId, d)), ...theirs.list.devices.map((d) => wrap(peerId, d))],
		};
	}

	private async fetchAndStore(peerId: string): Promise<number[]> {
		const { api, session, store } = this.deps;
		const me = await this.deps.identity();
		const envelopes = await session.withToken((t) => api.contactKeys(t, peerId));
		if (envelopes.length === 0) return [];
		// An envelope counts only if a device in the verified list of one of the two accounts
		// wrapped it: the relay hands out `fromPublicKey`, and could otherwise plant a key of its own.
		const [mine, theirs] = await Promise.all([this.deps.trust.own(), this.deps.trust.peer(peerId)]);
		const wrappers = new Map([
			[me.accountId, mine.list],
			[peerId, theirs.list],
		]);
		const held: number[] = [];
		const refused: string[] = [];
		for (const e of envelopes) {
			const list = wrappers.get(e.fromAccount);
			if (!list || !lists(list, e.fromDevice, e.fromPublicKey)) {
				refused.push(`version ${e.keyVersion} was wrapped by a device that is not in either account's signed device list`);
				continue;
			}
			let opened: { key: Uint8Array; lists: ListVersions };
			try {
				opened = unwrapContactKey({
					nonce: e.nonce,
					box: e.box,
					senderPublicKey: fromB64u(e.fromPublicKey),
					mySeed: me.seed,
					accounts: [me.accountId, peerId],
					version: e.keyVersion,
				});
			} catch (err) {
				if (!(err instanceof CryptoError)) throw err;
				refused.push(`version ${e.keyVersion} does not open (${err.code})`);
				continue;
			}
			// First key wins: a relay that later serves another key for a version already in use
			// must not be able to swap it.
			const existing = await store.getContactKey(peerId, e.keyVersion);
			if (existing && !equalBytes(existing, opened.key)) {
				refused.push(`version ${e.keyVersion} differs from the key this device already holds`);
				continue;
			}
			if (!existing) {
				await store.putContactKey(peerId, e.keyVersion, opened.key, opened.lists);
				this.deps.stored?.();
			}
			held.push(e.keyVersion);
		}
		if (refused.length > 0) {
			this.deps.report(new SdkError("undecryptable", `Refused contact key envelopes from ${peerId}: ${refused.join("; ")}.`));
		}
		return held;
	}
}
