import { fromB64u } from "../../../common/encoding.ts";
import { verifyDetached } from "../../../common/nacl.ts";
import { approvalMessage } from "../../../common/protocol/signing.ts";
import type { DeviceInfo, OwnEnvelopeUpload, ServerFrame } from "../../../common/protocol/wire.ts";
import { approvalRefusal, joinRefusal, lapsedAsks } from "../../abuse/device-joins.ts";
import { approveDevice as approveInD1, insertPendingDevice, listDevices, revokeDevice as revokeInD1 } from "../../db/accounts.ts";
import type { AccountState } from "../account/account-state.ts";
import { logActivity, recentTimes } from "../account/activity-log.ts";
import type { AttachmentService } from "../attachments/attachment-service.ts";
import { deleteEnvelopesOf, listContacts, saveEnvelopes } from "../contacts/contact-book.ts";
import type { KeyRotation } from "../contacts/key-rotation.ts";
import type { RelayHost } from "../host.ts";
import { Lane } from "../lane.ts";
import { dropDeviceQueue } from "../messaging/message-queue.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { readMeta, writeMeta } from "../storage/storage-schema.ts";
import type { NewDevice } from "../surfaces.ts";
import { cachedDevices, deviceStatus, replaceCachedDevices } from "./device-cache.ts";

interface Needs {
	readonly account: AccountState;
	readonly hub: SocketHub;
	readonly attachments: AttachmentService;
	readonly rotation: KeyRotation;
}

const HOUR_MS = 3_600_000;

/**
 * The account's devices: D1 is the authority, this object keeps a copy so the message path
 * never asks D1. Who may act (authorize), new devices asking to join, approval by an approved
 * device, and removal, which closes the device's sockets, drops its queue and its keys, and
 * makes every contact key rotate.
 */
export class DeviceRegistry {
	/** Asks of new devices, one at a time: each one's checks must see the asks before it. */
	private readonly joins = new Lane();

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
	async authorize(deviceId: string, opts: { allowPending?: boolean } = {}): Promise<RelayResult<never> | null> {
		await this.s.account.ensure();
		if (opts.allowPending && deviceStatus(this.host.sql, deviceId) === "pending") return null;
		return this.refusal(deviceId);
	}

	list(): DeviceInfo[] {
		return cachedDevices(this.host.sql);
	}

	approved(): DeviceInfo[] {
		return this.list().filter((d) => d.status === "approved");
	}

	/**
	 * Re-read the devices from D1 into the copy, tell this account's sockets what changed, and
	 * tell contacts when the approved set changed (their safety number for us changes with it).
	 */
	async reload(): Promise<DeviceInfo[]> {
		const { sql } = this.host;
		const before = new Map(cachedDevices(sql).map((d) => [d.deviceId, d.status]));
		const firstLoad = readMeta(sql, "devices_loaded") === undefined;
		const devices = (await listDevices(this.host.db, this.host.accountId)).map(({ accountId: _, ...d }) => d);
		replaceCachedDevices(sql, devices);
		writeMeta(sql, "devices_loaded", String(this.host.now()));
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
		if (approvedSetChanged) await this.s.rotation.tellPeersDevicesChanged();
		return devices;
	}

	/** A removed device's sockets, queue, keys and attachment waits go. */
	private async forget(deviceId: string): Promise<void> {
		this.s.hub.close(deviceId, 4001, "device is no longer approved");
		dropDeviceQueue(this.host.sql, deviceId);
		deleteEnvelopesOf(this.host.sql, deviceId);
		await this.s.attachments.forgetDevice(deviceId);
	}

	/**
	 * A new device asks to join. Anyone who knows the handle can ask, so asks are limited per
	 * hour, at most a few may wait at once, and an ask lapses (abuse/device-joins.ts); waiting
	 * devices count against the device limit, so each can be approved.
	 */
	addPending(d: NewDevice): Promise<RelayResult<true>> {
		// Asks are only counted after a D1 write and need no login, so a stranger could send many at once.
		return this.joins.run(() => this.addPendingNow(d));
	}

	private async addPendingNow(d: NewDevice): Promise<RelayResult<true>> {
		await this.s.account.ensure();
		const { sql } = this.host;
		const now = this.host.now();
		const config = this.host.config();
		const recent = recentTimes(sql, "device_request", now - HOUR_MS, config.deviceRequestsPerHour);
		if (recent.length >= config.deviceRequestsPerHour) {
			const retryAfter = (recent.at(-1) as number) + HOUR_MS - now;
			return refuse("rate_limited", "Too many new devices asked to join this account. Try again later.", retryAfter);
		}
		await this.rejectLapsedAsks(now);
		const full = joinRefusal(cachedDevices(sql), config.maxDevicesPerAccount, config.deviceJoins);
		if (full) return refuse("too_many_devices", full);
		if (!(await insertPendingDevice(this.host.db, { ...d, accountId: this.host.accountId, now })))
			return refuse("handle_taken", "This device key is already registered.");
		logActivity(sql, "device_request", now, d.deviceId);
		await this.reload();
		return ok(true);
	}

