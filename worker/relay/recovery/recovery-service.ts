import { fromB64u } from "../../../common/encoding.ts";
import type { SignedDeviceList } from "../../../common/protocol/device-list.ts";
import { recoverMessage, recoveryKeyMessage } from "../../../common/protocol/signing.ts";
import type { DeviceInfo, RecoveryKeyRequest, SealedBackup } from "../../../common/protocol/wire.ts";
import { approvalRefusal, joinRefusal } from "../../abuse/device-joins.ts";
import { isUsableDeviceKey } from "../../auth/device-key.ts";
import { insertPendingDevice } from "../../db/accounts.ts";
import type { AccountState } from "../account/account-state.ts";
import { logActivity, recentTimes } from "../account/activity-log.ts";
import type { ChallengeLog } from "../challenges/challenge-log.ts";
import { cachedDevices } from "../devices/device-cache.ts";
import type { DeviceLists } from "../devices/device-lists.ts";
import type { DeviceRegistry } from "../devices/device-registry.ts";
import type { RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { Recoverer } from "../surfaces.ts";
import { attemptsRefusal, backupVersionRefusal, HOUR_MS, provesRecoveryKey, RECOVERY_MISMATCH, signedBy } from "./recovery-rules.ts";
import {
	isRecovering,
	markRecovering,
	storeBackup,
	storedBackup,
	storedBackupVersion,
	storedRecoveryKey,
	storeRecoveryKey,
	unmarkRecovering,
} from "./recovery-store.ts";

interface Needs {
	readonly account: AccountState;
	readonly devices: DeviceRegistry;
	readonly lists: DeviceLists;
	readonly challenges: ChallengeLog;
}

/**
 * Account recovery: an approved device registers the recovery public key and keeps the
 * sealed key backup current; a new device with nothing but the recovery key restores the
 * account as a pending device and gets the backup; then it finishes by itself, with the next
 * device list signed by the identity key it opened from the backup. The rules are in
 * recovery-rules.ts; this wires them to the account's storage, devices and list.
 */
export class RecoveryService {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	/**
	 * PUT /api/account/recovery. Signed by the identity key of the stored list, so the relay
	 * cannot register a key of its own; in the list's lane, so an identity reset cannot slip
	 * in between the check and the write.
	 */
	async setKey(key: RecoveryKeyRequest): Promise<RelayResult<true>> {
		// A small-order key would make a restore signature something anyone can forge.
		if (!isUsableDeviceKey(fromB64u(key.recoveryKey))) return refuse("bad_request", "recoveryKey is not a usable Ed25519 key.");
		return this.s.lists.change(async () => {
			const list = this.s.lists.current();
			if (list === null) return refuse("conflict", "This account has no signed device list yet: publish the first one.");
			if (!signedBy(list.identityKey, recoveryKeyMessage(this.host.accountId, key.recoveryKey), key.signature)) {
				return refuse("unauthorized", "The recovery key is not signed by the account's identity key.");
			}
			storeRecoveryKey(this.host.sql, key);
			return ok(true as const);
		});
	}

	key(): RelayResult<RecoveryKeyRequest> {
		const key = storedRecoveryKey(this.host.sql);
		return key ? ok(key) : refuse("not_found", "This account has no recovery key.");
	}

	/** PUT /api/account/backup: the check and the write run with no wait in between, so two writers cannot both pass. */
	putBackup(backup: SealedBackup): RelayResult<true> {
		const refusal = backupVersionRefusal(storedBackupVersion(this.host.sql), backup.version);
		if (refusal) return refuse("conflict", refusal);
		storeBackup(this.host.sql, backup);
		return ok(true as const);
	}

	backup(): RelayResult<SealedBackup> {
		const backup = storedBackup(this.host.sql);
		return backup ? ok(backup) : refuse("not_found", "This account has no key backup.");
	}

	/**
	 * POST /api/recovery, nobody signed in. The route has checked the challenge's MAC and the
	 * new device's own signature; here the challenge is spent, the attempt counted if it fails,
	 * and a proven one becomes a pending device marked as recovering.
	 */
	restore(r: Recoverer): Promise<RelayResult<SealedBackup>> {
		// One at a time with link claims: each one's count of failures and of places must see the ones before it.
		return this.s.devices.joins.run(() => this.restoreNow(r));
	}

	private async restoreNow(r: Recoverer): Promise<RelayResult<SealedBackup>> {
		await this.s.account.ensure();
		const { sql } = this.host;
		const now = this.host.now();
		const limit = this.host.config().recoveryAttemptsPerHour;
		const retryAfter = attemptsRefusal(recentTimes(sql, "recovery_failure", now - HOUR_MS, limit), now, limit);
		if (retryAfter !== null) {
			return refuse("rate_limited", "Too many failed recovery attempts for this account within the hour. Try again later.", retryAfter);
		}
		// Spent before the key is looked at, so its answer tells nothing of the key or the backup
		// (only that the handle has an account, which a contact request tells anyone anyway).
		if (!this.s.challenges.redeem(r.nonce, r.expiresAt)) {
			return refuse("unauthorized", "This challenge was already used. Ask for a new one.");
		}
		// The version only: a failed attempt should not cost a read of up to a megabyte of ciphertext.
		const state = { recoveryKey: storedRecoveryKey(sql)?.recoveryKey ?? null, hasBackup: storedBackupVersion(sql) !== null };
		const message = recoverMessage(r.challenge, r.handle, r.publicKey, r.name);
		const backup = provesRecoveryKey(state, { recoveryKey: r.recoveryKey, signature: r.signature, message }) ? storedBackup(sql) : null;
		if (backup === null) {
			logActivity(sql, "recovery_failure", now);
			return refuse("unauthorized", RECOVERY_MISMATCH);
		}
		// Only now: a stranger must not learn how many devices an account has.
		await this.s.devices.lapseWaiting(now);
		const full = joinRefusal(cachedDevices(sql), this.host.config().maxDevicesPerAccount);
		if (full) return refuse("too_many_devices", full);
		// Marked before the D1 write, so the device is never pending without its mark.
		markRecovering(sql, r.deviceId);
		let inserted = false;
		try {
			inserted = await insertPendingDevice(this.host.db, {
				deviceId: r.deviceId,
				accountId: this.host.accountId,
				publicKey: r.publicKey,
				name: r.name,
				now,
			});
		} finally {
			if (!inserted) unmarkRecovering(sql, r.deviceId);
		}
		if (!inserted) return refuse("handle_taken", "This device key is already registered.");
		// Every device of the account hears of the new pending device, as of one that claimed a link.
		await this.s.devices.reload();
		return ok(backup);
	}

	/**
	 * POST /api/devices/:deviceId/recover by that device itself: it approves itself with the
	 * next list (every approved device and it), which only the holder of the identity key, opened
	 * from the backup, can sign. Announced like any approval.
	 */
	complete(callerId: string, deviceId: string, list: SignedDeviceList): Promise<RelayResult<DeviceInfo>> {
		return this.s.lists.change(async () => {
			const { sql } = this.host;
			// The device may have lapsed (or been rejected) while it opened the backup.
			await this.s.devices.lapseWaiting(this.host.now());
			const target = cachedDevices(sql).find((d) => d.deviceId === deviceId && d.status === "pending");
			if (!target) return refuse("not_found", "There is no pending device with that id on this account.");
			if (!isRecovering(sql, deviceId)) {
				return refuse("conflict", "This device did not come from a recovery: another device of the account approves it.");
			}
			if (callerId !== deviceId) return refuse("forbidden", "Only the recovering device itself finishes its recovery.");
			const full = approvalRefusal(cachedDevices(sql), this.host.config().maxDevicesPerAccount);
			if (full) return refuse("too_many_devices", full);
			const verdict = await this.s.lists.verdict(list, { op: "approve", device: { deviceId, publicKey: target.publicKey } });
			if (!verdict.ok) return refuse(verdict.code, verdict.message);
			const approved = await this.s.devices.admit(deviceId, deviceId, list);
			if (!approved) return refuse("conflict", "The device is no longer pending.");
			unmarkRecovering(sql, deviceId);
			return ok(approved);
		});
	}
}
