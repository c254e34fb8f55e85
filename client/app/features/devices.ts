import type { DeviceInfo } from "../../../common/protocol/wire.ts";
import type { MessengerClient } from "../../core/sdk.ts";
import type { MessengerStore } from "../store.ts";
import type { Notices } from "./notices.ts";

export type DevicesClient = Pick<MessengerClient, "devices" | "approveDevice" | "rejectDevice" | "revokeDevice">;

/** The list with `device` in place of its earlier entry, or added. */
export function withDevice(devices: readonly DeviceInfo[] | null, device: DeviceInfo): DeviceInfo[] {
	return [...(devices ?? []).filter((d) => d.deviceId !== device.deviceId), device];
}

/** The devices of this account, and the user's decisions on those that ask to join it. */
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

	async approve(deviceId: string): Promise<void> {
		await this.client.approveDevice(deviceId);
		await this.refresh();
	}

	async reject(deviceId: string): Promise<void> {
		await this.client.rejectDevice(deviceId);
		await this.refresh();
	}

	async revoke(deviceId: string): Promise<void> {
		await this.client.revokeDevice(deviceId);
		await this.refresh();
	}

	/** A `device` event about a device of this account; only an approved device keeps the list. */
	changed(event: "pending" | "approved" | "revoked", device: DeviceInfo): void {
		if (this.store.state.phase !== "ready") return;
		this.store.update({ devices: withDevice(this.store.state.devices, device) });
		if (event === "pending")
			this.notices.notify(`A new device, “${device.name}”, asks to join your account. Review it under Devices.`, "info");
	}
}
