/**
 * The contact list and search of a messenger used every day, in the web app: contacts ordered
 * by their conversation's last message, each with its preview and time; a search of this
 * device's history that ignores case and accents, marks the match and opens the message in its
 * chat; the unread divider of a chat opened with unread messages; and all of it on a phone's
 * screen. Alice is in Chromium; Bob and Carol are SDK clients in Node.
 */
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFactory, registerMember } from "../support/sdk-clients.ts";
import { contactButton, message, openChat, pageWidths, requestContact, sendMessage, signUp } from "./app-driver.ts";
import { closeProfilesAfterEach, LAPTOP, newProfile, PHONE, relayAndChromiumForFile, screenshot, UI_TIMEOUT_MS } from "./browser.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);

afterEach(() => factory.closeAll());

/** Alice signs up and asks Bob, then Carol, to be her contacts; each accepts. No chat is open. */
async function aliceBobAndCarol(viewport = LAPTOP) {
	const profile = track(await newProfile(e2e.browser, viewport));
	const { page } = await signUp(profile, e2e.server.baseUrl, "alice");
	const bob = await registerMember(factory, "bob");
	const carol = await registerMember(factory, "carol");
	await Promise.all([bob.client.connect(), carol.client.connect()]);
	let alice = "";
	for (const friend of [bob, carol]) {
		const requested = friend.client.waitFor("contact", (c) => c.event === "requested", UI_TIMEOUT_MS);
		await requestContact(page, friend.account.handle);
		alice = (await requested).contact.accountId;
		await friend.client.acceptContact(alice);
		await contactButton(page, friend.account.handle).filter({ hasNotText: "waiting" }).waitFor();
	}
	return { page, bob, carol, alice };
}

/** The handles of the contact list, top to bottom. */
const listed = (page: Page): Promise<string[]> => page.locator(".contact-list .contact-name").allTextContents();

const preview = (page: Page, handle: string, text: string) => contactButton(page, handle).locator(".contact-preview", { hasText: text });

/** An element as far as these checks read it (the tests are type-checked without the DOM's types). */
type Boxed = { getBoundingClientRect(): { top: number; bottom: number } };

const searchBox = (page: Page) => page.getByRole("searchbox", { name: "Search messages" });

describe("the contact list", () => {
	it("puts the contact whose message came last on top, with its preview and time, and counts the unread above the first of them", async () => {
		const { page, bob, carol, alice } = await aliceBobAndCarol();
		const [b, c] = [`@${bob.account.handle}`, `@${carol.account.handle}`];
		await bob.client.sendText(alice, "Bob was here first");
		await preview(page, bob.account.handle, "Bob was here first").waitFor();
		await carol.client.sendText(alice, "Carol, a bit later");
		await carol.client.sendText(alice, "and again");
		await preview(page, carol.account.handle, "and again").waitFor();
		expect(await listed(page)).toEqual([c, b]);

		// The lower contact writes: up they go, with what they wrote and when.
		await bob.client.sendText(alice, "Bob  is\nback");
		await preview(page, bob.account.handle, "Bob is back").waitFor();
		await expect.poll(() => listed(page), { timeout: UI_TIMEOUT_MS }).toEqual([b, c]);
		const time = await contactButton(page, bob.account.handle).locator("time.contact-time").textContent();
		expect(time).toMatch(/^\d{1,2}[:.]\d{2}/);
		await screenshot(page, "contact-list-by-activity");

		// Carol's two messages came while no chat was open: her chat opens at a divider with their count.
		await contactButton(page, carol.account.handle).getByText("2 unread", { exact: true }).waitFor();
		await openChat(page, carol.account.handle);
		const divider = page.locator("li.unread-divider");
		await divider.waitFor();
		expect(await divider.textContent()).toBe("2 unread messages");
		expect(await divider.getAttribute("aria-label")).toBe("2 unread messages");
		expect(await divider.evaluate((el) => el.nextElementSibling?.textContent ?? "")).toContain("Carol, a bit later");
		await screenshot(page, "unread-divider");
		// It stays while the chat is open, as the messages are read.
		await sendMessage(page, "Hi Carol");
		await preview(page, carol.account.handle, "You: Hi Carol").waitFor();
		await expect.poll(() => listed(page), { timeout: UI_TIMEOUT_MS }).toEqual([c, b]);
		expect(await divider.count()).toBe(1);
		// Opened again with nothing unread, it has none.
		await openChat(page, bob.account.handle);
		await openChat(page, carol.account.handle);
		await message(page, "Hi Carol").waitFor();
		expect(await divider.count()).toBe(0);

		// A reload reads the order and the previews back from the history on this device.
		await page.reload();
		await preview(page, carol.account.handle, "You: Hi Carol").waitFor();
		await preview(page, bob.account.handle, "Bob is back").waitFor();
		expect(await listed(page)).toEqual([c, b]);
	});
});

