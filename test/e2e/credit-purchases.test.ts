/**
 * The credits panel's shop, in the web app: without Stripe it says how this relay grants
 * credits; with Stripe it lists the packs with their prices and a Buy button each, and after
 * Checkout sends the browser back (`?credits=added`) it opens on the credits with a notice,
 * once, and the query is gone from the address bar.
 */
import { describe, expect, it } from "vitest";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { signUp } from "./app-driver.ts";
import { closeProfilesAfterEach, newProfile, relayAndChromiumForFile } from "./browser.ts";

const track = closeProfilesAfterEach();

const openCredits = (page: import("playwright-core").Page) =>
	page
		.getByRole("navigation")
		.getByRole("button", { name: /credits$/ })
		.click();

describe("the credits panel without Stripe", () => {
	const e2e = relayAndChromiumForFile();

	it("says the operator grants credits, and offers nothing to buy", async () => {
		const profile = track(await newProfile(e2e.browser));
		const { page } = await signUp(profile, e2e.server.baseUrl, "noshop");
		await openCredits(page);
		await page.getByTestId("credits-granted").waitFor();
		expect(await page.getByTestId("credits-granted").textContent()).toContain("admin API");
		expect(await page.getByRole("button", { name: /^Buy / }).count()).toBe(0);
	});
});

describe("the credits panel with Stripe", () => {
	const e2e = relayAndChromiumForFile({
		vars: { ...RELAXED_LIMITS, STRIPE_SECRET_KEY: "sk_test_e2e_only", STRIPE_WEBHOOK_SECRET: "whsec_e2e_only" },
	});

	it("lists the packs with their prices, and greets a return from Checkout once", async () => {
		const profile = track(await newProfile(e2e.browser));
		const { page } = await signUp(profile, e2e.server.baseUrl, "shop");
		await openCredits(page);
		const packs = page.getByTestId("credit-packs").getByRole("listitem");
		await packs.first().waitFor();
		const texts = await packs.allTextContents();
		expect(texts).toHaveLength(3);
		// The price as the browser's locale writes dollars ($2.00 in en-US).
		expect(texts[0]).toMatch(/^100 credits · .*2[.,]00.*Buy 100$/);
		expect(texts[1]).toMatch(/^500 credits · .*10[.,]00.*Buy 500$/);
		expect(texts[2]).toMatch(/^2500 credits · .*50[.,]00.*Buy 2500$/);
		expect(await page.getByTestId("credits-granted").count()).toBe(0);

		// Stripe's success URL: the app opens on the credits with the notice, and drops the query.
		await page.goto(`${e2e.server.baseUrl}/?credits=added`);
		await page.getByTestId("purchase-return").waitFor();
		expect(await page.getByTestId("purchase-return").textContent()).toContain("Credits added");
		await page.getByTestId("credit-balance").waitFor();
		expect(new URL(page.url()).search).toBe("");
		// Once: back home and to the credits again, no notice.
		await openCredits(page);
		await openCredits(page);
		await page.getByTestId("credit-packs").waitFor();
		expect(await page.getByTestId("purchase-return").count()).toBe(0);
	});
});