	/** Asks nobody answered in time are rejected, so they stop holding a place. */
	private async rejectLapsedAsks(now: number): Promise<void> {
		const lapsed = lapsedAsks(cachedDevices(this.host.sql), now, this.host.config().deviceJoins);
		if (lapsed.length === 0) return;
		for (const d of lapsed) await revokeInD1(this.host.db, this.host.accountId, d.deviceId, now);
		await this.reload();
	}

	/**
	 * An approved device approves a pending one: its signature binds the new key to this
	 * account, and it hands over every contact key it holds, wrapped for the new device, so
	 * the new device reads new messages from every contact at once.
	 */
	async approve(approverId: string, deviceId: string, signature: string, envelopes: OwnEnvelopeUpload[]): Promise<RelayResult<DeviceInfo>> {
		const refusal = await this.authorize(approverId);
		if (refusal) return refusal;
		await this.rejectLapsedAsks(this.host.now());
		const checked = this.checkApproval(approverId, deviceId, signature, envelopes);
		if (!checked.ok) return checked;
		const { accountId } = this.host;
		if (!(await approveInD1(this.host.db, { accountId, deviceId, approvedBy: approverId, signature, now: this.host.now() }))) {
			return refuse("conflict", "The device is no longer pending.");
		}
		const approver = checked.value;
		for (const e of envelopes) {
			const stored = { keyVersion: e.keyVersion, fromAccount: accountId, fromDevice: approverId, fromPublicKey: approver.publicKey };
			saveEnvelopes(this.host.sql, e.peerId, [{ ...stored, deviceId, nonce: e.nonce, box: e.box }]);
		}
		return ok((await this.reload()).find((d) => d.deviceId === deviceId) as DeviceInfo);
	}

	/** The target is pending, there is room, the signature is the approver's, and every contact's newest key is wrapped for it. */
	private checkApproval(approverId: string, deviceId: string, signature: string, envelopes: OwnEnvelopeUpload[]): RelayResult<DeviceInfo> {
		const devices = cachedDevices(this.host.sql);
		const approver = devices.find((d) => d.deviceId === approverId) as DeviceInfo;
		const target = devices.find((d) => d.deviceId === deviceId);
		if (!target || target.status !== "pending") return refuse("not_found", "There is no pending device with that id on this account.");
		const full = approvalRefusal(devices, this.host.config().maxDevicesPerAccount);
		if (full) return refuse("too_many_devices", full);
		const signed = approvalMessage(this.host.accountId, deviceId, target.publicKey);
		if (!verifyDetached(fromB64u(approver.publicKey), signed, fromB64u(signature))) {
			return refuse("unauthorized", "The approval signature does not match this device's key.");
		}
		const contacts = listContacts(this.host.sql).filter((c) => c.state === "accepted" && c.keyVersion !== undefined);
		const given = new Set(envelopes.map((e) => `${e.peerId}/${e.keyVersion}`));
		if (contacts.some((c) => !given.has(`${c.accountId}/${c.keyVersion}`)))
			return refuse("conflict", "Wrap the newest key of every contact for the new device.");
		const known = new Map(contacts.map((c) => [c.accountId, c.keyVersion as number]));
		if (envelopes.some((e) => (known.get(e.peerId) ?? 0) < e.keyVersion))
			return refuse("bad_request", "An envelope names an unknown contact or key version.");
		return ok(approver);
	}

	/**
	 * Reject a pending device or revoke an approved one (any approved device may, and a device
	 * may revoke itself). Every contact key must then be rotated before anyone sends again.
	 */
	async remove(actorId: string, deviceId: string): Promise<RelayResult<DeviceInfo>> {
		const refusal = await this.authorize(actorId, { allowPending: actorId === deviceId });
		if (refusal) return refusal;
		const target = cachedDevices(this.host.sql).find((d) => d.deviceId === deviceId);
		if (!target || target.status === "revoked") return refuse("not_found", "There is no such device on this account.");
		await revokeInD1(this.host.db, this.host.accountId, deviceId, this.host.now());
		const after = await this.reload();
		if (target.status === "approved") await this.s.rotation.requireAfterRevoke();
		return ok(after.find((d) => d.deviceId === deviceId) as DeviceInfo);
	}
}
