import type { SignedDeviceList } from "../../../common/protocol/device-list.ts";
import type { PublishDeviceListRequest } from "../../../common/protocol/wire.ts";
import { getAccount, setIdentityKey } from "../../db/accounts.ts";
import type { KeyRotation } from "../contacts/key-rotation.ts";
import type { RelayHost } from "../host.ts";
import { Lane } from "../lane.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { type ListChange, type ListVerdict, listVerdict } from "./device-list-rules.ts";
import { clearDeviceList, storeDeviceList, storedDeviceList } from "./device-list-store.ts";
import type { DeviceRegistry } from "./device-registry.ts";
import { replaceIdentityEnvelopes } from "./identity-envelopes.ts";

interface Needs {
	readonly devices: DeviceRegistry;
	readonly hub: SocketHub;
	readonly rotation: KeyRotation;
}

/**
 * The account's signed device list: which candidate is taken (device-list-rules.ts), the
 * first list and identity resets (POST /api/devices/list), and what everyone is told when it
 * changes. Approval and removal change it too, through `change` and `commit`.
 */
export class DeviceLists {
	/**
	 * Every change of the list, one at a time from its check to its write: two approvals
	 * checked against the same stored version would otherwise both be taken.
	 */
	private readonly changes = new Lane();

	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	current(): SignedDeviceList | null {
		return storedDeviceList(this.host.sql);
	}

	change<T>(work: () => Promise<T>): Promise<T> {
		return this.changes.run(work);
	}

	/** The candidate against the stored list and the approved devices as they are now. */
	async verdict(candidate: SignedDeviceList | undefined, change: ListChange): Promise<ListVerdict> {
		const stored = this.current();
		// Before the first list, the identity key registered in D1 is the only one to trust.
		const registeredIdentityKey =
			stored === null ? ((await getAccount(this.host.db, this.host.accountId))?.identityKey ?? null) : stored.identityKey;
		const approved = this.s.devices.approved().map((d) => ({ deviceId: d.deviceId, publicKey: d.publicKey }));
		return listVerdict({ accountId: this.host.accountId, registeredIdentityKey, stored, approved }, candidate, change);
	}

	/**
	 * Stores `list`, then runs the D1 write that goes with it; if that refuses or fails, the
	 * stored list goes back. Stored first: a restart between the two leaves a list one step
	 * ahead of D1, which the same change, sent again, completes (the rules compare the
	 * candidate with the approved devices, not with the stored list's devices).
	 */
	async commit(list: SignedDeviceList, write: () => Promise<boolean>): Promise<boolean> {
		const before = this.current();
		storeDeviceList(this.host.sql, list);
		let written = false;
		try {
			written = await write();
		} finally {
			if (!written) this.restore(before);
		}
		return written;
	}

	private restore(list: SignedDeviceList | null): void {
		if (list) storeDeviceList(this.host.sql, list);
		else clearDeviceList(this.host.sql);
	}

	/** The stored list changed: this account's devices verify it, and so does every contact (its devices are told). */
	async announce(list: SignedDeviceList): Promise<void> {
		this.s.hub.broadcast({ type: "device_list", deviceList: list });
		await this.s.rotation.tellPeersDevicesChanged();
	}

	/** POST /api/devices/list: the first list after registration, or an identity reset by `callerId`. */
	publish(callerId: string, body: PublishDeviceListRequest): Promise<RelayResult<SignedDeviceList>> {
		return this.change(async () => {
			const list = body.deviceList;
			const envelopes = body.identityEnvelopes;
			const verdict = await this.verdict(list, { op: "publish", caller: callerId, envelopesFor: envelopes?.map((e) => e.deviceId) });
			if (!verdict.ok) return refuse(verdict.code, verdict.message);
			if (verdict.kind === "reset") {
				const caller = this.s.devices.approved().find((d) => d.deviceId === callerId);
				if (!caller) return refuse("device_revoked", "This device is no longer approved.");
				await this.commit(list, async () => {
					await setIdentityKey(this.host.db, this.host.accountId, list.identityKey);
					return true;
				});
				// Envelopes of the old key would hand out a key that no longer signs anything.
				replaceIdentityEnvelopes(
					this.host.sql,
					(envelopes ?? []).map((e) => ({
						deviceId: e.deviceId,
						fromDevice: callerId,
						fromPublicKey: caller.publicKey,
						nonce: e.nonce,
						box: e.box,
					})),
				);
			} else {
				storeDeviceList(this.host.sql, list);
			}
			await this.announce(list);
			return ok(this.current() as SignedDeviceList);
		});
	}
}
