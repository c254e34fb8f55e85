import type { SignedDeviceList } from "../../../common/protocol/device-list.ts";
import type { ApproveDeviceRequest, DeviceInfo, DeviceList, IdentityEnvelope, ServerFrame } from "../../../common/protocol/wire.ts";
import { approvalRefusal, lapsedAsks } from "../../abuse/device-joins.ts";
import { approveDevice as approveInD1, listDevices, revokeDevice as revokeInD1 } from "../../db/accounts.ts";
import type { AccountState } from "../account/account-state.ts";
import type { AttachmentService } from "../attachments/attachment-service.ts";
import { deleteEnvelopesOf, listContacts, saveEnvelopes } from "../contacts/contact-book.ts";
import type { KeyRotation } from "../contacts/key-rotation.ts";
import type { HistoryTransfers } from "../history/history-transfers.ts";
import type { RelayHost } from "../host.ts";
import { Lane } from "../lane.ts";
import { dropDeviceQueue } from "../messaging/message-queue.ts";
import { dropDeviceReceipts } from "../messaging/receipt-queue.ts";
import type { PushNotifier } from "../push/push-notifier.ts";
import { isRecovering, unmarkRecovering } from "../recovery/recovery-store.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { readMeta, writeMeta } from "../storage/storage-schema.ts";
import { cachedDevices, deviceStatus, replaceCachedDevices } from "./device-cache.ts";
import type { DeviceLists } from "./device-lists.ts";
import { deleteIdentityEnvelope, identityEnvelopeOf, saveIdentityEnvelope } from "./identity-envelopes.ts";
import { claimsOf } from "./link-store.ts";

/**
 * Who besides an approved device may make a call: `allowPending` any pending device,
 * `allowRecovering` only a pending device that came from a restore with the recovery key.
 */
export interface AuthorizeOpts {
	allowPending?: boolean;
	allowRecovering?: boolean;
}

interface Needs {
	readonly account: AccountState;
	readonly hub: SocketHub;
	readonly attachments: AttachmentService;
	readonly rotation: KeyRotation;
	readonly lists: DeviceLists;
	readonly history: HistoryTransfers;
	readonly push: PushNotifier;
}

/**
 * The account's devices: D1 is the authority, this object keeps a copy so the message path
 * never asks D1. Who may act (authorize), approval of a device that claimed a link code, and
 * removal, which closes the device's sockets, drops its queue and its keys, and makes every
 * contact key rotate. Both change the signed device list, which the approving or removing
 * device signs (device-lists.ts checks it).
 */
export class DeviceRegistry {
	/**
	 * New pending devices, one at a time, whether they claim a link code or restore with the
	 * recovery key: each one's count of places (and of attempts) must see the ones before it.
	 */
	readonly joins = new Lane();

	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	refusal(deviceId: string): RelayResult<never> | null {
		const status = deviceStatus(this.host.sql, deviceId);
		if (status === "approved") return null;
		if (status === "pending") return refuse("device_pending", "This device is waiting for approval by another of your devices.");
		if (status === "revoked") return refuse("device_revoked", "This device was removed from the account. Sign in again.");
		return refuse("unauthorized", "Unknown device.");
	}

	/** Entry check for every call made on behalf of a signed-in device. */
	async authorize(deviceId: string, opts: AuthorizeOpts = {}): Promise<RelayResult<never> | null> {
		await this.s.account.ensure();
		if (deviceStatus(this.host.sql, deviceId) === "pending") {
			if (opts.allowPending || (opts.allowRecovering && isRecovering(this.host.sql, deviceId))) return null;
		}
		return this.refusal(deviceId);
	}

	list(): DeviceInfo[] {
		return this.withLinks(cachedDevices(this.host.sql));
	}

	approved(): DeviceInfo[] {
		return cachedDevices(this.host.sql).filter((d) => d.status === "approved");
	}

	/** Waiting devices with the link code each claimed, for an approved device to check the claim's proof. */
	pending(): DeviceInfo[] {
		return this.list().filter((d) => d.status === "pending");
	}

	private withLinks(devices: DeviceInfo[]): DeviceInfo[] {
		const claims = claimsOf(
			this.host.sql,
			devices.filter((d) => d.status === "pending").map((d) => d.deviceId),
		);
		return devices.map((d) => {
			const link = d.status === "pending" ? claims.get(d.deviceId) : undefined;
			return link ? { ...d, link } : d;
		});
	}

	/**
	 * GET /api/devices: every device with when it was last seen (D1 keeps that), whether it is
	 * connected now (only this object knows: its sockets), and the signed list. "Last seen" of a
	 * connected device is when it connected, which the app would show as if it had gone.
	 */
	async listing(): Promise<DeviceList> {
		const devices = (await listDevices(this.host.db, this.host.accountId)).map(({ accountId: _, ...d }) => d);
		const shown = this.withLinks(devices).map((d) =>
			d.status !== "revoked" && this.host.sockets.of(d.deviceId).length > 0 ? { ...d, online: true } : d,
		);
		return { devices: shown, deviceList: this.s.lists.current() };
	}

