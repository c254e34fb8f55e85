import { describe, expect, it } from "vitest";
import { errorText, isKnownErrorCode } from "../../client/app/error-text.ts";
import { SdkError, type UntrustedReason } from "../../client/core/sdk-error.ts";

const said = (
	code: ConstructorParameters<typeof SdkError>[0],
	message: string,
	context?: Parameters<typeof errorText>[1],
	retryAfter?: number,
) => errorText(new SdkError(code, message, retryAfter === undefined ? {} : { retryAfter }), context);

describe("error texts of protocol v2", () => {
	it("knows the client's new codes", () => {
		expect(isKnownErrorCode("identity_changed")).toBe(true);
		expect(isKnownErrorCode("untrusted")).toBe(true);
		expect(said("identity_changed", "The identity key of x changed since you verified it.", "send")).toBe(
			"This contact's safety number changed since you verified it. Look at the new number in the chat and acknowledge it before you send again.",
		);
	});

	it("says what a failed security check was about, by the SDK's reason, and something general for the rest", () => {
		const untrusted = (reason?: UntrustedReason) => errorText(new SdkError("untrusted", "any wording", reason ? { reason } : {}));
		expect(untrusted("link_claim")).toMatch(/^A device tried to use your link code/);
		expect(untrusted("link_approval")).toMatch(/^The approval of this device failed a security check/);
		expect(untrusted("device_list")).toMatch(/^The server sent a list of devices that failed a security check/);
		expect(untrusted("rotation")).toMatch(/^The server asked for a new conversation key/);
		expect(untrusted()).toBe(
			"Something the server sent failed a security check, so this app did not use it. If this keeps happening, the server may be tampering with keys.",
		);
	});

	it("explains a link code that is not one by its form, though the SDK's message mentions a handle", () => {
		const text = said("bad_request", "That is not a link code: the link code does not start with a handle.", "link");
		expect(text).toMatch(/^That is not a link code\. It looks like alice-/);
		// Elsewhere a message about a handle still gets the handle's rules.
		expect(said("bad_request", "handle: too short", "register")).toBe("A handle is 3 to 32 letters (a–z), digits or underscores.");
	});

	it("says the same for every code the relay does not take, as the relay does, and the device name's rules", () => {
		expect(said("not_found", "This link code is not valid: it may have expired or been used.", "link")).toBe(
			"This link code is not valid: it may have expired or been used. Ask your other device for a new one.",
		);
		expect(said("bad_request", "deviceName: too long", "link")).toBe("A device name is 1 to 64 characters.");
		expect(said("rate_limited", "Too many registrations from this address.", "register", 60_000)).toBe(
			"Too many accounts were just created from this network. You can create yours in 1 min.",
		);
		expect(said("rate_limited", "slow down", "link", 90_000)).toBe(
			"Too many devices tried to join lately, this account or from this network. Please try again in 1 min 30 s.",
		);
	});

	it("explains a report refused by the daily limit, and that blocking still works", () => {
		expect(said("rate_limited", "You can file 5 reports a day.", "report", 5 * 3_600_000)).toBe(
			"You have made as many reports today as the server takes. You can report again in 5 h; you can block this contact now.",
		);
	});

	it("explains the refusals of making and approving link codes", () => {
		expect(said("rate_limited", "3 open", "link-code", 120_000)).toBe(
			"Three link codes are open already: use or cancel one of them first. You can make another in 2 min.",
		);
		expect(said("forbidden", "Approve a new device on the device that shows its link code.", "device")).toBe(
			"Approve a new device on the device that shows its link code.",
		);
	});
});
