import { describe, expect, it } from "vitest";
import { signOutRisk } from "../../client/app/features/sign-out.ts";
import { deviceOf } from "./client-fakes.ts";

describe("what signing a device out costs", () => {
	const laptop = deviceOf("laptop", "approved");
	const phone = deviceOf("phone", "approved");

	it("nothing lasting while another approved device of the account goes on", () => {
		expect(signOutRisk([laptop, phone], laptop.deviceId, { hasKey: false })).toBe("other_devices");
	});

	it("the recovery key is the way back when this is the last device, and the account when there is none", () => {
		const others = [laptop, deviceOf("old phone", "revoked"), deviceOf("new phone", "pending")];
		expect(signOutRisk(others, laptop.deviceId, { hasKey: true })).toBe("recovery_key");
		expect(signOutRisk(others, laptop.deviceId, { hasKey: false })).toBe("account_lost");
		// Not known yet whether there is a key: the stronger warning, not the milder one.
		expect(signOutRisk(others, laptop.deviceId, { hasKey: null })).toBe("account_lost");
	});

	it("the stronger warning while the device list is not loaded", () => {
		expect(signOutRisk(null, laptop.deviceId, { hasKey: true })).toBe("recovery_key");
		expect(signOutRisk(null, laptop.deviceId, { hasKey: false })).toBe("account_lost");
	});
});
