import { hasValidSignature, type ListedDevice, type SignedDeviceList } from "../../common/protocol/device-list.ts";
import type { ListVersions } from "./contact-key.ts";
import type { TrustRecord } from "./key-store.ts";

/**
 * The checks a client makes on a signed device list before it trusts any device in it, in the
 * order PROTOCOL.md gives them. Pure: the caller fetches, stores and tells the user.
 */
export type ListVerdict =
	| { kind: "refused"; reason: string }
	/** Trusted; `record` is what to store. `identityChanged` when the key differs from the pinned one. */
	| { kind: "trusted"; record: TrustRecord; identityChanged?: { from: string; wasVerified: boolean } };

export interface ListCheck {
	/** The account the list must be for. */
	accountId: string;
	list: SignedDeviceList;
	/** What this device already trusts about the account, if anything. */
	known: TrustRecord | undefined;
	/** For this device's own account: the identity key it holds, and itself, which the list must name. */
	own?: { identityKey: string; device: ListedDevice };
	now: number;
}

export function checkDeviceList(c: ListCheck): ListVerdict {
	const { list, known } = c;
	if (list.accountId !== c.accountId) return refused("it names another account");
	if (!hasValidSignature(list)) return refused("its signature does not verify under the identity key it names");
	if (c.own && list.identityKey !== c.own.identityKey) return refused("it is not signed by this account's identity key");
	if (known) {
		if (list.version < known.list.version)
			return refused(`it is older (version ${list.version}) than one already seen (${known.list.version})`);
		if (list.version === known.list.version && list.signature !== known.list.signature) {
			return refused(`it differs from another list of the same version (${list.version})`);
		}
	}
	if (c.own && !list.devices.some((d) => d.deviceId === c.own?.device.deviceId && d.publicKey === c.own.device.publicKey)) {
		return refused("it does not list this device");
	}
	if (!known) return { kind: "trusted", record: { accountId: c.accountId, identityKey: list.identityKey, list, verified: false } };
	// For this account the key was already checked against the one this device holds (a reset
	// is taken over only from a trusted device's envelope), so a new one is simply the key now.
	if (list.identityKey === known.identityKey || c.own)
		return { kind: "trusted", record: { ...known, identityKey: list.identityKey, list } };
	// A new identity key: trusted on first use again, but never silently — a verified contact
	// stays blocked until the person looks (the record keeps that until acknowledged).
	const wasVerified = known.verified || (known.changed?.wasVerified ?? false);
	return {
		kind: "trusted",
		record: {
			accountId: c.accountId,
			identityKey: list.identityKey,
			list,
			verified: false,
			changed: { from: known.identityKey, at: c.now, wasVerified },
		},
		identityChanged: { from: known.identityKey, wasVerified },
	};
}

const refused = (reason: string): ListVerdict => ({ kind: "refused", reason: `The relay's device list was refused: ${reason}.` });

/** Whether a device (id and key) is in a verified list. */
export function lists(list: SignedDeviceList, deviceId: string, publicKey: string): boolean {
	return list.devices.some((d) => d.deviceId === deviceId && d.publicKey === publicKey);
}

/**
 * A contact key must be replaced when a device was taken off either account's list after the
 * key was shared: the list's `lastRemoval` is later than the list version the key's envelope
 * names for that account. Nothing else — least of all a relay frame — is a reason.
 */
export function rotationDue(keyLists: ListVersions, current: readonly SignedDeviceList[]): boolean {
	return current.some((list) => list.lastRemoval > (keyLists[list.accountId] ?? Number.POSITIVE_INFINITY));
}

/** Sending waits for the person to look at an identity change of a contact they had verified. */
export function sendingBlocked(record: TrustRecord | undefined): boolean {
	return record?.changed?.wasVerified === true;
}