	/** What a contact sees: the approved devices and the signed list that vouches for them. */
	published(): DeviceList {
		return { devices: this.approved(), deviceList: this.s.lists.current() };
	}

	/**
	 * Re-read the devices from D1 after they changed outside this object, and tell contacts
	 * when the approved set changed (their safety number for us changes with it).
	 */
	async reload(): Promise<DeviceInfo[]> {
		const { devices, approvedSetChanged } = await this.refresh();
		if (approvedSetChanged) await this.s.rotation.tellPeersDevicesChanged();
		return devices;
	}

	/** Re-read the devices from D1 into the copy and tell this account's sockets what changed. */
	private async refresh(): Promise<{ devices: DeviceInfo[]; approvedSetChanged: boolean }> {
		const { sql } = this.host;
		const before = new Map(cachedDevices(sql).map((d) => [d.deviceId, d.status]));
		const firstLoad = readMeta(sql, "devices_loaded") === undefined;
		const read = (await listDevices(this.host.db, this.host.accountId)).map(({ accountId: _, ...d }) => d);
		replaceCachedDevices(sql, read);
		writeMeta(sql, "devices_loaded", String(this.host.now()));
		const devices = this.withLinks(read);
		let approvedSetChanged = false;
		for (const d of devices) {
			const was = before.get(d.deviceId);
			if (!firstLoad && was !== d.status) {
				if ((was === "approved") !== (d.status === "approved")) approvedSetChanged = true;
				const frame: ServerFrame = { type: "device", event: d.status, device: d };
				this.s.hub.broadcast(frame);
				this.s.hub.deviceChanged(d, was, frame);
			}
			if (d.status === "revoked") await this.forget(d.deviceId);
		}
		return { devices, approvedSetChanged };
	}

	/** A removed device's sockets, queue, keys, recovery mark, push subscription, attachment waits and history transfers go. */
	private async forget(deviceId: string): Promise<void> {
		this.s.hub.close(deviceId, 4001, "device is no longer approved");
		unmarkRecovering(this.host.sql, deviceId);
		dropDeviceQueue(this.host.sql, deviceId);
		dropDeviceReceipts(this.host.sql, deviceId);
		deleteEnvelopesOf(this.host.sql, deviceId);
		deleteIdentityEnvelope(this.host.sql, deviceId);
		this.s.push.forget(deviceId);
		await this.s.attachments.forgetDevice(deviceId);
		await this.s.history.forgetDevice(deviceId);
	}

	/** Devices nobody approved or rejected in time are rejected, so they stop holding a place. */
	async lapseWaiting(now: number): Promise<void> {
		const lapsed = lapsedAsks(cachedDevices(this.host.sql), now, this.host.config().deviceJoins);
		if (lapsed.length === 0) return;
		for (const d of lapsed) await revokeInD1(this.host.db, this.host.accountId, d.deviceId, now);
		await this.refresh();
	}

	/**
	 * An approved device approves one that claimed a link code: with the next signed list (the
	 * new device in it), the identity key wrapped for the new device, and every contact key
	 * it holds wrapped for it too, so the new device reads new messages from every contact at once;
	 * and, if the approver offers its history, the transfer of it, written in the same change.
	 */
	approve(approverId: string, deviceId: string, body: ApproveDeviceRequest): Promise<RelayResult<DeviceInfo>> {
		return this.s.lists.change(async () => {
			await this.lapseWaiting(this.host.now());
			const checked = await this.checkApproval(approverId, deviceId, body);
			if (!checked.ok) return checked;
			const approver = checked.value;
			const { accountId } = this.host;
			const signature = body.deviceList.signature;
			const approved = await this.s.lists.commit(body.deviceList, () =>
				approveInD1(this.host.db, { accountId, deviceId, approvedBy: approverId, signature, now: this.host.now() }),
			);
			if (!approved) return refuse("conflict", "The device is no longer pending.");
			const from = { fromAccount: accountId, fromDevice: approverId, fromPublicKey: approver.publicKey };
			for (const e of body.envelopes) {
				saveEnvelopes(this.host.sql, e.peerId, [{ ...from, keyVersion: e.keyVersion, deviceId, nonce: e.nonce, box: e.box }]);
			}
			const { nonce, box } = body.identityEnvelope;
			saveIdentityEnvelope(this.host.sql, { deviceId, ...from, nonce, box, linkConfirm: body.linkConfirm });
			// Before the new device hears it is approved, so the first thing it lists has the offer.
			if (body.history) await this.s.history.offer({ deviceId: approverId, publicKey: approver.publicKey }, deviceId, body.history);
			const { devices } = await this.refresh();
			await this.s.lists.announce(body.deviceList);
			return ok(devices.find((d) => d.deviceId === deviceId) as DeviceInfo);
		});
	}

