import type { DeviceInfo } from "../../common/protocol/wire.ts";

/** From wrangler.toml (config.ts `deviceJoins`). */
export interface DeviceJoinRules {
	/**
	 * A device that claimed a link code and that no device approved or rejected within this
	 * long lapses, so it stops holding a place.
	 */
	lapseMs: number;
}

/** Devices that have waited too long: the relay rejects them before it counts places. */
export function lapsedAsks(devices: readonly DeviceInfo[], now: number, rules: DeviceJoinRules): DeviceInfo[] {
	return devices.filter((d) => d.status === "pending" && now - d.createdAt >= rules.lapseMs);
}

/**
 * Why a new device may not claim a link code, or null if it may. Approved and waiting
 * devices together stay within `max`, so every device that was let in can also be approved.
 */
export function joinRefusal(devices: readonly DeviceInfo[], max: number): string | null {
	const pending = devices.filter((d) => d.status === "pending").length;
	const approved = devices.filter((d) => d.status === "approved").length;
	if (approved + pending < max) return null;
	return pending > 0
		? `An account can have at most ${max} devices, counting those waiting for approval. Approve or reject the waiting ones, or remove a device.`
		: `An account can have at most ${max} devices. Remove one first.`;
}

/** Why an approval would take the account past `max` approved devices, or null. */
export function approvalRefusal(devices: readonly DeviceInfo[], max: number): string | null {
	const approved = devices.filter((d) => d.status === "approved").length;
	return approved >= max ? `An account can have at most ${max} devices. Remove one first.` : null;
}
