import { toB64u } from "../../common/encoding.ts";
import { type SignedDeviceList, signDeviceList } from "../../common/protocol/device-list.ts";
import type { DeviceInfo } from "../../common/protocol/wire.ts";
import type { ApiClient } from "./api-client.ts";
import { type DeviceIdentity, type IdentityHolder, type KeyStore, requireIdentityKey, type TrustRecord } from "./key-store.ts";
import { checkDeviceList, sendingBlocked } from "./list-trust.ts";
import { SdkError } from "./sdk-error.ts";
import type { SessionKeeper } from "./session-keeper.ts";

export interface TrustBookDeps {
	store: KeyStore;
	api: ApiClient;
	session: SessionKeeper;
	identity: () => Promise<DeviceIdentity>;
	/** A list the relay served was refused (rollback, bad signature, …): the user should know. */
	report: (error: SdkError) => void;
	/** This account's list is signed by a new identity key: take it over if a trusted device of ours made it (true when taken). */
	adoptOwnReset: (list: SignedDeviceList) => Promise<boolean>;
	/** A contact's identity key is not the one pinned for them. */
	identityChanged: (change: { peerId: string; wasVerified: boolean }) => void;
	now?: () => number;
}

/** A verified list and the relay's device details that it vouches for. */
export interface VerifiedDevices {
	list: SignedDeviceList;
	record: TrustRecord;
	/** The relay's devices, each marked whether the signed list certifies it (the relay may list others). */
	devices: Array<DeviceInfo & { certified: boolean }>;
}

/**
 * Which devices of each account this device believes in: every device list the relay serves
 * is verified here (signature, identity key pinned on first use, no rollback) before any key
 * is wrapped for a device or accepted from one. One check at a time per account, so two
 * fetches cannot store their lists out of order.
 */
export class TrustBook {
	private readonly chains = new Map<string, Promise<unknown>>();

	constructor(private readonly deps: TrustBookDeps) {}

	/** This account's own verified list (publishing the first one if registration was cut short). */
	async own(): Promise<VerifiedDevices> {
		const me = await this.requireAccountIdentity();
		let served = await this.deps.session.withToken((t) => this.deps.api.devices(t));
		if (!served.deviceList) {
			await this.publishFirstList(me, served.devices);
			served = await this.deps.session.withToken((t) => this.deps.api.devices(t));
		}
		const list = served.deviceList;
		if (list && list.identityKey !== toB64u(me.account.publicKey)) await this.deps.adoptOwnReset(list);
		// Read again: this or a concurrent look may just have taken over a reset.
		return this.accept(me.accountId, served.devices, list, await this.requireAccountIdentity());
	}

	/** A contact's verified list; throws if the relay serves none or one that fails a check. */
	async peer(peerId: string): Promise<VerifiedDevices> {
		const served = await this.deps.session.withToken((t) => this.deps.api.contactDevices(t, peerId));
		return this.accept(peerId, served.devices, served.deviceList, null);
	}

	/** A device_list frame for this account: verified and kept, or reported. */
	async observeOwn(list: SignedDeviceList): Promise<void> {
		const me = await this.requireAccountIdentity();
		if (list.identityKey !== toB64u(me.account.publicKey)) {
			// A reset made elsewhere: fetched and checked the full way (the frame alone proves nothing).
			await this.own().catch(() => undefined);
			return;
		}
		await this.accept(me.accountId, [], list, me).catch((err: unknown) => {
			if (!(err instanceof SdkError)) throw err;
		});
	}

	/** Both lists for wrapping a contact key, refused while a verified contact's identity change waits to be seen. */
	async forWrapping(peerId: string): Promise<{ mine: VerifiedDevices; theirs: VerifiedDevices }> {
		const [mine, theirs] = await Promise.all([this.own(), this.peer(peerId)]);
		if (sendingBlocked(theirs.record)) throw identityChangedError(peerId);
		return { mine, theirs };
	}

	async record(accountId: string): Promise<TrustRecord | undefined> {
		return this.deps.store.getTrust(accountId);
	}

	/** Refuses to seal for a verified contact whose identity changed until the person has looked. */
	async assertMaySend(peerId: string): Promise<void> {
		if (sendingBlocked(await this.deps.store.getTrust(peerId))) throw identityChangedError(peerId);
	}