describe("searching the messages on this device", () => {
	it("finds a message whatever its case and accents, marks the match, and opens it in its chat, highlighted", async () => {
		const { page, bob, carol, alice } = await aliceBobAndCarol();
		await bob.client.sendText(alice, "Shall we meet at the Café Noir at six?");
		// Enough after it that the chat, which opens at its newest messages, does not show it.
		for (let i = 0; i < 12; i++) await bob.client.sendText(alice, `filler message ${i}\nwith a second line\nand a third`);
		await carol.client.sendText(alice, "<b>noir</b> is not markup");
		await preview(page, carol.account.handle, "<b>noir</b>").waitFor();

		await searchBox(page).fill("cafe NOIR");
		const results = page.getByRole("list", { name: "Messages found" });
		const result = results.getByRole("button").filter({ hasText: `@${bob.account.handle}` });
		await result.waitFor();
		expect(await result.locator("mark").textContent()).toBe("Café Noir");
		expect(await result.locator(".search-snippet").textContent()).toBe("Shall we meet at the Café Noir at six?");
		await page.getByText("1 message found").waitFor();

		// Markup in a message is text, and the mark is an element of the app's, not of the message.
		await searchBox(page).fill("NÖIR");
		await page.getByText("2 messages found").waitFor();
		const carols = results.getByRole("button").filter({ hasText: `@${carol.account.handle}` });
		expect(await carols.locator("b").count()).toBe(0);
		expect(await carols.locator("mark").textContent()).toBe("noir");
		// Newest first.
		expect(await results.getByRole("button").first().textContent()).toContain(carol.account.handle);
		await screenshot(page, "message-search");

		// One character lists nothing; Escape clears the search and the contacts are back.
		await searchBox(page).fill("n");
		await page.getByRole("list", { name: "Contacts" }).waitFor();
		await searchBox(page).fill("noir at six");
		await result.waitFor();
		await searchBox(page).press("Escape");
		expect(await searchBox(page).inputValue()).toBe("");
		await page.getByRole("list", { name: "Contacts" }).waitFor();

		// Opened (with Enter on the result): Bob's chat, the message in view, marked for a moment, and focused.
		await searchBox(page).fill("café noir");
		await result.focus();
		await page.keyboard.press("Enter");
		await page.getByRole("heading", { name: `@${bob.account.handle}` }).waitFor();
		const found = message(page, "Café Noir");
		await page.locator("li.message[data-highlight]").filter({ hasText: "Café Noir" }).waitFor();
		expect(await found.evaluate((el: { ownerDocument: { activeElement: unknown } }) => el === el.ownerDocument.activeElement)).toBe(true);
		// Scrolled into the list's view.
		const inView = await found.evaluate((el: Boxed & { closest(selector: string): Boxed | null }) => {
			const box = el.getBoundingClientRect();
			const list = el.closest(".messages")?.getBoundingClientRect();
			return list !== undefined && box.top >= list.top && box.bottom <= list.bottom;
		});
		expect(inView).toBe(true);
		await screenshot(page, "search-result-opened");
		await page.locator("li.message[data-highlight]").waitFor({ state: "detached", timeout: 5_000 });
	});
});

describe("on a phone", () => {
	it("keeps the list rows, their previews and the search results within the screen", async () => {
		const { page, bob, alice } = await aliceBobAndCarol(PHONE);
		const long = `A very long message without many breaks ${"and it goes on ".repeat(20)}to the end`;
		await bob.client.sendText(alice, long);
		await preview(page, bob.account.handle, "A very long message").waitFor();
		const row = await contactButton(page, bob.account.handle).boundingBox();
		expect(row && row.x + row.width).toBeLessThanOrEqual(PHONE.width);
		const [content, viewport] = await pageWidths(page);
		expect(content).toBeLessThanOrEqual(viewport);
		// Cut with an ellipsis on one line, not wrapped.
		const line = preview(page, bob.account.handle, "A very long message");
		const cut = await line.evaluate(
			(el: {
				scrollWidth: number;
				clientWidth: number;
				ownerDocument: { defaultView: { getComputedStyle(e: unknown): { textOverflow: string } } };
			}) => el.scrollWidth > el.clientWidth && el.ownerDocument.defaultView.getComputedStyle(el).textOverflow === "ellipsis",
		);
		expect(cut).toBe(true);
		await screenshot(page, "contact-list-phone");

		await searchBox(page).fill("goes on");
		const result = page.getByRole("list", { name: "Messages found" }).getByRole("button").first();
		await result.waitFor();
		const box = await result.boundingBox();
		expect(box && box.x + box.width).toBeLessThanOrEqual(PHONE.width);
		expect((await pageWidths(page))[0]).toBeLessThanOrEqual(PHONE.width);
		await result.click();
		await page.getByRole("heading", { name: `@${bob.account.handle}` }).waitFor();
		await page.locator("li.message[data-highlight]").waitFor();
		expect((await pageWidths(page))[0]).toBeLessThanOrEqual(PHONE.width);
	});
});
