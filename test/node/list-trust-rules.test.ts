import { describe, expect, it } from "vitest";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import type { TrustRecord } from "../../client/core/key-store.ts";
import { checkDeviceList, rotationDue, sendingBlocked } from "../../client/core/list-trust.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { type ListedDevice, signDeviceList } from "../../common/protocol/device-list.ts";

const ACCOUNT = toB64u(randomBytes(16));
const identity = generateAccountIdentity();
const device = (): ListedDevice => ({ deviceId: toB64u(randomBytes(16)), publicKey: toB64u(randomBytes(32)) });
const [laptop, phone] = [device(), device()];
const list = (version: number, devices: ListedDevice[], opts: { lastRemoval?: number; by?: typeof identity } = {}) =>
	signDeviceList(
		{ accountId: ACCOUNT, version, lastRemoval: opts.lastRemoval ?? 0, identityKey: toB64u((opts.by ?? identity).publicKey), devices },
		(opts.by ?? identity).seed,
	);
const trusted = (l: ReturnType<typeof list>, verified = false): TrustRecord => ({
	accountId: ACCOUNT,
	identityKey: l.identityKey,
	list: l,
	verified,
});
const now = 1_000;

describe("checking a contact's signed device list", () => {
	it("pins the identity key on first use", () => {
		const v1 = list(1, [laptop]);
		expect(checkDeviceList({ accountId: ACCOUNT, list: v1, known: undefined, now })).toEqual({ kind: "trusted", record: trusted(v1) });
	});

	it("refuses a list for another account, a forged signature, and one whose devices were changed after signing", () => {
		const v1 = list(1, [laptop]);
		expect(checkDeviceList({ accountId: toB64u(randomBytes(16)), list: v1, known: undefined, now }).kind).toBe("refused");
		const forged = { ...v1, signature: toB64u(randomBytes(64)) };
		expect(checkDeviceList({ accountId: ACCOUNT, list: forged, known: undefined, now })).toMatchObject({
			kind: "refused",
			reason: /signature/,
		});
		const ghost = { ...v1, devices: [...v1.devices, device()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1)) };
		expect(checkDeviceList({ accountId: ACCOUNT, list: ghost, known: undefined, now })).toMatchObject({
			kind: "refused",
			reason: /signature/,
		});
	});

	it("refuses a rollback to an older version, and a second list under a version already seen", () => {
		const v1 = list(1, [laptop]);
		const v2 = list(2, [laptop, phone]);
		expect(checkDeviceList({ accountId: ACCOUNT, list: v1, known: trusted(v2), now })).toMatchObject({ kind: "refused", reason: /older/ });
		const otherV2 = list(2, [laptop]);
		expect(checkDeviceList({ accountId: ACCOUNT, list: otherV2, known: trusted(v2), now })).toMatchObject({
			kind: "refused",
			reason: /same version/,
		});
		expect(checkDeviceList({ accountId: ACCOUNT, list: v2, known: trusted(v2), now })).toMatchObject({ kind: "trusted" });
	});

	it("takes a newer list under the pinned key, keeping the verified mark", () => {
		const v3 = list(3, [laptop, phone]);
		expect(checkDeviceList({ accountId: ACCOUNT, list: v3, known: trusted(list(2, [laptop]), true), now })).toEqual({
			kind: "trusted",
			record: trusted(v3, true),
		});
	});

	it("reports a new identity key as a change, and a verified contact's change blocks sending until acknowledged", () => {
		const other = generateAccountIdentity();
		const reset = list(3, [laptop], { by: other });
		const verdict = checkDeviceList({ accountId: ACCOUNT, list: reset, known: trusted(list(2, [laptop]), true), now });
		expect(verdict).toMatchObject({ kind: "trusted", identityChanged: { from: toB64u(identity.publicKey), wasVerified: true } });
		if (verdict.kind !== "trusted") throw new Error("unreachable");
		expect(verdict.record).toMatchObject({
			identityKey: toB64u(other.publicKey),
			verified: false,
			changed: { at: now, wasVerified: true },
		});
		expect(sendingBlocked(verdict.record)).toBe(true);
		const unverified = checkDeviceList({ accountId: ACCOUNT, list: reset, known: trusted(list(2, [laptop])), now });
		expect(unverified.kind === "trusted" && sendingBlocked(unverified.record)).toBe(false);
	});

	it("still refuses a new identity key on a list older than the one seen", () => {
		const other = generateAccountIdentity();
		const old = list(1, [laptop], { by: other });
		expect(checkDeviceList({ accountId: ACCOUNT, list: old, known: trusted(list(2, [laptop])), now }).kind).toBe("refused");
	});
});

describe("checking this account's own list", () => {
	const own = { identityKey: toB64u(identity.publicKey), device: laptop };

	it("needs this account's identity key and this device in it", () => {
		expect(checkDeviceList({ accountId: ACCOUNT, list: list(1, [laptop]), known: undefined, own, now }).kind).toBe("trusted");
		expect(checkDeviceList({ accountId: ACCOUNT, list: list(2, [phone]), known: undefined, own, now })).toMatchObject({
			kind: "refused",
			reason: /does not list this device/,
		});
		const stranger = generateAccountIdentity();
		expect(checkDeviceList({ accountId: ACCOUNT, list: list(1, [laptop], { by: stranger }), known: undefined, own, now })).toMatchObject({
			kind: "refused",
			reason: /identity key/,
		});
	});
});

describe("when a contact key is rotated", () => {
	const other = toB64u(randomBytes(16));
	const theirs = (version: number, lastRemoval: number) => ({ ...list(version, [laptop], { lastRemoval }), accountId: other });

	it("only when a list of either account removed a device after the key's envelope was made", () => {
		const keyLists = { [ACCOUNT]: 2, [other]: 5 };
		expect(rotationDue(keyLists, [list(2, [laptop]), theirs(5, 0)])).toBe(false);
		expect(rotationDue(keyLists, [list(4, [laptop, phone], { lastRemoval: 2 }), theirs(6, 5)])).toBe(false);
		expect(rotationDue(keyLists, [list(3, [laptop], { lastRemoval: 3 }), theirs(5, 0)])).toBe(true);
		expect(rotationDue(keyLists, [list(2, [laptop]), theirs(6, 6)])).toBe(true);
	});
});