	/** The person compared the safety number (or scanned it) and it matched. */
	markVerified(peerId: string, verified: boolean): Promise<TrustRecord> {
		return this.update(peerId, (r) => {
			const { changed: _, ...rest } = r;
			return verified ? { ...rest, verified: true } : { ...r, verified: false };
		});
	}

	/** The person saw the identity change: sending works again, not verified until compared anew. */
	acknowledgeChange(peerId: string): Promise<TrustRecord> {
		return this.update(peerId, (r) => {
			const { changed: _, ...rest } = r;
			return { ...rest, verified: false };
		});
	}

	private async update(peerId: string, change: (r: TrustRecord) => TrustRecord): Promise<TrustRecord> {
		return this.serial(peerId, async () => {
			const known = await this.deps.store.getTrust(peerId);
			if (!known) throw new SdkError("not_found", "This device has not seen that contact's keys yet.");
			const next = change(known);
			await this.deps.store.putTrust(next);
			return next;
		});
	}

	private accept(
		accountId: string,
		devices: DeviceInfo[],
		list: SignedDeviceList | null,
		me: DeviceIdentity | null,
	): Promise<VerifiedDevices> {
		if (!list) {
			return Promise.reject(new SdkError("conflict", "That account has not published a signed device list yet."));
		}
		return this.serial(accountId, async () => {
			const known = await this.deps.store.getTrust(accountId);
			const verdict = checkDeviceList({
				accountId,
				list,
				known,
				...(me?.account && {
					own: { identityKey: toB64u(me.account.publicKey), device: { deviceId: me.deviceId, publicKey: toB64u(me.publicKey) } },
				}),
				now: (this.deps.now ?? Date.now)(),
			});
			if (verdict.kind === "refused") {
				const error = new SdkError("untrusted", `${verdict.reason} (account ${accountId})`, { reason: "device_list" });
				this.deps.report(error);
				throw error;
			}
			// The same signed list as the one kept changes nothing: only a new list is written.
			if (known?.list.signature !== verdict.record.list.signature) await this.deps.store.putTrust(verdict.record);
			if (verdict.identityChanged) this.deps.identityChanged({ peerId: accountId, wasVerified: verdict.identityChanged.wasVerified });
			const certified = new Map(verdict.record.list.devices.map((d) => [d.deviceId, d.publicKey]));
			return {
				list: verdict.record.list,
				record: verdict.record,
				devices: devices.map((d) => ({ ...d, certified: d.status === "approved" && certified.get(d.deviceId) === d.publicKey })),
			};
		});
	}

	/** Registration made the account; its first list (this device alone) did not reach the relay yet. */
	private async publishFirstList(me: IdentityHolder, devices: DeviceInfo[]) {
		const approved = devices.filter((d) => d.status === "approved");
		if (approved.length !== 1 || approved[0]?.deviceId !== me.deviceId) {
			throw new SdkError("untrusted", "The account has devices but no signed device list; this device will not sign one for them.", {
				reason: "device_list",
			});
		}
		const deviceList = signDeviceList(
			{
				accountId: me.accountId,
				version: 1,
				lastRemoval: 0,
				identityKey: toB64u(me.account.publicKey),
				devices: [{ deviceId: me.deviceId, publicKey: toB64u(me.publicKey) }],
			},
			me.account.seed,
		);
		await this.deps.session.withToken((t) => this.deps.api.publishDeviceList(t, { deviceList }));
	}

	private async requireAccountIdentity(): Promise<IdentityHolder> {
		return requireIdentityKey(
			await this.deps.identity(),
			"This device does not hold the account's identity key yet: it waits for approval.",
		);
	}

	private serial<T>(accountId: string, work: () => Promise<T>): Promise<T> {
		const before = this.chains.get(accountId) ?? Promise.resolve();
		const run = before.then(work, work);
		const tail = run.catch(() => undefined);
		this.chains.set(accountId, tail);
		tail.then(() => {
			if (this.chains.get(accountId) === tail) this.chains.delete(accountId);
		});
		return run;
	}
}

export const identityChangedError = (peerId: string): SdkError =>
	new SdkError(
		"identity_changed",
		`The identity key of ${peerId} changed since you verified it. Compare the new safety number and acknowledge it before sending.`,
	);
