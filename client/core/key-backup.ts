import { CryptoError } from "../../common/crypto-error.ts";
import { equalBytes, fromB64u, toB64u } from "../../common/encoding.ts";
import { deviceKeysFromSeed, generateDeviceKeys, signDetached, verifyDetached } from "../../common/nacl.ts";
import { hasValidSignature, signDeviceList } from "../../common/protocol/device-list.ts";
import { recoverMessage, recoveryKeyMessage } from "../../common/protocol/signing.ts";
import { handle as handleSchema, registerRequest } from "../../common/protocol/wire.ts";
import { type ApiClient, parseInput } from "./api-client.ts";
import { type DeviceIdentity, type IdentityHolder, type KeyStore, requireIdentityKey } from "./key-store.ts";
import type { AccountInfo } from "./messenger-types.ts";
import { type BackupContents, newRecoveryWords, openBackup, parseRecoveryWords, recoveryKeyPair, sealBackup } from "./recovery-key.ts";
import { SdkError } from "./sdk-error.ts";
import type { SessionKeeper } from "./session-keeper.ts";
import type { TrustBook } from "./trust-book.ts";

export interface KeyBackupDeps {
	store: KeyStore;
	api: ApiClient;
	session: SessionKeeper;
	trust: TrustBook;
	identity: () => Promise<DeviceIdentity>;
	/** null: forget this device's identity (a restore that failed half-way). */
	setIdentity: (identity: DeviceIdentity | null) => Promise<void>;
	report: (error: SdkError) => void;
	identityChanged: (change: { peerId: string; wasVerified: boolean }) => void;
	/** How long key changes settle before the backup is written again. */
	delayMs?: number;
}

/**
 * The account's sealed key backup: made when the person sets up a recovery key, rewritten by
 * every approved device when its keys change, and opened by a new browser that has nothing
 * but the recovery key. The relay only ever holds the recovery public key and ciphertext.
 */
export class KeyBackup {
	private timer: ReturnType<typeof setTimeout> | null = null;
	private writing: Promise<unknown> = Promise.resolve();

	constructor(private readonly deps: KeyBackupDeps) {}

	/** Make a recovery key, register its public key (signed by the identity key) and write the first backup. The words are for the person only. */
	async setUp(): Promise<string> {
		const me = await this.accountIdentity();
		const words = newRecoveryWords();
		const recovery = recoveryKeyPair(parseRecoveryWords(words));
		const recoveryKey = toB64u(recovery.publicKey);
		const signature = toB64u(signDetached(me.account.seed, recoveryKeyMessage(me.accountId, recoveryKey)));
		await this.deps.session.withToken((t) => this.deps.api.putRecoveryKey(t, { recoveryKey, signature }));
		await this.serial(() => this.writeTo(recovery.publicKey));
		return words;
	}

	/** Whether this account has a recovery key the identity key signed. */
	async isSetUp(): Promise<boolean> {
		return (await this.verifiedRecoveryKey()) !== null;
	}

	/**
	 * Whether `words` are this account's recovery key, as registered (a person checking what
	 * they wrote down, on any approved device). Words that are not a recovery key at all are
	 * `bad_request`; a well-formed key of another account or an old one is false.
	 */
	async matches(words: string): Promise<boolean> {
		const entropy = recoveryEntropy(words);
		const registered = await this.verifiedRecoveryKey();
		const pair = recoveryKeyPair(entropy);
		entropy.fill(0);
		pair.seed.fill(0);
		return registered !== null && equalBytes(registered, pair.publicKey);
	}

	/** The registered recovery public key, checked against the identity key; null if none. */
	registeredKey(): Promise<Uint8Array | null> {
		return this.verifiedRecoveryKey();
	}

	/**
	 * After an identity reset: sign the same recovery key with the new identity key and write
	 * the backup again, so the recovery key keeps working and restores the new identity.
	 */
	async carryOver(recoveryKey: Uint8Array): Promise<void> {
		const me = await this.accountIdentity();
		const encoded = toB64u(recoveryKey);
		const signature = toB64u(signDetached(me.account.seed, recoveryKeyMessage(me.accountId, encoded)));
		await this.deps.session.withToken((t) => this.deps.api.putRecoveryKey(t, { recoveryKey: encoded, signature }));
		await this.serial(() => this.writeTo(recoveryKey));
	}

