import { describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys } from "../../common/nacl.ts";
import { type DeviceListBody, type ListedDevice, type SignedDeviceList, signDeviceList } from "../../common/protocol/device-list.ts";
import { type ListChange, type ListState, listVerdict } from "../../worker/relay/devices/device-list-rules.ts";

const ACCOUNT = "AAAAAAAAAAAAAAAAAAAAAA";
const identity = generateDeviceKeys();
const IDENTITY_KEY = toB64u(identity.publicKey);

let serial = 0;
function device(): ListedDevice {
	serial += 1;
	return { deviceId: `dev${String(serial).padStart(19, "0")}`, publicKey: toB64u(generateDeviceKeys().publicKey) };
}

const laptop = device();
const phone = device();
const tablet = device();

function signed(body: Partial<DeviceListBody> & { devices: ListedDevice[] }, seed = identity.seed): SignedDeviceList {
	return signDeviceList({ accountId: ACCOUNT, version: 1, lastRemoval: 0, identityKey: IDENTITY_KEY, ...body }, seed);
}

/** The account as it is before each change: a list at version 4 (a removal at 3) naming the approved devices. */
const stored = signed({ version: 4, lastRemoval: 3, devices: [laptop, phone] });
const state = (over: Partial<ListState> = {}): ListState => ({
	accountId: ACCOUNT,
	registeredIdentityKey: IDENTITY_KEY,
	stored,
	approved: [laptop, phone],
	...over,
});
const unlisted = state({ stored: null, approved: [laptop] });

const code = (s: ListState, candidate: SignedDeviceList | undefined, change: ListChange) => {
	const verdict = listVerdict(s, candidate, change);
	return verdict.ok ? verdict.kind : verdict.code;
};

const publish: ListChange = { op: "publish", caller: laptop.deviceId };
const approveTablet: ListChange = { op: "approve", device: tablet };
const removePhone: ListChange = { op: "remove", device: phone, status: "approved" };

describe("the first device list", () => {
	it("is taken at version 1 with lastRemoval 0, signed by the registered identity key, naming the approved devices", () => {
		expect(code(unlisted, signed({ devices: [laptop] }), publish)).toBe("first");
	});

	it("is refused when signed by another identity key than the registered one", () => {
		const other = generateDeviceKeys();
		expect(code(unlisted, signed({ devices: [laptop], identityKey: toB64u(other.publicKey) }, other.seed), publish)).toBe("unauthorized");
		expect(code({ ...unlisted, registeredIdentityKey: null }, signed({ devices: [laptop] }), publish)).toBe("unauthorized");
	});

	it("is refused as conflict at any other version or lastRemoval", () => {
		expect(code(unlisted, signed({ version: 2, devices: [laptop] }), publish)).toBe("conflict");
		expect(code(unlisted, signed({ lastRemoval: 1, devices: [laptop] }), publish)).toBe("conflict");
	});

	it("is refused as bad_request when its devices are not exactly the approved ones with their keys", () => {
		expect(code(unlisted, signed({ devices: [] }), publish)).toBe("bad_request");
		expect(code(unlisted, signed({ devices: [laptop, phone] }), publish)).toBe("bad_request");
		expect(code(unlisted, signed({ devices: [{ ...laptop, publicKey: phone.publicKey }] }), publish)).toBe("bad_request");
	});

	it("is refused when it hands the identity key to anyone, even to nobody in an empty list of envelopes", () => {
		expect(code(unlisted, signed({ devices: [laptop] }), { ...publish, envelopesFor: [] })).toBe("bad_request");
	});

	it("is not taken twice: once a list is stored, the same identity key changes devices only by approval or removal", () => {
		expect(code(state(), signed({ version: 5, lastRemoval: 3, devices: [laptop, phone] }), publish)).toBe("conflict");
	});
});

describe("every list", () => {
	const candidate = signed({ version: 5, lastRemoval: 3, devices: [laptop, phone, tablet] });

	it("is refused as bad_request when it is another account's", () => {
		const theirs = signDeviceList({ ...candidate, accountId: "BBBBBBBBBBBBBBBBBBBBBB" }, identity.seed);
		expect(code(state(), theirs, approveTablet)).toBe("bad_request");
	});

	it("is refused as unauthorized with a bad signature, or with a field changed after signing", () => {
		const flipped = `${candidate.signature[0] === "A" ? "B" : "A"}${candidate.signature.slice(1)}`;
		expect(code(state(), { ...candidate, signature: flipped }, approveTablet)).toBe("unauthorized");
		expect(code(state(), { ...candidate, lastRemoval: 4 }, approveTablet)).toBe("unauthorized");
		expect(code(state(), { ...candidate, devices: [...candidate.devices].reverse() }, approveTablet)).toBe("unauthorized");
	});

	it("is refused as bad_request when a change needs one and none is given", () => {
		expect(code(state(), undefined, approveTablet)).toBe("bad_request");
		expect(code(state(), undefined, removePhone)).toBe("bad_request");
	});
});

