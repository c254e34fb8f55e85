import type { DeviceInfo } from "../../../common/protocol/wire.ts";
import type { MessengerClient, OwnDevice } from "../../core/sdk.ts";
import type { MessengerStore } from "../store.ts";
import type { Notices } from "./notices.ts";

export type DevicesClient = Pick<MessengerClient, "devices" | "revokeDevice" | "checkLinkRequest" | "resetIdentity">;

/**
 * The list with `device` in place of its earlier entry, or added. A device event says nothing
 * of the signed list, so the entry keeps what was known (a new one counts as not certified
 * until the list is fetched again, which refresh() does).
 */
export function withDevice(devices: readonly OwnDevice[] | null, device: DeviceInfo): OwnDevice[] {
	const before = devices?.find((d) => d.deviceId === device.deviceId);
	const certified = before?.certified === true && before.publicKey === device.publicKey && device.status === "approved";
	return [...(devices ?? []).filter((d) => d.deviceId !== device.deviceId), { ...device, certified }];
}

/** Approved devices the account's signed list does not name: the relay lists them, but no device of the account approved them. */
export function uncertified(devices: readonly OwnDevice[]): OwnDevice[] {
	return devices.filter((d) => d.status === "approved" && !d.certified);
}

/** The devices of this account, as the relay lists them and the account's signed list certifies them. */
export class Devices {
	constructor(
		private readonly store: MessengerStore,
		private readonly client: DevicesClient,
		private readonly notices: Notices,
	) {}

	async refresh(): Promise<void> {
		try {
			this.store.update({ devices: await this.client.devices() });
		} catch (err) {
			this.notices.report(err);
		}
	}

	/**
	 * Remove a device. One that was lost or stolen still holds the account's identity key, so
	 * with `resetIdentity` a new key replaces it right after (every contact sees the change).
	 */
	async revoke(deviceId: string, opts: { resetIdentity?: boolean } = {}): Promise<void> {
		await this.client.revokeDevice(deviceId);
		if (opts.resetIdentity) await this.client.resetIdentity();
		await this.refresh();
	}

	/**
	 * A `device` event about a device of this account; only an approved device keeps the list.
	 * An approval shows once the list is fetched again: whether the account's signed list
	 * certifies the device is known only then, and until then it would read as uncertified.
	 * A claim of a code this device showed comes as a link request too (see DeviceLinks); one
	 * of a code another device showed is only news here.
	 */
	changed(event: "pending" | "approved" | "revoked", device: DeviceInfo): void {
		if (this.store.state.phase !== "ready") return;
		if (event === "approved") {
			void this.refresh();
			return;
		}
		this.store.update({ devices: withDevice(this.store.state.devices, device) });
		if (event === "pending" && this.client.checkLinkRequest(device) === "not_here") {
			this.notices.notify(`A new device, “${device.name}”, waits for approval on the device that showed its link code.`, "info");
		}
	}
}