	/** Keys changed: write the backup again once they settle (if the account has a recovery key). */
	soon(): void {
		if (this.timer !== null) return;
		this.timer = setTimeout(() => {
			this.timer = null;
			this.serial(() => this.refresh()).catch((err: unknown) => {
				if (err instanceof SdkError) this.deps.report(err);
			});
		}, this.deps.delayMs ?? 2_000);
	}

	/** Write the backup now, if a recovery key is set up; false if there is none. */
	backUpNow(): Promise<boolean> {
		return this.serial(() => this.refresh());
	}

	stop(): void {
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = null;
	}

	/**
	 * Restore the account on this new device with the recovery key alone: prove the key to the
	 * relay, open the backup, and join as a device certified by the identity key from it.
	 * Contacts see a new device, not a new identity; the contacts' identity keys pinned in the
	 * backup are checked against what the relay serves now.
	 */
	async restore(handle: string, words: string, deviceName: string): Promise<AccountInfo> {
		const { store, api } = this.deps;
		if (await store.getIdentity()) throw new SdkError("conflict", "This store already holds a device identity.");
		const entropy = recoveryEntropy(words);
		const folded = parseInput(handleSchema, handle, "handle");
		const name = parseInput(registerRequest.shape.deviceName, deviceName, "deviceName");
		const recovery = recoveryKeyPair(entropy);
		const device = generateDeviceKeys();
		const publicKey = toB64u(device.publicKey);
		const { challenge } = await api.challenge();
		const signed = recoverMessage(challenge, folded, publicKey, name);
		const restored = await api.recover({
			handle: folded,
			challenge,
			recoveryKey: toB64u(recovery.publicKey),
			signature: toB64u(signDetached(recovery.seed, signed)),
			deviceName: name,
			publicKey,
			deviceSignature: toB64u(signDetached(device.seed, signed)),
		});
		let contents: BackupContents;
		try {
			contents = openBackup(recovery, restored.accountId, restored.backup);
		} catch (err) {
			if (err instanceof CryptoError) throw untrusted(`the backup does not open with this recovery key (${err.code})`);
			throw err;
		}
		const account = deviceKeysFromSeed(fromB64u(contents.identity.seed));
		if (toB64u(account.publicKey) !== contents.identity.publicKey) throw untrusted("the backup's identity key is not whole");
		const identity = { ...device, accountId: restored.accountId, deviceId: restored.deviceId, handle: folded, account };
		await this.deps.setIdentity(identity);
		try {
			await this.joinAsCertified(identity);
		} catch (err) {
			// Leave nothing half-made: the relay's waiting device goes, and this store is empty
			// again, so the person can simply try again (and no stale identity signs anything).
			await this.deps.session.withToken((t) => api.revokeDevice(t, restored.deviceId)).catch(() => undefined);
			await this.deps.setIdentity(null);
			throw err;
		}
		// Kept only once the device is certified, so a failed restore leaves no keys behind.
		for (const k of contents.contactKeys) await store.putContactKey(k.peerId, k.version, fromB64u(k.key), k.lists);
		await this.restorePins(contents.trust);
		return { accountId: restored.accountId, deviceId: restored.deviceId, handle: folded };
	}

	/** Sign the next device list with this device in it, with the identity key from the backup. */
	private async joinAsCertified(me: IdentityHolder): Promise<void> {
		const served = await this.deps.session.withToken((t) => this.deps.api.devices(t));
		const list = served.deviceList;
		const identityKey = toB64u(me.account.publicKey);
		if (!list || list.accountId !== me.accountId || list.identityKey !== identityKey || !hasValidSignature(list)) {
			throw untrusted("the relay's device list for this account is not signed by the identity key in the backup");
		}
		const deviceList = signDeviceList(
			{ ...list, version: list.version + 1, devices: [...list.devices, { deviceId: me.deviceId, publicKey: toB64u(me.publicKey) }] },
			me.account.seed,
		);
		await this.deps.session.withToken((t) => this.deps.api.completeRecovery(t, me.deviceId, { deviceList }));
		await this.deps.trust.own();
	}

