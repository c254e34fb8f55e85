/**
 * Desktop notifications in real Chromium: offered once there is a contact, shown through the
 * app's service worker for a message that arrives while nobody looks at the app, and not for
 * the chat open on a visible page nor for a muted contact. The notifications are read back
 * from the service worker's registration (getNotifications), as the browser holds them: nothing
 * in the app is wrapped.
 *
 * Headless Chromium reports every page `visible`, whatever is in front; what it can do is a
 * window without the focus: a second page brought to the front, and the DevTools protocol's
 * focus emulation (which Playwright turns on for every page) turned off for the first, so that
 * its document.hasFocus() says what a real browser says when another window is in front.
 */
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFactory, registerMember } from "../support/sdk-clients.ts";
import { contactButton, message, openChat, openContactInfo, openDevices, requestContact, signUp } from "./app-driver.ts";
import { violations } from "./axe.ts";
import { closeProfilesAfterEach, newProfile, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);

afterEach(() => factory.closeAll());

/** The notifications the browser shows for the app, as its service worker's registration lists them. */
function shownNotifications(page: Page): Promise<Array<{ title: string; body: string; tag: string }>> {
	return page.evaluate(`navigator.serviceWorker.ready
		.then((registration) => registration.getNotifications())
		.then((shown) => shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag })))`);
}

const attention = (page: Page): Promise<{ visibility: string; focused: boolean }> =>
	page.evaluate("({ visibility: document.visibilityState, focused: document.hasFocus() })");

describe("desktop notifications", () => {
	it("are offered after a first contact, then notify of a message while the window is in the background, but not for the open chat nor a muted contact", async () => {
		// Playwright's contexts deny every permission not listed; a person's browser has not been asked yet.
		const profile = track(await newProfile(e2e.browser));
		await profile.context.clearPermissions();
		const { page } = await signUp(profile, e2e.server.baseUrl, "alice");
		const offer = page.getByRole("region", { name: "Notifications" });
		// Never on a first load: nobody to hear from yet.
		expect(await offer.count()).toBe(0);
		const [bob, carol] = await Promise.all([registerMember(factory, "bob"), registerMember(factory, "carol")]);
		let alice = "";
		for (const member of [bob, carol]) {
			await member.client.connect();
			const requested = member.client.waitFor("contact", (c) => c.event === "requested", UI_TIMEOUT_MS);
			await requestContact(page, member.account.handle);
			alice = (await requested).contact.accountId;
			await member.client.acceptContact(alice);
			await contactButton(page, member.account.handle).filter({ hasNotText: "waiting" }).waitFor();
		}

		// Offered now that there is a contact. Headless Chromium can show no prompt, so it answers
		// "no"; the person then allows them in the site settings (granted through the context), and
		// the app sees it without a reload.
		await offer.getByText("Get notified of new messages").waitFor();
		expect(await violations(page, "the notification offer")).toEqual([]);
		await offer.getByRole("button", { name: "Turn on" }).click();
		await offer.waitFor({ state: "detached" });
		await page.context().grantPermissions(["notifications"], { origin: e2e.server.baseUrl });
		await openDevices(page);
		const enabled = page.getByRole("checkbox", { name: "Notify me of new messages and calls" });
		await enabled.waitFor();
		expect(await enabled.isChecked()).toBe(true);
		expect(await page.getByRole("checkbox", { name: "Show message text in notifications" }).isChecked()).toBe(false);

		// Carol is muted from her contact info; then Bob's chat is open.
		await openChat(page, carol.account.handle);
		await openContactInfo(page);
		await page.getByRole("checkbox", { name: "Mute notifications" }).check();
		await page.getByText(`Messages from @${carol.account.handle} show no notification on this device.`).waitFor();
		await page.getByRole("button", { name: "Close info" }).click();
		await openChat(page, bob.account.handle);
		await page.evaluate("navigator.serviceWorker.ready.then(() => true)");

		// Another window in front: the app's window is visible but has no focus.
		const other = await page.context().newPage();
		await other.bringToFront();
		const cdp = await page.context().newCDPSession(page);
		await cdp.send("Emulation.setFocusEmulationEnabled", { enabled: false });
		expect(await attention(page)).toEqual({ visibility: "visible", focused: false });

		// Bob's chat is open on a visible page: his message is on screen (and read), so no notification.
		await bob.client.sendText(alice, "seen on screen");
		await message(page, "seen on screen").waitFor();
		expect(await shownNotifications(page)).toEqual([]);

		// Carol is muted: her message is counted unread, and notifies nothing.
		await carol.client.sendText(alice, "muted words");
		await contactButton(page, carol.account.handle).locator(".badge").waitFor();
		expect(await shownNotifications(page)).toEqual([]);

		// Carol's chat open instead, the window still in the background: Bob's next message
		// notifies, under his handle, without its text (previews are off). Nothing of Carol's shows.
		// A click event dispatched in the page, not through Chromium's input (which would give the window the focus again).
		await contactButton(page, carol.account.handle).dispatchEvent("click");
		await page.getByRole("heading", { name: `@${carol.account.handle}` }).waitFor();
		expect(await attention(page)).toEqual({ visibility: "visible", focused: false });
		await bob.client.sendText(alice, "secret plans");
		await expect
			.poll(() => shownNotifications(page), { timeout: UI_TIMEOUT_MS })
			.toEqual([{ title: `@${bob.account.handle}`, body: "New message", tag: `message:${bob.account.accountId}` }]);
	});
});
