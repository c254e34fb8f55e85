/**
 * An axe-core scan of the web app's main views (the contact list, a chat with messages and
 * its actions menu, Contact info, Devices, Credits) at laptop and phone size: no serious or
 * critical violation. axe runs in the page itself, on the rendered DOM and computed styles,
 * so contrast is judged on what Chromium paints.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFactory } from "../support/sdk-clients.ts";
import { message, openChat, openDevices, sendMessage } from "./app-driver.ts";
import { closeProfilesAfterEach, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";
import { aliceInBrowserAndBob } from "./web-and-sdk.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

afterEach(() => factory.closeAll());

/** The serious and critical violations axe finds in the page as it is now, one line each. */
async function violations(page: Page, view: string): Promise<string[]> {
	// Evaluated through the DevTools protocol: the app's CSP rightly refuses an injected script.
	if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.evaluate(AXE_SOURCE);
	const found = (await page.evaluate(
		`axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) })))`,
	)) as Array<{ id: string; impact: string; targets: string[] }>;
	return found
		.filter((v) => v.impact === "serious" || v.impact === "critical")
		.map((v) => `${view}: ${v.id} (${v.impact}) at ${v.targets.join(", ")}`);
}

describe("accessibility", () => {
	it("has no serious or critical axe violation in the main views, at laptop and phone size", async () => {
		const { page, bob, alice } = await aliceInBrowserAndBob(e2e, track, factory);
		await bob.client.sendText(alice, "Hello, see https://example.com/page");
		await message(page, "Hello, see").waitFor({ timeout: UI_TIMEOUT_MS });
		await sendMessage(page, "Hi Bob");
		await message(page, "Hi Bob")
			.locator(".delivery")
			.getByText(/Delivered|Read/)
			.waitFor();
		const found: string[] = [];
		for (const size of [
			{ width: 1100, height: 720 },
			{ width: 390, height: 844 },
		]) {
			await page.setViewportSize(size);
			const at = `${size.width}px`;
			await openChat(page, bob.account.handle);
			found.push(...(await violations(page, `chat ${at}`)));
			await message(page, "Hi Bob").getByRole("button", { name: "Message actions" }).click();
			found.push(...(await violations(page, `message menu ${at}`)));
			await page.keyboard.press("Escape");
			await page.getByRole("button", { name: /Contact info/ }).click();
			found.push(...(await violations(page, `contact info ${at}`)));
			await page.getByRole("button", { name: /Close info|Contact info/ }).click();
			await openDevices(page);
			found.push(...(await violations(page, `devices ${at}`)));
			await page
				.getByRole("navigation")
				.getByRole("button", { name: /credit/ })
				.click();
			found.push(...(await violations(page, `credits ${at}`)));
			await page
				.getByRole("navigation")
				.getByRole("button", { name: /credit/ })
				.click();
		}
		expect(found).toEqual([]);
	});
});
