import type { DeviceInfo } from "../../../common/protocol/wire.ts";
import type { DeviceIdentity } from "../../core/key-store.ts";
import { deviceFingerprint } from "../../core/safety-number.ts";
import type { AccountInfo, MessengerClient } from "../../core/sdk.ts";
import { type SdkError, type SdkErrorCode, toSdkError } from "../../core/sdk-error.ts";
import { errorText } from "../error-text.ts";
import type { MessageHistory } from "../message-history.ts";
import type { MessengerStore, Phase } from "../store.ts";
import type { Account } from "./account.ts";
import type { Contacts } from "./contacts.ts";
import type { Conversations } from "./conversations.ts";
import type { Devices } from "./devices.ts";
import type { Notices } from "./notices.ts";
import type { SafetyNumbers } from "./safety-numbers.ts";
import type { StartUpCache } from "./start-up-cache.ts";

export type LifecycleClient = Pick<
	MessengerClient,
	"whoami" | "register" | "linkWithCode" | "restoreAccount" | "deviceStatus" | "connect" | "close" | "revokeDevice" | "deleteAccount"
>;

/** The device's own keys, as far as its lifecycle needs them. */
export interface DeviceKeys {
	getIdentity(): Promise<DeviceIdentity | null>;
	destroy(): Promise<void>;
}

/**
 * What a refusal, while connecting or while checking the approval, says about this device:
 * the phase it is in, and whether its data must go (it was revoked); null when it says nothing
 * of the kind, and is an error to show. `unauthorized` alone does not erase: a misconfigured
 * server must not wipe devices. `closed` counts only while connecting: another tab took over.
 */
export function phaseAfterRefusal(
	code: SdkErrorCode,
	whileConnecting: boolean,
): { phase: "pending" | "replaced" | "removed"; erase: boolean } | null {
	if (code === "device_pending") return { phase: "pending", erase: false };
	if (code === "device_revoked") return { phase: "removed", erase: true };
	if (code === "unauthorized") return { phase: "removed", erase: false };
	if (code === "closed" && whileConnecting) return { phase: "replaced", erase: false };
	return null;
}

/** Once the socket was closed for good: another tab took the connection, unless the device was removed. */
export function phaseWhenClosed(phase: Phase): Phase {
	return phase === "removed" ? "removed" : "replaced";
}

/**
 * The device from start to end: no account yet, waiting for approval, approved, replaced by
 * another tab, removed (see Phase), and the connection that finds out which.
 */
export class DeviceLifecycle {
	constructor(
		private readonly store: MessengerStore,
		private readonly client: LifecycleClient,
		private readonly keys: DeviceKeys,
		private readonly history: Pick<MessageHistory, "failUnconfirmed" | "unreadCounts" | "destroy">,
		private readonly cache: StartUpCache,
		private readonly notices: Notices,
		private readonly account: Pick<Account, "loadLimits" | "refresh">,
		private readonly contacts: Pick<Contacts, "load">,
		private readonly devices: Pick<Devices, "refresh">,
		private readonly conversations: Pick<Conversations, "load">,
		private readonly safetyNumbers: Pick<SafetyNumbers, "loadAll">,
		/** Told once this device's data is gone from the browser (the web app drops its push subscription). */
		private readonly erased: () => void = () => {},
	) {}

	/** Load the identity and history of this profile and connect if there is an account. */
	async start(): Promise<void> {
		this.account.loadLimits();
		const me = await this.client.whoami();
		if (!me) {
			this.store.update({ phase: "welcome" });
			return;
		}
		await this.history.failUnconfirmed("The relay never confirmed this message. It may not have been sent.");
		this.store.update({
			me,
			fingerprint: await this.ownFingerprint(),
			unread: await this.history.unreadCounts(),
			contacts: this.cache.contacts(),
		});
		// Known to be approved: show the history at once, even before (or without) a connection.
		if (this.cache.approved()) this.store.update({ phase: "ready" });
		await this.connectAndSettle();
	}

	async register(handle: string, deviceName: string): Promise<void> {
		const me = await this.client.register(handle, deviceName);
		this.store.update({ me, fingerprint: await this.ownFingerprint(), phase: "ready" });
		await this.connectAndSettle();
	}

	/**
	 * Join an existing account as a new device with the link code one of its devices shows;
	 * it then waits until that device approves it.
	 */
	async link(code: string, deviceName: string): Promise<void> {
		const me = await this.client.linkWithCode(code, deviceName);
		this.store.update({ me, fingerprint: await this.ownFingerprint(), phase: "pending" });
		await this.connectAndSettle();
	}

	/**
	 * On a browser with no device of the account: sign in with the account's recovery key. The
	 * SDK makes this an approved device (certified with the identity key from the backup), so
	 * the app opens at once. A restore that failed after the SDK had kept keys here (a check of
	 * the backup or of the device list failed) must not leave a half-made device that would
	 * open on the next start: its keys are deleted, and the welcome screen stays. `restored`
	 * hears of the account before the app opens.
	 */
	async restore(handle: string, words: string, deviceName: string, restored: (me: AccountInfo) => void = () => {}): Promise<AccountInfo> {
		// Keys that were here before (another tab made a device meanwhile) are never this restore's to delete.
		const before = await this.keys.getIdentity();
		let me: AccountInfo;
		try {
			me = await this.client.restoreAccount(handle, words, deviceName);
		} catch (err) {
			if (before === null && (await this.keys.getIdentity().catch(() => null)) !== null) await this.keys.destroy().catch(() => {});
			throw err;
		}
		// Before the app opens: what it shows first may depend on it (the recovery key's reminder).
		restored(me);
		this.store.update({ me, fingerprint: await this.ownFingerprint(), phase: "ready" });
		await this.connectAndSettle();
		return me;
	}

