/**
 * An axe-core scan of the web app's main views (the contact list, a chat with messages and
 * its actions menu, Contact info, Devices, Credits) at laptop and phone size: no serious or
 * critical violation (the widget's scan is in widget.test.ts, on its host page). Along the
 * way, the keyboard model of the conversation (the message list is one tab stop, arrow keys
 * inside it; Escape and a click or the focus elsewhere close what was opened) and its layout
 * (Contact info never covers the composer; a notice moves nothing).
 */
import type { Locator, Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFactory, registerMember } from "../support/sdk-clients.ts";
import { allowCallsFrom, composer, message, openChat, openDevices, pageWidths, sendMessage, waitForCallPhase } from "./app-driver.ts";
import { violations } from "./axe.ts";
import { closeProfilesAfterEach, PHONE, relayAndChromiumForFile, screenshot, UI_TIMEOUT_MS } from "./browser.ts";
import { aliceInBrowserAndBob } from "./web-and-sdk.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);
const DESKTOP = { width: 1280, height: 800 };

afterEach(() => factory.closeAll());

type Box = { x: number; y: number; width: number; height: number };

async function box(locator: Locator): Promise<Box> {
	const found = await locator.boundingBox();
	if (!found) throw new Error(`${locator} is not shown`);
	return found;
}

/** The focused element: a message (by its text), or a control (by its name). */
const focused = (page: Page) =>
	page.evaluate(`(() => {
		const el = document.activeElement;
		if (el?.matches("li.message")) return "message: " + (el.querySelector(".message-text")?.textContent ?? "");
		return el?.getAttribute("aria-label") ?? el?.textContent ?? null;
	})()`);

/** Elements inside the message list that Tab stops at. */
const tabStopsInList = (page: Page) =>
	page.evaluate(`[...document.querySelectorAll("ol.message-list *")].filter((el) => el.tabIndex >= 0 && !el.disabled).length`);

/** Whether what is painted at the middle of the element `selector` finds is it (nothing lies over it). */
const onTop = (page: Page, selector: string) =>
	page.evaluate(`(() => {
		const el = document.querySelector(${JSON.stringify(selector)});
		const r = el.getBoundingClientRect();
		const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
		return top !== null && el.contains(top);
	})()`);

type Focusable = { ownerDocument: { activeElement: unknown } };
const hasFocus = (locator: Locator) => locator.evaluate((el: Focusable) => el === el.ownerDocument.activeElement);

async function press(page: Page, ...keys: string[]): Promise<void> {
	for (const key of keys) await page.keyboard.press(key);
}

/** Tab presses from the focused element until the composer has the focus (at most `max`). */
async function tabsToComposer(page: Page, max = 10): Promise<number> {
	for (let presses = 1; presses <= max; presses++) {
		await page.keyboard.press("Tab");
		if (await hasFocus(composer(page))) return presses;
	}
	return Number.POSITIVE_INFINITY;
}

/** The conversation by keyboard: one tab stop, arrows between messages, Enter or ArrowRight into one, Escape out. */
async function keyboardThroughTheList(page: Page, newest: string): Promise<void> {
	await page.locator(".chat-header .info-button").focus();
	await press(page, "Tab");
	expect(await focused(page)).toBe(`message: ${newest}`);
	expect(await tabStopsInList(page)).toBe(1);
	await press(page, "ArrowUp");
	expect(await focused(page)).toBe("message: Message 5");
	await press(page, "Home");
	expect(await focused(page)).toBe("message: Hello, see https://example.com/page");
	// Into the message: its link, then its actions; ArrowLeft from the first comes back out.
	await press(page, "ArrowRight");
	expect(await focused(page)).toBe("https://example.com/page");
	await press(page, "ArrowRight");
	expect(await focused(page)).toBe("Message actions");
	await press(page, "ArrowLeft", "ArrowLeft");
	expect(await focused(page)).toBe("message: Hello, see https://example.com/page");
	await press(page, "End", "ArrowUp", "ArrowUp");
	expect(await focused(page)).toBe("message: Message 4");
	await press(page, "Enter");
	expect(await focused(page)).toBe("Message actions");
	await press(page, "Escape");
	expect(await focused(page)).toBe("message: Message 4");
	expect(await tabStopsInList(page)).toBe(1);
	// Tab leaves the list: the attach button, then the message field.
	expect(await tabsToComposer(page)).toBeLessThanOrEqual(3);
	// And comes back in on the message last focused.
	await press(page, "Shift+Tab", "Shift+Tab");
	expect(await focused(page)).toBe("message: Message 4");
}

/** The actions menu closes on Escape (focus back on its button), on a click elsewhere, and when the focus leaves it. */
async function menuCloses(page: Page, text: string): Promise<void> {
	const bubble = message(page, text);
	const opener = bubble.getByRole("button", { name: "Message actions" });
	const menu = bubble.getByRole("menu", { name: "Message actions" });
	await opener.click();
	await menu.waitFor();
	await page.getByRole("heading", { name: /^@/ }).click();
	await menu.waitFor({ state: "detached" });
	await opener.focus();
	await press(page, "Enter");
	expect(await focused(page)).toBe("Reply");
	await press(page, "Shift+Tab");
	await menu.waitFor({ state: "detached" });
	await opener.focus();
	await press(page, "Enter");
	await menu.waitFor();
	await press(page, "Escape");
	await menu.waitFor({ state: "detached" });
	expect(await focused(page)).toBe("Message actions");
}

