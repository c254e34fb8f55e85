import { describe, expect, it, vi } from "vitest";
import { DeviceLinks, localExpiry, withRequest } from "../../client/app/features/device-links.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { formatCountdown, linkCodeGroups } from "../../client/app/link-code-text.ts";
import type { LinkRequest } from "../../client/app/store.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { deviceOf, relayId, storeWith } from "./client-fakes.ts";

const NOW = 1_000_000;
const code = (n: number) => ({ code: `alice-AAAAA${n}-BBBBBB-CCCCCC-DDDDDD`, linkId: `link${n}`, expiresAt: NOW + 600_000 });
const request = (name: string, linkId = "link1"): LinkRequest => ({
	device: { ...deviceOf(name, "pending"), link: { linkId, proof: "p" } },
	fingerprint: "12345 67890 12345 67890",
});

/** DeviceLinks over a fake SDK that hands out link1, link2, … and records every call. */
function linksOf() {
	const store = storeWith({ phase: "ready" });
	const calls: string[] = [];
	let made = 0;
	const client = {
		createLinkCode: vi.fn(async () => {
			calls.push("create");
			return code(++made);
		}),
		cancelLinkCode: vi.fn(async (linkId: string) => {
			calls.push(`cancel ${linkId}`);
		}),
		approveDevice: vi.fn(async (id: string, opts: { history?: boolean } = {}) => {
			calls.push(`approve ${id}${opts.history ? " with history" : ""}`);
			return { ...deviceOf("phone", "approved"), ...(opts.history && { historyTransferId: relayId("transfer") }) };
		}),
		rejectDevice: vi.fn(async (id: string) => {
			calls.push(`reject ${id}`);
			return deviceOf("phone", "revoked");
		}),
	};
	const devices = {
		refresh: vi.fn(async () => {
			calls.push("refresh");
		}),
	};
	const history = {
		offered: vi.fn((transferId: string, deviceId: string) => {
			calls.push(`history ${transferId} to ${deviceId}`);
		}),
	};
	return { store, client, calls, history, links: new DeviceLinks(store, client, devices, new Notices(store), history) };
}

describe("linking a new device from this one", () => {
	it("shows a code, and withdraws it before showing another, so only one is open from here", async () => {
		const app = linksOf();
		await app.links.show();
		expect(app.store.state.linkCode).toEqual(code(1));
		await app.links.show();
		expect(app.calls).toEqual(["create", "cancel link1", "create"]);
		expect(app.store.state.linkCode).toEqual(code(2));
	});

	it("hides a cancelled code at once, and takes one the relay no longer has as withdrawn", async () => {
		const app = linksOf();
		await app.links.show();
		app.client.cancelLinkCode.mockRejectedValueOnce(new SdkError("not_found", "expired"));
		await app.links.cancel();
		expect(app.store.state.linkCode).toBeNull();
		await app.links.cancel();
		expect(app.client.cancelLinkCode).toHaveBeenCalledTimes(1);
	});

	it("passes on a failure to withdraw a code that may still be open", async () => {
		const app = linksOf();
		await app.links.show();
		app.client.cancelLinkCode.mockRejectedValueOnce(new SdkError("network", "offline"));
		await expect(app.links.cancel()).rejects.toMatchObject({ code: "network" });
		expect(app.store.state.linkCode).toBeNull();
	});

	it("asks about a device that claimed the code shown here, hides the used code, and tells of it", async () => {
		const app = linksOf();
		await app.links.show();
		app.links.requested(request("phone"));
		expect(app.store.state.linkRequests).toEqual([request("phone")]);
		expect(app.store.state.linkCode).toBeNull();
		expect(app.store.state.notices.map((n) => n.text)).toEqual(["“phone” wants to join your account. Compare its number under Devices."]);
	});

	it("keeps the code shown when a claim is of an earlier code", async () => {
		const app = linksOf();
		await app.links.show();
		await app.links.show();
		app.links.requested(request("phone", "link1"));
		expect(app.store.state.linkCode).toEqual(code(2));
	});

	it("approves a device that asked, then shows the relay's list, and asks no more", async () => {
		const app = linksOf();
		app.links.requested(request("phone"));
		await app.links.approve(relayId("phone"));
		expect(app.calls).toEqual([`approve ${relayId("phone")}`, "refresh"]);
		expect(app.store.state.linkRequests).toEqual([]);
	});

	it("approves with the history: the transfer the approval made is sent, before the list is shown again", async () => {
		const app = linksOf();
		app.links.requested(request("phone"));
		await app.links.approve(relayId("phone"), { history: true });
		expect(app.calls).toEqual([
			`approve ${relayId("phone")} with history`,
			`history ${relayId("transfer")} to ${relayId("phone")}`,
			"refresh",
		]);
		expect(app.store.state.linkRequests).toEqual([]);
	});

	it("keeps asking when the approval fails, so the person can try again or reject", async () => {
		const app = linksOf();
		app.links.requested(request("phone"));
		app.client.approveDevice.mockRejectedValueOnce(new SdkError("network", "offline"));
		await expect(app.links.approve(relayId("phone"))).rejects.toMatchObject({ code: "network" });
		expect(app.store.state.linkRequests).toEqual([request("phone")]);
		await app.links.reject(relayId("phone"));
		expect(app.store.state.linkRequests).toEqual([]);
	});

	it("stops asking about a device approved, rejected or lapsed elsewhere", () => {
		const app = linksOf();
		app.links.requested(request("phone"));
		app.links.requested(request("tablet"));
		app.links.deviceChanged("pending", deviceOf("phone", "pending"));
		expect(app.store.state.linkRequests.map((r) => r.device.name)).toEqual(["phone", "tablet"]);
		app.links.deviceChanged("revoked", deviceOf("phone", "revoked"));
		app.links.deviceChanged("approved", deviceOf("tablet", "approved"));
		expect(app.store.state.linkRequests).toEqual([]);
	});

	it("keeps one request per device, the newest", () => {
		const again = { ...request("phone"), fingerprint: "99999 99999 99999 99999" };
		expect(withRequest([request("phone"), request("tablet")], again)).toEqual([request("tablet"), again]);
	});

	it("counts down by this device's clock only when it roughly agrees with the relay's", () => {
		expect(localExpiry(code(1), NOW)).toBe(NOW + 600_000);
		expect(localExpiry(code(1), NOW + 700_000)).toBeNull();
		expect(localExpiry(code(1), NOW - 2 * 60 * 60 * 1000)).toBeNull();
	});

	it("shows a code in its groups and a countdown in minutes and seconds", () => {
		expect(linkCodeGroups("alice_2-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A")).toEqual({
			handle: "alice_2",
			groups: ["K7Q2M9", "XD4HTR", "PW3CZ5", "NB8E1A"],
		});
		expect(formatCountdown(600_000)).toBe("10:00");
		expect(formatCountdown(61_001)).toBe("1:02");
		expect(formatCountdown(-5)).toBe("0:00");
	});
});
