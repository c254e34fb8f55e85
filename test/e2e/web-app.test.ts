import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import {
	acceptRequest,
	becomeContacts,
	composer,
	connectionState,
	contactButton,
	conversationTexts,
	headerTrust,
	losableNetwork,
	message,
	openChat,
	pageWidths,
	requestContact,
	requestFrom,
	sendMessage,
	signUp,
	storeUnshowableMessage,
	tabTo,
	uniqueHandle,
	waitForDelivery,
} from "./app-driver.ts";
import { closeProfilesAfterEach, LAPTOP, launchChromium, newProfile, PHONE, type Profile, screenshot, UI_TIMEOUT_MS } from "./browser.ts";
import { tinyPng } from "./tiny-png.ts";

let server: DevServer;
let browser: Browser;
const track = closeProfilesAfterEach();

beforeAll(async () => {
	[server, browser] = await Promise.all([startDevServer({ vars: RELAXED_LIMITS }), launchChromium()]);
});

afterAll(async () => {
	await browser?.close();
	await server?.dispose();
});

async function person(prefix: string, viewport = LAPTOP): Promise<{ profile: Profile; page: Page; handle: string }> {
	const profile = track(await newProfile(browser, viewport));
	return { profile, ...(await signUp(profile, server.baseUrl, prefix)) };
}

/** Two people in two browser profiles who became contacts through the UI, each with the chat open. */
async function contacts(viewports: [typeof LAPTOP, typeof LAPTOP] = [LAPTOP, LAPTOP]) {
	const alice = await person("alice", viewports[0]);
	const bob = await person("bob", viewports[1]);
	await becomeContacts(alice, bob);
	return { alice, bob };
}

/** Edit a message sent from this page through its menu, at the price it shows. */
async function editOwnMessage(page: Page, text: string, newText: string): Promise<void> {
	const mine = message(page, text);
	await mine.getByRole("button", { name: "Message actions" }).click();
	await mine.getByRole("menuitem", { name: "Edit · 2 credits" }).click();
	await mine.getByLabel("New text").fill(newText);
	await mine.getByRole("button", { name: "Save · 2 credits" }).click();
}

/** Delete a message sent from this page for everyone, confirming at the price it shows. */
async function deleteOwnMessage(page: Page, text: string): Promise<void> {
	const mine = message(page, text);
	await mine.getByRole("button", { name: "Message actions" }).click();
	await mine.getByRole("menuitem", { name: "Delete for everyone · 1 credit" }).click();
	await mine.getByRole("button", { name: "Yes, delete · 1 credit" }).click();
}

