import { hasValidSignature, type ListedDevice, type SignedDeviceList, sameDevices } from "../../../common/protocol/device-list.ts";
import type { ErrorCode } from "../../../common/protocol/wire.ts";

/**
 * When the relay takes a new signed device list. Pure, so every rule is testable without a
 * runtime. The relay cannot make a list (it never holds the identity key), only refuse one
 * that would let its stored list and its approved devices drift apart: whatever it accepts,
 * every client still verifies for itself.
 */

/** What a candidate is checked against: the account as it is before the change. */
export interface ListState {
	accountId: string;
	/** The identity key registered with the account (D1); the first list must be signed by it. */
	registeredIdentityKey: string | null;
	stored: SignedDeviceList | null;
	approved: readonly ListedDevice[];
}

export type ListChange =
	/** POST /api/devices/list by `caller`; `envelopesFor` names the devices the identity key was wrapped for, if any. */
	| { op: "publish"; caller: string; envelopesFor?: readonly string[] }
	| { op: "approve"; device: ListedDevice }
	| { op: "remove"; device: ListedDevice; status: "pending" | "approved" };

/** `first`: the account's first list; `reset`: a new identity key; `next`: a device added or removed; `none`: no list changes. */
export type ListVerdict = { ok: true; kind: "first" | "reset" | "next" | "none" } | { ok: false; code: ErrorCode; message: string };

const accept = (kind: "first" | "reset" | "next" | "none"): ListVerdict => ({ ok: true, kind });
const refusal = (code: ErrorCode, message: string): ListVerdict => ({ ok: false, code, message });

/** A stale client sends a version it computed from an older list; a replayed list is older still. */
function versionRefusal(stored: SignedDeviceList, candidate: SignedDeviceList): ListVerdict | null {
	if (candidate.version === stored.version + 1) return null;
	if (candidate.version <= stored.version) {
		return refusal("conflict", `The device list is not newer than the account's (version ${stored.version}); fetch it again.`);
	}
	return refusal("conflict", `The next device list is version ${stored.version + 1}; fetch the account's list again.`);
}

export function listVerdict(state: ListState, candidate: SignedDeviceList | undefined, change: ListChange): ListVerdict {
	// A pending device was never listed, so taking it off changes no list.
	if (change.op === "remove" && change.status === "pending") {
		return candidate === undefined
			? accept("none")
			: refusal("bad_request", "A pending device is in no device list: reject it without one.");
	}
	if (candidate === undefined) return refusal("bad_request", "This change needs the next signed device list.");
	if (candidate.accountId !== state.accountId) return refusal("bad_request", "The device list is for another account.");
	if (!hasValidSignature(candidate)) return refusal("unauthorized", "The device list is not signed by the identity key it names.");
	if (change.op === "publish") return publishVerdict(state, candidate, change.caller, change.envelopesFor);

	const { stored } = state;
	if (stored === null) return refusal("conflict", "This account has no signed device list yet: publish the first one.");
	if (candidate.identityKey !== stored.identityKey) {
		return refusal("unauthorized", "The device list is signed by another identity key than the account's.");
	}
	const version = versionRefusal(stored, candidate);
	if (version) return version;
	if (change.op === "approve") {
		if (candidate.lastRemoval !== stored.lastRemoval) return refusal("bad_request", "Adding a device leaves lastRemoval as it was.");
		if (!sameDevices(candidate.devices, [...state.approved, change.device])) {
			return refusal("bad_request", "The device list must name every approved device and the new one, with their keys.");
		}
		return accept("next");
	}
	// lastRemoval is what tells contacts that keys shared before it must be replaced.
	if (candidate.lastRemoval !== candidate.version) return refusal("bad_request", "Removing a device sets lastRemoval to the new version.");
	const remaining = state.approved.filter((d) => d.deviceId !== change.device.deviceId);
	if (!sameDevices(candidate.devices, remaining)) {
		return refusal("bad_request", "The device list must name every approved device but the removed one, with their keys.");
	}
	return accept("next");
}

function publishVerdict(state: ListState, candidate: SignedDeviceList, caller: string, envelopesFor?: readonly string[]): ListVerdict {
	const { stored } = state;
	const mismatch = refusal("bad_request", "The device list must name exactly the approved devices, with their keys.");
	if (stored === null) {
		if (candidate.identityKey !== state.registeredIdentityKey) {
			return refusal("unauthorized", "The first device list must be signed by the identity key registered with the account.");
		}
		if (candidate.version !== 1 || candidate.lastRemoval !== 0)
			return refusal("conflict", "The first device list is version 1 with lastRemoval 0.");
		if (!sameDevices(candidate.devices, state.approved)) return mismatch;
		if (envelopesFor !== undefined)
			return refusal("bad_request", "The first device list hands the identity key to nobody: send no identityEnvelopes.");
		return accept("first");
	}
	// Under the same key, devices change only by approval and removal, which check what changed.
	if (candidate.identityKey === stored.identityKey) {
		return refusal("conflict", "The account already has a device list under this identity key; devices change by approval or removal.");
	}
	const version = versionRefusal(stored, candidate);
	if (version) return version;
	if (candidate.lastRemoval !== stored.lastRemoval) return refusal("bad_request", "An identity reset leaves lastRemoval as it was.");
	if (!sameDevices(candidate.devices, state.approved)) return mismatch;
	// Every other device must be able to go on signing lists, so each gets the new key.
	const others = state.approved.filter((d) => d.deviceId !== caller).map((d) => d.deviceId);
	const given = envelopesFor ?? [];
	if (given.length !== others.length || new Set(given).size !== given.length || others.some((d) => !given.includes(d))) {
		return refusal("bad_request", "An identity reset wraps the new identity key once for every other approved device.");
	}
	return accept("reset");
}