	/** Take the connection back after another tab of this profile took it. */
	async useHere(): Promise<void> {
		this.store.update({ phase: "loading" });
		await this.connectAndSettle();
	}

	/** Forget this device: it leaves its account if it can, and its keys and history are deleted from this browser. */
	async forget(): Promise<void> {
		const me = this.store.state.me;
		if (me && this.store.state.phase !== "removed") await this.client.revokeDevice(me.deviceId).catch(() => {});
		await this.erase();
	}

	/**
	 * Sign this device out: it leaves its account (the next signed list without it, so contacts
	 * replace every key it held), then its keys and history are deleted from this browser.
	 * Unlike `forget`, a refusal stops it with the keys kept: a device still listed on the
	 * account but without keys anywhere would receive messages nobody can read.
	 */
	async signOut(): Promise<void> {
		const me = this.store.state.me;
		if (!me) return;
		try {
			await this.client.revokeDevice(me.deviceId);
		} catch (err) {
			// Removed already (from another device): there is nothing left to leave.
			const code = toSdkError(err).code;
			if (code !== "device_revoked" && code !== "not_found") throw err;
		}
		await this.erase();
	}

	/** Delete the account for good (its handle typed again), then this device's keys and history. */
	async deleteAccount(handle: string): Promise<void> {
		await this.client.deleteAccount(handle);
		await this.erase();
	}

	/**
	 * A `device` event about this very device; false when it is about another one, or changes
	 * nothing of this one's phase.
	 */
	ownDeviceChanged(event: "pending" | "approved" | "revoked", device: DeviceInfo): boolean {
		if (device.deviceId !== this.store.state.me?.deviceId) return false;
		if (event === "approved" && this.store.state.phase === "pending") {
			void this.settle();
			return true;
		}
		if (event === "revoked") {
			this.removed();
			return true;
		}
		return false;
	}

	/** The socket is up again: a device still waiting may have been approved while it was down, and the frame that said so is gone. */
	reconnected(): void {
		if (this.store.state.phase === "pending") void this.settle();
	}

	/** An `error` event of the SDK: the connection failed after it was up. */
	failed(error: SdkError): void {
		if (error.code === "device_revoked") {
			this.removed();
			return;
		}
		if (error.code === "closed") {
			this.store.update({ phase: phaseWhenClosed(this.store.state.phase), connection: "offline" });
			return;
		}
		this.notices.report(error);
	}

	/**
	 * This device was removed from its account: its keys are of no use any more, and its owner
	 * removes a device they let go of (lost, sold, stolen), so its keys and history go at once.
	 */
	private removed(): void {
		this.store.update({ phase: "removed", connection: "offline" });
		this.erase().catch(() => this.notices.notify("This browser did not let the app delete this device's data. Please clear it yourself."));
	}

	private async erase(): Promise<void> {
		this.client.close();
		this.cache.forget();
		await Promise.all([this.keys.destroy(), this.history.destroy()]);
		this.erased();
	}

	/** Connect, then find out whether this device is approved yet (a pending device may connect, nothing more). */
	private async connectAndSettle(): Promise<void> {
		this.store.update({ connection: "connecting" });
		try {
			await this.client.connect();
		} catch (err) {
			const error = toSdkError(err);
			this.store.update({ connection: "offline" });
			this.refused(error, true);
			return;
		}
		await this.settle();
	}

	/**
	 * Only an approved device may list its contacts: the first load tells whether it is
	 * approved. A linked device that does not hold the account's identity key yet asks first:
	 * deviceStatus() finishes the linking once the device is approved (it may have been while
	 * this page was closed), and the app opens only once that worked.
	 */
	private async settle(): Promise<void> {
		try {
			if ((await this.stillLinking()) && !(await this.linkingFinished())) {
				this.store.update({ phase: "pending" });
				return;
			}
			const contacts = await this.contacts.load();
			this.cache.setApproved(true);
			this.store.update({ phase: "ready", contacts });
			void this.account.refresh();
			void this.devices.refresh();
			void this.safetyNumbers.loadAll();
			const peerId = this.store.state.activePeer;
			if (peerId) void this.conversations.load(peerId);
		} catch (err) {
			this.refused(toSdkError(err), false);
		}
	}

	private refused(error: SdkError, whileConnecting: boolean): void {
		const after = phaseAfterRefusal(error.code, whileConnecting);
		if (after?.erase) this.removed();
		else if (after) this.store.update({ phase: after.phase });
		else this.notices.notify(errorText(error));
	}

	/**
	 * Whether a linked device is approved and now holds the identity key. An approval that
	 * failed the SDK's checks (the identity key it brought is not the code's) leaves the device
	 * waiting, with the reason as a notice: it must not open the account with keys it cannot trust.
	 */
	private async linkingFinished(): Promise<boolean> {
		try {
			return (await this.client.deviceStatus()) === "approved";
		} catch (err) {
			const error = toSdkError(err);
			if (error.code !== "untrusted") throw error;
			this.notices.notify(errorText(error));
			return false;
		}
	}

	private async stillLinking(): Promise<boolean> {
		const identity = await this.keys.getIdentity();
		return identity !== null && identity.account === undefined;
	}

	private async ownFingerprint(): Promise<string | null> {
		const identity = await this.keys.getIdentity();
		return identity && deviceFingerprint(identity.publicKey);
	}
}