describe("the web app in two browser profiles", () => {
	it("creates two accounts that become contacts and exchange messages both ways, with typing, delivery, price, allowance and charges shown, and nothing wider than a phone", async () => {
		const { alice, bob } = await contacts([LAPTOP, PHONE]);

		await sendMessage(alice.page, "Hello Bob! Is the <b>encryption</b> on? ✓");
		await message(bob.page, "Hello Bob! Is the <b>encryption</b> on? ✓").waitFor();
		await waitForDelivery(alice.page, "Hello Bob!", "delivered");
		// User content is text, never markup.
		expect(await bob.page.locator("li.message b").count()).toBe(0);

		await composer(bob.page).pressSequentially("Yes, end to");
		await alice.page.getByText(`@${bob.handle} is typing…`).waitFor();
		await composer(bob.page).press("End");
		await composer(bob.page).pressSequentially(" end.");
		await composer(bob.page).press("Enter");
		await message(alice.page, "Yes, end to end.").waitFor();
		await waitForDelivery(bob.page, "Yes, end to end.", "delivered");
		expect(await conversationTexts(alice.page)).toEqual(["Hello Bob! Is the <b>encryption</b> on? ✓", "Yes, end to end."]);

		// The price is shown before sending, and the balance and the day's allowance after it.
		await alice.page.getByRole("button", { name: /Send · 4 credits/ }).waitFor();
		await alice.page.getByText("A message costs 4 credits. · 999996 credits left · 9999 messages left today", { exact: true }).waitFor();

		// On a phone-sized screen nothing scrolls sideways, not even a long unbroken word.
		const long = `https://example.com/${"a-very-long-path-".repeat(12)}end`;
		await sendMessage(alice.page, long);
		await message(bob.page, long).waitFor();
		const [contentWidth, viewportWidth] = await pageWidths(bob.page);
		expect(viewportWidth).toBe(PHONE.width);
		expect(contentWidth).toBeLessThanOrEqual(viewportWidth);

		await screenshot(alice.page, "chat-view");
		await screenshot(bob.page, "chat-view-phone");

		await alice.page
			.getByRole("navigation")
			.getByRole("button", { name: /credits$/ })
			.click();
		await alice.page.getByRole("heading", { name: "Credits", exact: true }).waitFor();
		await alice.page.getByRole("cell", { name: "Starting balance" }).waitFor();
		// Both messages are charged (the relay settles charges before listing them): a row each,
		// or one row for the two when they reached the ledger in the same flush.
		const charges = alice.page
			.getByRole("table")
			.filter({ hasText: "Balance" })
			.getByRole("row")
			.filter({ hasText: /text message/i });
		const texts = async () => {
			const rows = await charges.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
			return rows.reduce(
				(sum, [, what = "", change = "0"]) => ({
					count: sum.count + (Number.parseInt(what, 10) || 1),
					credits: sum.credits + Number(change),
				}),
				{ count: 0, credits: 0 },
			);
		};
		await expect.poll(texts, { timeout: UI_TIMEOUT_MS }).toEqual({ count: 2, credits: -8 });
		await screenshot(alice.page, "credits-panel");
	});

	it("shows unread counts for a conversation that is not open, and clears them when it is opened", async () => {
		const { alice, bob } = await contacts();
		await bob.page.getByRole("button", { name: "Devices" }).click();
		await sendMessage(alice.page, "one");
		await sendMessage(alice.page, "two");
		const unread = contactButton(bob.page, alice.handle).getByText("2 unread", { exact: true });
		await unread.waitFor();
		// Polled from here: waitForFunction would poll through eval(), which the app's CSP forbids.
		await expect.poll(() => bob.page.title(), { timeout: UI_TIMEOUT_MS }).toBe("(2) Secure Messaging");
		await openChat(bob.page, alice.handle);
		await unread.waitFor({ state: "detached" });
		await expect.poll(() => bob.page.title(), { timeout: UI_TIMEOUT_MS }).toBe("Secure Messaging");
	});

	it("lets someone who closed the app, and then lost the network, catch up on what was sent meanwhile, in order, without a reload", async () => {
		const { alice, bob } = await contacts();
		await bob.page.close();
		const network = await losableNetwork(bob.profile.context);

		for (const text of ["while you were away 1", "while you were away 2", "while you were away 3"]) {
			await sendMessage(alice.page, text);
			await waitForDelivery(alice.page, text, "sent");
		}

		const back = await bob.profile.newPage();
		await back.goto(server.baseUrl);
		await openChat(back, alice.handle);
		await message(back, "while you were away 3").waitFor();
		expect(await conversationTexts(back)).toEqual(["while you were away 1", "while you were away 2", "while you were away 3"]);
		await waitForDelivery(alice.page, "while you were away 3", "delivered");
		await connectionState(back).getByText("Connected").waitFor();

		// On a phone, where the top bar is tightest: its connection state has a slot of its own,
		// so losing the network moves neither the bar nor the chat under it.
		await back.setViewportSize(PHONE);
		// The trust badge comes once the device's trust record is read: measured before it, the
		// title shrank when it came (a CI run under load), which is not the network's doing.
		await headerTrust(back).waitFor();
		const layout = () =>
			Promise.all([
				back.locator(".topbar").boundingBox(),
				back.locator("#chat-title").boundingBox(),
				back.locator("form.composer").boundingBox(),
			]);
		const online = await layout();
		await network.goOffline();
		await connectionState(back).getByText("Offline").waitFor();
		expect(await layout()).toEqual(online);
		for (const text of ["while you were offline 1", "while you were offline 2"]) {
			await sendMessage(alice.page, text);
			await waitForDelivery(alice.page, text, "sent");
		}
		await network.goOnline();
		await connectionState(back).getByText("Connected").waitFor();
		await message(back, "while you were offline 2").waitFor();
		expect((await conversationTexts(back)).slice(3)).toEqual(["while you were offline 1", "while you were offline 2"]);
		await waitForDelivery(alice.page, "while you were offline 2", "delivered");
		await sendMessage(back, "back online");
		await message(alice.page, "back online").waitFor();
	});

	it("keeps the history and the keys across a page reload, and shows a message it cannot render as one bubble saying so", async () => {
		const { alice, bob } = await contacts();
		await sendMessage(alice.page, "before the reload");
		await message(bob.page, "before the reload").waitFor();

		// A record the app cannot show takes only its own bubble down, not the chat.
		await storeUnshowableMessage(bob.page);
		await bob.page.reload();
		await openChat(bob.page, alice.handle);
		await message(bob.page, "before the reload").waitFor();
		await message(bob.page, "This message cannot be shown.").waitFor();
		await sendMessage(bob.page, "after the reload, same keys");
		await message(alice.page, "after the reload, same keys").waitFor();
		await sendMessage(alice.page, "and back");
		await message(bob.page, "and back").waitFor();
		expect(await conversationTexts(bob.page)).toEqual([
			"before the reload",
			"after the reload, same keys",
			"and back",
			"This message cannot be shown.",
		]);
	});

	it("declines a request, which the requester sees; takes the next one, made by keyboard alone; then blocks, after which a message looks sent and never arrives", async () => {
		const alice = await person("alice");
		const bob = await person("bob");
		await requestContact(alice.page, bob.handle);
		await requestFrom(bob.page, alice.handle).getByRole("button", { name: "Decline" }).click();
		await contactButton(alice.page, bob.handle).getByText("declined", { exact: true }).waitFor();

		// Asking again, opening the chat and writing, with the keyboard only.
		await tabTo(alice.page, alice.page.getByLabel("Handle of the person to add"));
		await alice.page.keyboard.type(bob.handle);
		await alice.page.keyboard.press("Enter");
		await alice.page.getByText(`Request sent to @${bob.handle}.`).waitFor();
		await acceptRequest(bob.page, alice.handle);
		const accepted = contactButton(alice.page, bob.handle).filter({ hasNotText: /waiting|declined/ });
		await accepted.waitFor();
		await tabTo(alice.page, accepted);
		await alice.page.keyboard.press("Enter");
		await alice.page.getByRole("heading", { name: `@${bob.handle}` }).waitFor();
		await tabTo(alice.page, composer(alice.page));
		await alice.page.keyboard.type("asking nicely this time");
		await alice.page.keyboard.press("Enter");
		await openChat(bob.page, alice.handle);
		await message(bob.page, "asking nicely this time").waitFor();

		await bob.page.getByRole("button", { name: "Contact info" }).click();
		await bob.page.getByRole("button", { name: "Block…" }).click();
		await bob.page.getByRole("button", { name: `Yes, block @${alice.handle}` }).click();
		await bob.page.getByText(`You blocked @${alice.handle}. They are not told.`).waitFor();
		await contactButton(bob.page, alice.handle).getByText("blocked", { exact: true }).waitFor();
		await sendMessage(alice.page, "hello?");
		// Blocking is silent (blocking.test.ts has the whole of it): her message looks sent.
		await waitForDelivery(alice.page, "hello?", "sent");
		expect(await message(bob.page, "hello?").count()).toBe(0);

		// A request can be blocked straight from the list too; the requester is not told.
		const carol = await person("carol");
		await requestContact(carol.page, bob.handle);
		await requestFrom(bob.page, carol.handle).getByRole("button", { name: "Block" }).click();
		await contactButton(bob.page, carol.handle).getByText("blocked", { exact: true }).waitFor();
		await contactButton(carol.page, bob.handle).getByText("request sent, waiting").waitFor();
	});

	it("shows a contact's safety number, the same on both sides, and blocks and reports", async () => {
		const { alice, bob } = await contacts();
		for (const side of [alice.page, bob.page]) await side.getByRole("button", { name: "Contact info" }).click();
		const [mine, theirs] = await Promise.all([alice.page, bob.page].map((p) => p.getByTestId("safety-number").getAttribute("data-digits")));
		expect(mine).toMatch(/^(\d{5} ){11}\d{5}$/);
		expect(mine).toBe(theirs);

		await bob.page.getByRole("button", { name: "Report…" }).click();
		await bob.page.getByLabel("What happened?").fill("Spam about crypto coins");
		await bob.page.getByRole("button", { name: "Send report" }).click();
		await bob.page.getByText(`You reported and blocked @${alice.handle}.`).waitFor();
		await bob.page.getByText("You blocked").or(contactButton(bob.page, alice.handle).getByText("blocked")).first().waitFor();

		// Blocking is silent, also when it comes with a report: to her the message looks sent.
		await sendMessage(alice.page, "are you there?");
		await waitForDelivery(alice.page, "are you there?", "sent");

		// Unblocked from the same place; what came meanwhile stays gone, what comes next arrives.
		await bob.page.getByRole("button", { name: `Unblock @${alice.handle}` }).click();
		await bob.page.getByText(`You unblocked @${alice.handle}. What they sent while blocked is not delivered.`).waitFor();
		await contactButton(bob.page, alice.handle).filter({ hasNotText: "blocked" }).waitFor();
		await sendMessage(alice.page, "back again");
		await message(bob.page, "back again").waitFor();
		expect(await message(bob.page, "are you there?").count()).toBe(0);
		await sendMessage(bob.page, "welcome back");
		await message(alice.page, "welcome back").waitFor();
	});

	it("edits and deletes a sent message for everyone, with the price shown first", async () => {
		const { alice, bob } = await contacts();
		await sendMessage(alice.page, "See you at 5");
		await message(bob.page, "See you at 5").waitFor();

		await editOwnMessage(alice.page, "See you at 5", "See you at 6");
		await message(bob.page, "See you at 6").getByText("edited").waitFor();
		expect(await conversationTexts(bob.page)).toEqual(["See you at 6"]);

		await deleteOwnMessage(alice.page, "See you at 6");
		await message(bob.page, "This message was deleted.").waitFor();
		await message(alice.page, "This message was deleted.").waitFor();
	});

	it("shows a message edited while its recipient was away once, edited, and nothing of one deleted meanwhile", async () => {
		const { alice, bob } = await contacts();
		await bob.page.close();
		await sendMessage(alice.page, "See you at 5");
		await waitForDelivery(alice.page, "See you at 5", "sent");
		await editOwnMessage(alice.page, "See you at 5", "See you at 6");
		await message(alice.page, "See you at 6").getByText("edited").waitFor();
		await sendMessage(alice.page, "Bring the cake");
		await waitForDelivery(alice.page, "Bring the cake", "sent");
		await deleteOwnMessage(alice.page, "Bring the cake");
		await message(alice.page, "This message was deleted.").waitFor();
		await sendMessage(alice.page, "Last one");
		await waitForDelivery(alice.page, "Last one", "sent");

		const back = await bob.profile.newPage();
		await back.goto(server.baseUrl);
		await openChat(back, alice.handle);
		await message(back, "Last one").waitFor();
		await message(back, "See you at 6").getByText("edited").waitFor();
		expect(await conversationTexts(back)).toEqual(["See you at 6", "Last one"]);
		// Bob's device acked only the edit (it took the original's place in the queue), and
		// Alice's message shows as delivered all the same.
		await waitForDelivery(alice.page, "See you at 6", "delivered");
		// Kept as the message itself, so it survives a reload the same way.
		await back.reload();
		await openChat(back, alice.handle);
		await message(back, "Last one").waitFor();
		expect(await conversationTexts(back)).toEqual(["See you at 6", "Last one"]);
	});

	it("shows a PNG inline on both sides, from its copy in the browser after a reload, and offers another file for download with its name and size", async () => {
		const { alice, bob } = await contacts();
		await alice.page.getByLabel("Attach a file").setInputFiles({ name: "gradient.png", mimeType: "image/png", buffer: tinyPng(48, 32) });
		await alice.page.getByRole("button", { name: "Send file · 8 credits" }).click();
		const image = (page: Page) => message(page, "gradient.png").getByRole("img", { name: "gradient.png" });
		// Decoded from an object URL of the decrypted bytes (CSP img-src blob:).
		const decodedWidth = (page: Page) =>
			image(page).evaluate((img: { complete: boolean; naturalWidth: number }) => (img.complete ? img.naturalWidth : 0));
		await expect.poll(() => decodedWidth(bob.page), { timeout: UI_TIMEOUT_MS }).toBe(48);
		await expect.poll(() => decodedWidth(alice.page), { timeout: UI_TIMEOUT_MS }).toBe(48);
		expect(await image(bob.page).getAttribute("src")).toMatch(/^blob:/);
		await screenshot(bob.page, "chat-inline-image");

		// Bob's only device fetched it, so the relay deleted the blob: from now on the image comes from this browser.
		await bob.page.reload();
		await openChat(bob.page, alice.handle);
		await expect.poll(() => decodedWidth(bob.page), { timeout: UI_TIMEOUT_MS }).toBe(48);

		const content = Buffer.from(`a small file, sealed in the browser ${"✓".repeat(2000)}`);
		await alice.page.getByLabel("Attach a file").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: content });
		await alice.page.getByRole("button", { name: "Send file · 8 credits" }).click();
		const atBob = message(bob.page, "notes.txt");
		await atBob.getByText("6 KB", { exact: true }).waitFor();
		expect(await atBob.getByRole("img").count()).toBe(0);
		const [download] = await Promise.all([bob.page.waitForEvent("download"), atBob.getByRole("button", { name: "Download" }).click()]);
		expect(download.suggestedFilename()).toBe("notes.txt");
		expect(readFileSync(await download.path())).toEqual(content);
		// Uploads and downloads are over: no progress bar is left behind.
		await waitForDelivery(alice.page, "notes.txt", "delivered");
		expect(await alice.page.locator("progress").count()).toBe(0);
		expect(await bob.page.locator("progress").count()).toBe(0);
	});

	it("shows an upload's progress bar while a larger file is sealed and sent, and none once it arrived", async () => {
		const { alice, bob } = await contacts();
		// Just under the 1 MB tier an untrusted account may send: long enough to see the bar.
		const content = Buffer.alloc(1024 * 1024 - 1, 7);
		// A local upload can be over between two of the locator's polls: the page itself records
		// every progress bar that was ever in its document.
		await alice.page.evaluate(`
			window.progressSeen = [];
			new MutationObserver(() => {
				for (const bar of document.querySelectorAll("progress")) {
					const label = bar.getAttribute("aria-label");
					if (label && !window.progressSeen.includes(label)) window.progressSeen.push(label);
				}
			}).observe(document.body, { childList: true, subtree: true });
		`);
		await alice.page.getByLabel("Attach a file").setInputFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: content });
		await alice.page.getByRole("button", { name: "Send file · 8 credits" }).click();
		await message(bob.page, "big.bin").waitFor();
		expect(await alice.page.evaluate("window.progressSeen")).toContain("Uploading big.bin");
		await waitForDelivery(alice.page, "big.bin", "delivered");
		expect(await alice.page.locator("progress").count()).toBe(0);
	});

	it("explains a refusal by the server in a sentence, never with a raw code", async () => {
		const { page, handle } = await person("carol");
		await page.getByLabel("Handle of the person to add").fill(uniqueHandle("nobody"));
		await page.getByRole("button", { name: "Add", exact: true }).click();
		await page.getByText("No one uses that handle.").waitFor();
		expect(await page.locator("body").textContent()).not.toMatch(/not_found|bad_request/);

		const other = track(await newProfile(browser));
		const second = await other.newPage();
		await second.goto(server.baseUrl);
		await second.getByLabel("Choose a handle").fill(handle);
		await second.getByRole("button", { name: "Create account" }).click();
		// The form's error line, whatever it says, so that a failure shows what the app said instead.
		const refusal = second.getByRole("form", { name: "Create an account" }).getByRole("alert");
		await refusal.waitFor();
		expect(await refusal.textContent()).toBe("That handle is taken. Please choose another one.");
	});
});