	/**
	 * Approves a pending device with `list`, already checked (inside `lists.change`), and
	 * tells everyone as an approval does: the device itself and this account's sockets, the
	 * new list, and every contact. Null if the device was no longer pending in D1.
	 */
	async admit(deviceId: string, approvedBy: string, list: SignedDeviceList): Promise<DeviceInfo | null> {
		const { accountId } = this.host;
		const signature = list.signature;
		const approved = await this.s.lists.commit(list, () =>
			approveInD1(this.host.db, { accountId, deviceId, approvedBy, signature, now: this.host.now() }),
		);
		if (!approved) return null;
		const { devices } = await this.refresh();
		await this.s.lists.announce(list);
		return devices.find((d) => d.deviceId === deviceId) as DeviceInfo;
	}

	/**
	 * The target is pending and came through a link code, there is room, the list adds exactly
	 * it, every contact's newest key is wrapped for it, and a history offer's id is new.
	 */
	private async checkApproval(approverId: string, deviceId: string, body: ApproveDeviceRequest): Promise<RelayResult<DeviceInfo>> {
		// Checked again here: the approver may have been removed while this waited for its turn.
		const gone = this.refusal(approverId);
		if (gone) return gone;
		const devices = cachedDevices(this.host.sql);
		const approver = devices.find((d) => d.deviceId === approverId) as DeviceInfo;
		const target = devices.find((d) => d.deviceId === deviceId);
		if (!target || target.status !== "pending") return refuse("not_found", "There is no pending device with that id on this account.");
		// Without a claim there is no proof for the approver to check, so nothing binds the key to a code it showed.
		if (!claimsOf(this.host.sql, [deviceId]).has(deviceId)) {
			return refuse("conflict", "This device did not claim a link code of this account, so it cannot be approved.");
		}
		const full = approvalRefusal(devices, this.host.config().maxDevicesPerAccount);
		if (full) return refuse("too_many_devices", full);
		const verdict = await this.s.lists.verdict(body.deviceList, {
			op: "approve",
			device: { deviceId, publicKey: target.publicKey },
		});
		if (!verdict.ok) return refuse(verdict.code, verdict.message);
		const contacts = listContacts(this.host.sql).filter((c) => c.state === "accepted" && c.keyVersion !== undefined);
		const given = new Set(body.envelopes.map((e) => `${e.peerId}/${e.keyVersion}`));
		if (contacts.some((c) => !given.has(`${c.accountId}/${c.keyVersion}`)))
			return refuse("conflict", "Wrap the newest key of every contact for the new device.");
		const known = new Map(contacts.map((c) => [c.accountId, c.keyVersion as number]));
		if (body.envelopes.some((e) => (known.get(e.peerId) ?? 0) < e.keyVersion))
			return refuse("bad_request", "An envelope names an unknown contact or key version.");
		const offerRefusal = body.history ? this.s.history.offerRefusal(body.history) : null;
		if (offerRefusal) return offerRefusal;
		return ok(approver);
	}

	/**
	 * Reject a pending device (no list: it was never in one) or revoke an approved one, with
	 * the next list, without it. Any approved device may, and a device may remove itself.
	 * Every contact key must then be rotated before anyone sends again.
	 */
	remove(deviceId: string, list: SignedDeviceList | undefined): Promise<RelayResult<DeviceInfo>> {
		return this.s.lists.change(async () => {
			const target = cachedDevices(this.host.sql).find((d) => d.deviceId === deviceId);
			if (!target || target.status === "revoked") return refuse("not_found", "There is no such device on this account.");
			const device = { deviceId, publicKey: target.publicKey };
			const verdict = await this.s.lists.verdict(list, { op: "remove", device, status: target.status });
			if (!verdict.ok) return refuse(verdict.code, verdict.message);
			const revoke = () => revokeInD1(this.host.db, this.host.accountId, deviceId, this.host.now());
			if (list === undefined) await revoke();
			else if (!(await this.s.lists.commit(list, revoke))) return refuse("conflict", "The device was removed meanwhile.");
			const { devices } = await this.refresh();
			if (list !== undefined) {
				await this.s.lists.announce(list);
				await this.s.rotation.requireAfterRevoke();
			}
			return ok(devices.find((d) => d.deviceId === deviceId) as DeviceInfo);
		});
	}

	/** GET /api/devices/identity: what the approving device (or an identity reset) wrapped for this one. */
	identityEnvelope(deviceId: string): RelayResult<IdentityEnvelope> {
		const envelope = identityEnvelopeOf(this.host.sql, deviceId);
		return envelope ? ok(envelope) : refuse("not_found", "No identity key was wrapped for this device.");
	}
}
