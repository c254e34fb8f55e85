import { describe, expect, it } from "vitest";
import { ledgerWhat } from "../../client/app/ledger-text.ts";

describe("what a ledger row paid for", () => {
	it("names one charge by its kind and a run of them by their number", () => {
		expect(ledgerWhat({ reason: "text" })).toBe("Text message");
		expect(ledgerWhat({ reason: "text", count: 12 })).toBe("12 text messages");
		expect(ledgerWhat({ reason: "edit", count: 2 })).toBe("2 edits");
		expect(ledgerWhat({ reason: "purchase" })).toBe("Bought credits");
		// A kind this client does not know yet is shown as the relay named it.
		expect(ledgerWhat({ reason: "sticker", count: 3 })).toBe("3 sticker");
	});
});
