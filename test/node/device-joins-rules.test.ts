import { describe, expect, it } from "vitest";
import type { DeviceInfo } from "../../common/protocol/wire.ts";
import { approvalRefusal, type DeviceJoinRules, joinRefusal, lapsedAsks } from "../../worker/abuse/device-joins.ts";

// wrangler.toml's defaults: 10 devices an account, a claimed device waiting for approval lapses after 24 h.
const MAX = 10;
const HOUR = 3_600_000;
const RULES: DeviceJoinRules = { lapseMs: 24 * HOUR };
const NOW = 1_700_000_000_000;

let serial = 0;
function device(status: DeviceInfo["status"], createdAt = NOW - HOUR): DeviceInfo {
	serial += 1;
	return { deviceId: `device${String(serial).padStart(16, "0")}`, publicKey: "A".repeat(43), name: `device ${serial}`, status, createdAt };
}
const many = (count: number, status: DeviceInfo["status"]) => Array.from({ length: count }, () => device(status));

describe("lapsedAsks", () => {
	it("lapses an ask that has waited exactly 24 h, and not one that waited 1 ms less", () => {
		const due = device("pending", NOW - 24 * HOUR);
		const fresh = device("pending", NOW - 24 * HOUR + 1);
		expect(lapsedAsks([due, fresh], NOW, RULES)).toEqual([due]);
	});

	it("never lapses approved or revoked devices, however old", () => {
		const old = NOW - 365 * 24 * HOUR;
		expect(lapsedAsks([device("approved", old), device("revoked", old)], NOW, RULES)).toEqual([]);
	});

	it("lapses every ask past its time and keeps their order", () => {
		const a = device("pending", NOW - 30 * HOUR);
		const b = device("approved", NOW - 30 * HOUR);
		const c = device("pending", NOW - 25 * HOUR);
		expect(lapsedAsks([a, b, c], NOW, RULES)).toEqual([a, c]);
	});
});

describe("joinRefusal", () => {
	it("lets a new device ask while approved and waiting devices stay under the maximum", () => {
		expect(joinRefusal([], MAX)).toBeNull();
		expect(joinRefusal(many(9, "approved"), MAX)).toBeNull();
		expect(joinRefusal([...many(7, "approved"), ...many(2, "pending")], MAX)).toBeNull();
	});

	it("refuses an ask once 10 devices are approved, telling the owner to remove one", () => {
		expect(joinRefusal(many(10, "approved"), MAX)).toBe("An account can have at most 10 devices. Remove one first.");
	});

	it("counts waiting devices toward the maximum, so every ask let in can also be approved", () => {
		expect(joinRefusal([...many(8, "approved"), ...many(2, "pending")], MAX)).toBe(
			"An account can have at most 10 devices, counting those waiting for approval. Approve or reject the waiting ones, or remove a device.",
		);
	});

	it("does not count revoked devices", () => {
		expect(joinRefusal([...many(9, "approved"), ...many(20, "revoked")], MAX)).toBeNull();
	});
});

describe("approvalRefusal", () => {
	it("allows approving while fewer than 10 devices are approved, whatever waits", () => {
		expect(approvalRefusal([...many(9, "approved"), ...many(3, "pending")], MAX)).toBeNull();
	});

	it("refuses an approval that would take the account past 10 approved devices", () => {
		expect(approvalRefusal(many(10, "approved"), MAX)).toBe("An account can have at most 10 devices. Remove one first.");
	});

	it("does not count revoked devices", () => {
		expect(approvalRefusal([...many(9, "approved"), ...many(5, "revoked")], MAX)).toBeNull();
	});
});
