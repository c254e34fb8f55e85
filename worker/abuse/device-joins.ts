import type { DeviceInfo } from "../protocol/wire.ts";

/**
 * Anyone who knows a handle can ask to join its account, so a stranger can hold at most this
 * many places at once; the account's own devices see every ask and can reject it.
 */
export const PENDING_DEVICES_AT_ONCE = 3;

/** An ask that no device approved or rejected within a day lapses, so it stops holding a place. */
export const PENDING_LAPSE_MS = 86_400_000;

/** Asks that have waited too long: the relay rejects them before it counts places. */
export function lapsedAsks(devices: readonly DeviceInfo[], now: number): DeviceInfo[] {
	return devices.filter((d) => d.status === "pending" && now - d.createdAt >= PENDING_LAPSE_MS);
}

/**
 * Why a new device may not ask to join, or null if it may. Approved and waiting devices
 * together stay within `max`, so every ask that was let in can also be approved.
 */
export function joinRefusal(devices: readonly DeviceInfo[], max: number): string | null {
	const pending = devices.filter((d) => d.status === "pending").length;
	const approved = devices.filter((d) => d.status === "approved").length;
	if (approved + pending >= max) {
		return pending > 0
			? `An account can have at most ${max} devices, counting those waiting for approval. Approve or reject the waiting ones, or remove a device.`
			: `An account can have at most ${max} devices. Remove one first.`;
	}
	if (pending >= PENDING_DEVICES_AT_ONCE) {
		return `${pending} devices are already waiting for approval on this account. Approve or reject them first.`;
	}
	return null;
}

/** Why an approval would take the account past `max` approved devices, or null. */
export function approvalRefusal(devices: readonly DeviceInfo[], max: number): string | null {
	const approved = devices.filter((d) => d.status === "approved").length;
	return approved >= max ? `An account can have at most ${max} devices. Remove one first.` : null;
}