	/** Contacts' identity keys as the backup pinned them: one the relay now serves differently shows as a change. */
	private async restorePins(pins: BackupContents["trust"]): Promise<void> {
		for (const pin of pins) {
			try {
				const { record } = await this.deps.trust.peer(pin.accountId);
				if (record.identityKey === pin.identityKey) {
					await this.deps.store.putTrust({ ...record, verified: pin.verified });
					continue;
				}
				await this.deps.store.putTrust({
					...record,
					verified: false,
					changed: { from: pin.identityKey, at: Date.now(), wasVerified: pin.verified },
				});
				this.deps.identityChanged({ peerId: pin.accountId, wasVerified: pin.verified });
			} catch (err) {
				if (err instanceof SdkError) this.deps.report(err);
				else throw err;
			}
		}
	}

	private async refresh(): Promise<boolean> {
		const recoveryKey = await this.verifiedRecoveryKey();
		if (!recoveryKey) return false;
		await this.writeTo(recoveryKey);
		return true;
	}

	/** The registered recovery key, if the identity key signed it; a key the relay made up is refused. */
	private async verifiedRecoveryKey(): Promise<Uint8Array | null> {
		const me = await this.accountIdentity();
		let registered: { recoveryKey: string; signature: string };
		try {
			registered = await this.deps.session.withToken((t) => this.deps.api.recoveryKey(t));
		} catch (err) {
			if (err instanceof SdkError && err.code === "not_found") return null;
			throw err;
		}
		const signed = recoveryKeyMessage(me.accountId, registered.recoveryKey);
		if (!verifyDetached(me.account.publicKey, signed, fromB64u(registered.signature))) {
			throw untrusted("the recovery key the relay serves was not signed by this account's identity key");
		}
		return fromB64u(registered.recoveryKey);
	}

	private async writeTo(recoveryKey: Uint8Array): Promise<void> {
		const { api, session } = this.deps;
		const me = await this.accountIdentity();
		for (let attempt = 1; ; attempt++) {
			const stored = await session
				.withToken((t) => api.backup(t))
				.catch((err: unknown) => {
					if (err instanceof SdkError && err.code === "not_found") return null;
					throw err;
				});
			const sealed = sealBackup(recoveryKey, me.accountId, await this.contents(me));
			try {
				await session.withToken((t) => api.putBackup(t, { version: (stored?.version ?? 0) + 1, ...sealed }));
				return;
			} catch (err) {
				// Another device wrote one in between: write over it with the next version.
				if (!(err instanceof SdkError) || err.code !== "conflict" || attempt >= 3) throw err;
			}
		}
	}

	private async contents(me: IdentityHolder): Promise<BackupContents> {
		const keys = await this.deps.store.listContactKeys();
		const trust = await this.deps.store.listTrust();
		return {
			identity: { seed: toB64u(me.account.seed), publicKey: toB64u(me.account.publicKey) },
			contactKeys: keys.map((k) => ({ peerId: k.peerId, version: k.version, key: toB64u(k.key), lists: { ...k.lists } })),
			trust: trust
				.filter((r) => r.accountId !== me.accountId)
				.map((r) => ({
					accountId: r.accountId,
					identityKey: r.changed ? r.changed.from : r.identityKey,
					verified: r.verified || (r.changed?.wasVerified ?? false),
				})),
			savedAt: Date.now(),
		};
	}

	private async accountIdentity(): Promise<IdentityHolder> {
		return requireIdentityKey(await this.deps.identity(), "Only a device that holds the account's identity key can do that.");
	}

	private serial<T>(work: () => Promise<T>): Promise<T> {
		const run = this.writing.then(work, work);
		this.writing = run.catch(() => undefined);
		return run;
	}
}

const untrusted = (why: string): SdkError => new SdkError("untrusted", `The restore was refused: ${why}.`, { reason: "device_list" });

/** The recovery key's 16 bytes from the words a person typed; words that are none are `bad_request`. */
function recoveryEntropy(words: string): Uint8Array {
	try {
		return parseRecoveryWords(words);
	} catch (err) {
		if (err instanceof CryptoError) throw new SdkError("bad_request", `That is not a recovery key: ${err.message}.`);
		throw err;
	}
}
