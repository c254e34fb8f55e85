import { CryptoError } from "../../common/crypto-error.ts";
import { equalBytes, fromB64u } from "../../common/encoding.ts";
import type { Contact, DeviceInfo, EnvelopeUpload, OwnEnvelopeUpload } from "../../common/protocol/wire.ts";
import type { ApiClient } from "./api-client.ts";
import { generateContactKey, unwrapContactKey, wrapContactKey } from "./contact-key.ts";
import type { DeviceIdentity, KeyStore } from "./key-store.ts";
import { SdkError } from "./sdk-error.ts";
import type { SessionKeeper } from "./session-keeper.ts";

export interface KeyRingDeps {
	store: KeyStore;
	api: ApiClient;
	session: SessionKeeper;
	identity: () => Promise<DeviceIdentity>;
	/** Told about envelopes that were refused; the others are still used. */
	report: (error: SdkError) => void;
}

const approved = (devices: DeviceInfo[]): DeviceInfo[] => devices.filter((d) => d.status === "approved");

/** Contact keys (one symmetric key per contact pair, never seen by the relay): made and wrapped on accept, fetched and unwrapped on demand, kept in the KeyStore. */
export class ContactKeyRing {
	private readonly loading = new Map<string, Promise<number[]>>();
	// Versions already looked for on the relay in this session and not found, so a stream of
	// messages under an unknown version costs one request, not one each.
	private readonly missing = new Set<string>();

	constructor(private readonly deps: KeyRingDeps) {}

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
		const { key, envelopes } = await this.freshKeyFor(peerId, 1);
		const contact = await session.withToken((t) => api.acceptContact(t, peerId, { keyVersion: 1, envelopes }));
		await store.putContactKey(peerId, 1, key);
		this.forget(peerId);
		return contact;
	}

	/**
	 * Replace the contact key after a device of either account was revoked, so the revoked
	 * device cannot read what is sent from now on: the next version, wrapped for the
	 * remaining approved devices of both. If another device of this account rotated first,
	 * the relay answers `conflict` and its key is fetched instead.
	 */
	async rotate(peerId: string, toVersion: number): Promise<void> {
		const { api, session, store } = this.deps;
		if ((await store.getContactKey(peerId, toVersion)) !== undefined) return;
		const { key, envelopes } = await this.freshKeyFor(peerId, toVersion);
		try {
			await session.withToken((t) => api.rotateContactKey(t, peerId, { keyVersion: toVersion, envelopes }));
			await store.putContactKey(peerId, toVersion, key);
		} catch (err) {
			if (!(err instanceof SdkError) || err.code !== "conflict") throw err;
		}
		this.forget(peerId);
		await this.load(peerId);
	}

	/**
	 * Every contact key this device holds for these contacts, wrapped for a new device of
	 * this account (device approval): it reads old and new messages at once.
	 */
	async wrapAllFor(peerIds: string[], target: DeviceInfo): Promise<OwnEnvelopeUpload[]> {
		const { store } = this.deps;
		const me = await this.deps.identity();
		const out: OwnEnvelopeUpload[] = [];
		for (const peerId of peerIds) {
			if ((await store.latestVersion(peerId)) === undefined) await this.load(peerId);
			const latest = (await store.latestVersion(peerId)) ?? 0;
			for (let version = 1; version <= latest; version++) {
				const key = await store.getContactKey(peerId, version);
				if (!key) continue;
				const wrapped = wrapContactKey({
					accounts: [me.accountId, peerId],
					version,
					key,
					senderSeed: me.seed,
					targetPublicKey: fromB64u(target.publicKey),
				});
				out.push({ peerId, keyVersion: version, ...wrapped });
			}
		}
		return out;
	}

	/** A new random key and its envelopes for every approved device of both accounts. */
	private async freshKeyFor(peerId: string, version: number): Promise<{ key: Uint8Array; envelopes: EnvelopeUpload[] }> {
		const me = await this.deps.identity();
		const [mine, theirs] = await this.deviceLists(peerId);
		if (!mine.some((d) => d.deviceId === me.deviceId)) {
			throw new SdkError("device_pending", "This device is not an approved device of its account.");
		}
		const key = generateContactKey();
		const wrap = (accountId: string, device: DeviceInfo): EnvelopeUpload => ({
			accountId,
			deviceId: device.deviceId,
			...wrapContactKey({
				accounts: [me.accountId, peerId],
				version,
				key,
				senderSeed: me.seed,
				targetPublicKey: fromB64u(device.publicKey),
			}),
		});
		return { key, envelopes: [...mine.map((d) => wrap(me.accountId, d)), ...theirs.map((d) => wrap(peerId, d))] };
	}

	private async deviceLists(peerId: string): Promise<[DeviceInfo[], DeviceInfo[]]> {
		const { api, session } = this.deps;
		const [mine, theirs] = await Promise.all([
			session.withToken((t) => api.devices(t)),
			session.withToken((t) => api.contactDevices(t, peerId)),
		]);
		return [approved(mine), approved(theirs)];
	}

	private async fetchAndStore(peerId: string): Promise<number[]> {
		const { api, session, store } = this.deps;
		const me = await this.deps.identity();
		const envelopes = await session.withToken((t) => api.contactKeys(t, peerId));
		if (envelopes.length === 0) return [];
		// An envelope counts only if an approved device of one of the two accounts wrapped it:
		// the relay hands out `fromPublicKey`, and could otherwise plant a key of its own. The
		// device lists are what the safety number covers, so comparing it closes the loop.
		const [mine, theirs] = await this.deviceLists(peerId);
		const wrappers = new Map([
			[me.accountId, new Set(mine.map((d) => d.publicKey))],
			[peerId, new Set(theirs.map((d) => d.publicKey))],
		]);
		const held: number[] = [];
		const refused: string[] = [];
		for (const e of envelopes) {
			if (!wrappers.get(e.fromAccount)?.has(e.fromPublicKey)) {
				refused.push(`version ${e.keyVersion} was wrapped by a device that is not an approved device of either account`);
				continue;
			}
			let key: Uint8Array;
			try {
				key = unwrapContactKey({
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
			if (existing && !equalBytes(existing, key)) {
				refused.push(`version ${e.keyVersion} differs from the key this device already holds`);
				continue;
			}
			if (!existing) await store.putContactKey(peerId, e.keyVersion, key);
			held.push(e.keyVersion);
		}
		if (refused.length > 0) {
			this.deps.report(new SdkError("undecryptable", `Refused contact key envelopes from ${peerId}: ${refused.join("; ")}.`));
		}
		return held;
	}
}