/** Contact info beside the chat on a wide screen, over its messages on a phone: the composer stays in view and usable. */
async function contactInfoLayout(page: Page, size: { width: number; height: number }): Promise<void> {
	const details = page.locator("#contact-details");
	const field = composer(page);
	const send = page.locator("form.composer button.send");
	for (const part of [details, field, send]) {
		const b = await box(part);
		expect(b.x).toBeGreaterThanOrEqual(0);
		expect(b.y).toBeGreaterThanOrEqual(0);
		expect(b.x + b.width).toBeLessThanOrEqual(size.width + 0.5);
		expect(b.y + b.height).toBeLessThanOrEqual(size.height + 0.5);
	}
	expect(await onTop(page, 'form.composer textarea[name="message"]')).toBe(true);
	expect(await onTop(page, "form.composer button.send")).toBe(true);
	const panel = await box(details);
	const form = await box(page.locator("form.composer"));
	if (size.width >= 960) {
		// Beside: to the right of the messages and of the composer, over neither.
		const list = await box(page.locator(".chat > .messages"));
		expect(panel.x).toBeGreaterThanOrEqual(list.x + list.width - 0.5);
		expect(panel.x).toBeGreaterThanOrEqual(form.x + form.width - 0.5);
	} else {
		// A sheet over the messages, down to the composer and not over it.
		expect(panel.y + panel.height).toBeLessThanOrEqual(form.y + 0.5);
		expect(panel.height).toBeGreaterThan(size.height / 2);
	}
}

describe("accessibility", () => {
	it("has no serious or critical axe violation in the main views, at laptop and phone size, and works by keyboard", async () => {
		const { page, bob, alice, handle } = await aliceInBrowserAndBob(e2e, track, factory);
		await page.setViewportSize(DESKTOP);
		await bob.client.sendText(alice, "Hello, see https://example.com/page");
		for (let i = 1; i <= 5; i++) await bob.client.sendText(alice, `Message ${i}`);
		await message(page, "Message 5").waitFor({ timeout: UI_TIMEOUT_MS });
		await sendMessage(page, "Hi Bob");
		await message(page, "Hi Bob")
			.locator(".delivery")
			.getByText(/Delivered|Read/)
			.waitFor();

		// A notice comes over the layout: the composer and the header stay where they were.
		const before = [await box(page.locator("form.composer")), await box(page.locator(".chat-header"))];
		const carol = await registerMember(factory, "carol");
		await carol.client.requestContact(handle);
		await page.getByText(`@${carol.account.handle} asks to be your contact.`).waitFor();
		expect([await box(page.locator("form.composer")), await box(page.locator(".chat-header"))]).toEqual(before);

		await keyboardThroughTheList(page, "Hi Bob");
		await menuCloses(page, "Hi Bob");

		const found: string[] = [];
		for (const size of [DESKTOP, PHONE]) {
			await page.setViewportSize(size);
			const at = `${size.width}px`;
			await openChat(page, bob.account.handle);
			found.push(...(await violations(page, `chat ${at}`)));
			await message(page, "Hi Bob").getByRole("button", { name: "Message actions" }).click();
			found.push(...(await violations(page, `message menu ${at}`)));
			await page.keyboard.press("Escape");
			const info = page.locator(".chat-header .info-button");
			await info.click();
			await contactInfoLayout(page, size);
			await screenshot(page, `contact-info-${at}`);
			found.push(...(await violations(page, `contact info ${at}`)));
			// Closed with Escape from inside it on a laptop, with its own Close on a phone; the focus goes back to its button.
			if (size === DESKTOP) {
				await page.locator("#contact-details").getByRole("button", { name: "Report…" }).focus();
				await page.keyboard.press("Escape");
			} else {
				await page.locator("#contact-details").getByRole("button", { name: "Close", exact: true }).click();
			}
			await page.locator("#contact-details").waitFor({ state: "detached" });
			expect(await hasFocus(info)).toBe(true);
			const [contentWidth, viewportWidth] = await pageWidths(page);
			expect(contentWidth).toBeLessThanOrEqual(viewportWidth);
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

		// The call screen, ringing and then missed: Bob (the SDK) calls Alice, who allowed his calls.
		await page.setViewportSize(DESKTOP);
		await openChat(page, bob.account.handle);
		await allowCallsFrom(page, bob.account.handle);
		const call = await bob.client.startCall(alice, { video: true, sdp: "v=0\r\n" });
		await waitForCallPhase(page, "incoming");
		found.push(...(await violations(page, "incoming call")));
		await bob.client.sendCallSignal(call.callId, { kind: "hangup" });
		await waitForCallPhase(page, "ended");
		found.push(...(await violations(page, "missed call")));
		await page.getByRole("button", { name: "Close" }).click();
		await page.getByTestId("call-log").getByText("Missed video call").waitFor();
		found.push(...(await violations(page, "chat with a call log line")));
		expect(found).toEqual([]);
	});
});
