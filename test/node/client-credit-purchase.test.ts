import { describe, expect, it, vi } from "vitest";
import { formatPrice } from "../../client/app/prices.ts";
import { takePurchaseReturn } from "../../client/app/purchase-return.ts";

describe("coming back from Stripe Checkout", () => {
	const history = () => ({ state: { kept: true }, replaceState: vi.fn() });

	it("reads ?credits=added or ?credits=cancelled once and takes it out of the address bar, keeping the rest", () => {
		const h = history();
		expect(takePurchaseReturn({ href: "https://relay.example/?credits=added" }, h)).toBe("added");
		expect(h.replaceState).toHaveBeenCalledWith({ kept: true }, "", "/");
		const h2 = history();
		expect(takePurchaseReturn({ href: "https://relay.example/app?x=1&credits=cancelled#top" }, h2)).toBe("cancelled");
		expect(h2.replaceState).toHaveBeenCalledWith({ kept: true }, "", "/app?x=1#top");
	});

	it("leaves an address without the query alone, and drops an unknown value without announcing anything", () => {
		const h = history();
		expect(takePurchaseReturn({ href: "https://relay.example/?x=1" }, h)).toBeNull();
		expect(h.replaceState).not.toHaveBeenCalled();
		const h2 = history();
		expect(takePurchaseReturn({ href: "https://relay.example/?credits=<b>free</b>" }, h2)).toBeNull();
		expect(h2.replaceState).toHaveBeenCalledWith({ kept: true }, "", "/");
	});
});

describe("a pack's price", () => {
	it("is written from the currency's smallest unit, with that currency's decimals", () => {
		expect(formatPrice(200, "usd", "en-US")).toBe("$2.00");
		expect(formatPrice(5000, "USD", "en-US")).toBe("$50.00");
		expect(formatPrice(500, "jpy", "en-US")).toBe("¥500");
		expect(formatPrice(1000, "eur", "de-DE")).toMatch(/^10,00\s€$/);
	});
});
