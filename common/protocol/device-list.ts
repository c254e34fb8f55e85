import { fromB64u, toB64u } from "../encoding.ts";
import { signDetached, verifyDetached } from "../nacl.ts";

/** One approved device as the account's identity key certifies it. */
export interface ListedDevice {
	deviceId: string;
	publicKey: string;
}

/**
 * The account's approved devices, signed by its identity key. `version` grows by one with
 * every change; `lastRemoval` is the version at which a device was last taken off (0 if
 * never), which is what tells a contact that keys shared before then must be replaced.
 */
export interface DeviceListBody {
	accountId: string;
	version: number;
	lastRemoval: number;
	identityKey: string;
	devices: ListedDevice[];
}

export interface SignedDeviceList extends DeviceListBody {
	/** Ed25519 by `identityKey` over `deviceListMessage(body)`. */
	signature: string;
}

const encoder = new TextEncoder();

/** Devices in their one canonical order: by device id, plain string order (UTF-16 code units; ids are ASCII). */
export function sortDevices(devices: readonly ListedDevice[]): ListedDevice[] {
	return [...devices].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

/** A list is canonical when its devices are in strictly ascending id order (so no duplicates) and its numbers make sense. */
export function isCanonical(list: DeviceListBody): boolean {
	if (!Number.isSafeInteger(list.version) || list.version < 1) return false;
	if (!Number.isSafeInteger(list.lastRemoval) || list.lastRemoval < 0 || list.lastRemoval > list.version) return false;
	for (let i = 1; i < list.devices.length; i++) {
		if (!((list.devices[i - 1] as ListedDevice).deviceId < (list.devices[i] as ListedDevice).deviceId)) return false;
	}
	return list.devices.every((d) => !/\s/.test(d.deviceId) && !/\s/.test(d.publicKey));
}

/**
 * The signed bytes: a header line per field, then one line per device. Every field is
 * base64url or decimal, so no value can contain the separators.
 */
export function deviceListMessage(list: DeviceListBody): Uint8Array {
	const lines = [
		"sm-device-list/1",
		list.accountId,
		String(list.version),
		String(list.lastRemoval),
		list.identityKey,
		String(list.devices.length),
		...list.devices.map((d) => `${d.deviceId} ${d.publicKey}`),
	];
	return encoder.encode(`${lines.join("\n")}\n`);
}

export function signDeviceList(body: DeviceListBody, identitySeed: Uint8Array): SignedDeviceList {
	const canonical = { ...body, devices: sortDevices(body.devices) };
	if (!isCanonical(canonical))
		throw new RangeError("a device list needs version >= 1, 0 <= lastRemoval <= version and distinct device ids");
	return { ...canonical, signature: toB64u(signDetached(identitySeed, deviceListMessage(canonical))) };
}

/** Canonical, and signed by the identity key it names. Whether that is the right identity key is the caller's question. */
export function hasValidSignature(list: SignedDeviceList): boolean {
	if (!isCanonical(list)) return false;
	try {
		return verifyDetached(fromB64u(list.identityKey), deviceListMessage(list), fromB64u(list.signature));
	} catch {
		return false;
	}
}

/** The same devices with the same keys, whatever the order (a device twice on either side is never the same). */
export function sameDevices(a: readonly ListedDevice[], b: readonly ListedDevice[]): boolean {
	if (a.length !== b.length) return false;
	const keys = new Map(a.map((d) => [d.deviceId, d.publicKey]));
	// Both sides free of repeats: else [x, y] and [x, x] would pass, as would a list with an
	// extra device against approved devices that name one twice.
	const ids = new Set(b.map((d) => d.deviceId));
	return keys.size === a.length && ids.size === b.length && b.every((d) => keys.get(d.deviceId) === d.publicKey);
}