describe("an approval's list", () => {
	it("is taken as the next version, lastRemoval kept, with the approved devices and the new one", () => {
		expect(code(state(), signed({ version: 5, lastRemoval: 3, devices: [tablet, phone, laptop] }), approveTablet)).toBe("next");
	});

	it("is refused as conflict while the account has no list", () => {
		expect(code(unlisted, signed({ version: 2, devices: [laptop, tablet] }), approveTablet)).toBe("conflict");
	});

	it("is refused as unauthorized when signed by another identity key", () => {
		const other = generateDeviceKeys();
		const list = signed({ version: 5, lastRemoval: 3, identityKey: toB64u(other.publicKey), devices: [laptop, phone, tablet] }, other.seed);
		expect(code(state(), list, approveTablet)).toBe("unauthorized");
	});

	it("is refused as conflict at a version that skips one, and at the stored version or an older one (a rollback)", () => {
		for (const version of [6, 4, 3]) {
			expect([version, code(state(), signed({ version, lastRemoval: 3, devices: [laptop, phone, tablet] }), approveTablet)]).toEqual([
				version,
				"conflict",
			]);
		}
	});

	it("is refused as bad_request when it moves lastRemoval", () => {
		expect(code(state(), signed({ version: 5, lastRemoval: 5, devices: [laptop, phone, tablet] }), approveTablet)).toBe("bad_request");
	});

	it("is refused as bad_request without the new device, with it under another key, or without an approved device", () => {
		expect(code(state(), signed({ version: 5, lastRemoval: 3, devices: [laptop, phone] }), approveTablet)).toBe("bad_request");
		const wrongKey = { ...tablet, publicKey: laptop.publicKey };
		expect(code(state(), signed({ version: 5, lastRemoval: 3, devices: [laptop, phone, wrongKey] }), approveTablet)).toBe("bad_request");
		expect(code(state(), signed({ version: 5, lastRemoval: 3, devices: [laptop, tablet] }), approveTablet)).toBe("bad_request");
	});
});

describe("a removal's list", () => {
	it("is taken as the next version with lastRemoval at that version, without the removed device", () => {
		expect(code(state(), signed({ version: 5, lastRemoval: 5, devices: [laptop] }), removePhone)).toBe("next");
	});

	it("may be empty when the last device goes", () => {
		const alone = state({ stored: signed({ version: 2, devices: [laptop] }), approved: [laptop] });
		expect(code(alone, signed({ version: 3, lastRemoval: 3, devices: [] }), { op: "remove", device: laptop, status: "approved" })).toBe(
			"next",
		);
	});

	it("is refused as bad_request when it still names the device, or leaves lastRemoval behind", () => {
		expect(code(state(), signed({ version: 5, lastRemoval: 5, devices: [laptop, phone] }), removePhone)).toBe("bad_request");
		expect(code(state(), signed({ version: 5, lastRemoval: 3, devices: [laptop] }), removePhone)).toBe("bad_request");
	});

	it("is refused as conflict at a version that is not the next one", () => {
		expect(code(state(), signed({ version: 6, lastRemoval: 6, devices: [laptop] }), removePhone)).toBe("conflict");
		expect(code(state(), signed({ version: 4, lastRemoval: 4, devices: [laptop] }), removePhone)).toBe("conflict");
	});

	it("is not needed for a pending device, which no list names, and a list given for one is bad_request", () => {
		const pending: ListChange = { op: "remove", device: tablet, status: "pending" };
		expect(code(state(), undefined, pending)).toBe("none");
		expect(code(state(), signed({ version: 5, lastRemoval: 5, devices: [laptop, phone] }), pending)).toBe("bad_request");
		// Not even the account's first list is needed for that.
		expect(code(unlisted, undefined, pending)).toBe("none");
	});
});

describe("an identity reset", () => {
	const other = generateDeviceKeys();
	const NEW_KEY = toB64u(other.publicKey);
	const reset = (body: Partial<DeviceListBody> = {}) =>
		signed({ version: 5, lastRemoval: 3, identityKey: NEW_KEY, devices: [laptop, phone], ...body }, other.seed);
	const withEnvelopes = (envelopesFor: string[]): ListChange => ({ op: "publish", caller: laptop.deviceId, envelopesFor });

	it("is taken under a new identity key at the next version, lastRemoval kept, with the key wrapped once for every other approved device", () => {
		expect(code(state(), reset(), withEnvelopes([phone.deviceId]))).toBe("reset");
	});

	it("is refused as bad_request without an envelope for each other device, with one twice, or with one for the caller", () => {
		expect(code(state(), reset(), publish)).toBe("bad_request");
		expect(code(state(), reset(), withEnvelopes([]))).toBe("bad_request");
		expect(code(state(), reset(), withEnvelopes([phone.deviceId, phone.deviceId]))).toBe("bad_request");
		expect(code(state(), reset(), withEnvelopes([phone.deviceId, laptop.deviceId]))).toBe("bad_request");
		expect(code(state(), reset(), withEnvelopes([tablet.deviceId]))).toBe("bad_request");
	});

	it("is refused as conflict at a version that is not the next one", () => {
		expect(code(state(), reset({ version: 4 }), withEnvelopes([phone.deviceId]))).toBe("conflict");
		expect(code(state(), reset({ version: 7 }), withEnvelopes([phone.deviceId]))).toBe("conflict");
	});

	it("is refused as bad_request when it moves lastRemoval or changes the devices", () => {
		expect(code(state(), reset({ lastRemoval: 5 }), withEnvelopes([phone.deviceId]))).toBe("bad_request");
		expect(code(state(), reset({ devices: [laptop] }), withEnvelopes([]))).toBe("bad_request");
	});
});
