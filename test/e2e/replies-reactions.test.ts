/**
 * Replies, reactions and "delete for me" in the web app, with the contact as an SDK client in
 * Node: a reply shows its quote on both sides (the SDK side gets the reference, not the text),
 * reactions show as chips with counts and change or go on both sides, and a message deleted
 * for me leaves this device only, for good.
 */
import type { Locator, Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import type { IncomingMessage } from "../../client/core/sdk.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { ClientFactory } from "../support/sdk-clients.ts";
import { composer, openChat, sendMessage } from "./app-driver.ts";
import { closeProfilesAfterEach, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";
import { aliceInBrowserAndBob } from "./web-and-sdk.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);

afterEach(() => factory.closeAll());

const aliceAndBob = () => aliceInBrowserAndBob(e2e, track, factory);

/** The bubble whose own text is `text` (a reply's quote of it does not count). */
const bubble = (page: Page, text: string): Locator =>
	page.locator("li.message").filter({ has: page.locator(".message-text").filter({ hasText: text }) });

/** Open a message's actions menu and choose `item`. */
async function choose(page: Page, text: string, item: string): Promise<void> {
	const b = bubble(page, text);
	await b.getByRole("button", { name: "Message actions" }).click();
	await b.getByRole("menu", { name: "Message actions" }).getByRole("menuitem", { name: item }).click();
}

/** The accessible name of the focused element. */
const focused = (page: Page) => page.evaluate("document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent");

const chips = (page: Page, text: string) => bubble(page, text).getByTestId("reactions").getByRole("button");

async function chipLabels(page: Page, text: string): Promise<string[]> {
	const all = chips(page, text);
	return Promise.all((await all.all()).map((c) => c.getAttribute("aria-label") as Promise<string>));
}

describe("replies", () => {
	it("quote the message answered on both sides, from each side's own copy; Escape or × cancels a reply", async () => {
		const { page, bob, alice } = await aliceAndBob();
		const lunch = await bob.client.sendText(alice, "Lunch at noon?\nOr later");
		await bubble(page, "Lunch at noon?").waitFor();

		// Started, then cancelled with Escape, then with ×.
		await choose(page, "Lunch at noon?", "Reply");
		const bar = page.getByTestId("reply-bar");
		await bar.waitFor();
		expect(await bar.textContent()).toContain(`Replying to @${bob.account.handle}: Lunch at noon?`);
		expect(await bar.textContent()).not.toContain("Or later");
		expect(
			await composer(page).evaluate((el: { ownerDocument: { activeElement: unknown } }) => el === el.ownerDocument.activeElement),
		).toBe(true);
		await page.keyboard.press("Escape");
		await bar.waitFor({ state: "detached" });
		await choose(page, "Lunch at noon?", "Reply");
		await bar.getByRole("button", { name: "Cancel the reply" }).click();
		await bar.waitFor({ state: "detached" });

		// Sent: Bob gets the reference to his message, not its text; Alice's bubble quotes it.
		await choose(page, "Lunch at noon?", "Reply");
		const arriving = bob.client.waitFor("message", (m: IncomingMessage) => m.text === "Yes, see you there", UI_TIMEOUT_MS);
		await sendMessage(page, "Yes, see you there");
		expect((await arriving).replyTo).toEqual({ id: lunch.id, from: bob.account.accountId });
		await bar.waitFor({ state: "detached" });
		const mine = bubble(page, "Yes, see you there");
		expect(await mine.getByTestId("quote").textContent()).toBe(`@${bob.account.handle}Lunch at noon?`);
		// The quote leads back to the original.
		await mine.getByTestId("quote").click();
		await bubble(page, "Lunch at noon?").waitFor();

		// Bob answers Alice's reply: her page quotes her own message; one she never had is said to be missing.
		const ours = (await arriving).id;
		await bob.client.sendText(alice, "Great", { replyTo: { id: ours, from: alice } });
		await bubble(page, "Great").waitFor();
		expect(await bubble(page, "Great").getByTestId("quote").textContent()).toBe("YouYes, see you there");
		await bob.client.sendText(alice, "And about that other thing", {
			replyTo: { id: bob.client.newMessageId(), from: bob.account.accountId },
		});
		expect(await bubble(page, "And about that other thing").getByTestId("quote").textContent({ timeout: UI_TIMEOUT_MS })).toBe(
			"Original message not available",
		);

		// Kept in the history: the quotes are still there after a reload.
		await page.reload();
		await openChat(page, bob.account.handle);
		expect(await bubble(page, "Great").getByTestId("quote").textContent({ timeout: UI_TIMEOUT_MS })).toBe("YouYes, see you there");
		expect(await bubble(page, "Yes, see you there").getByTestId("quote").textContent()).toBe(`@${bob.account.handle}Lunch at noon?`);
	});
});

describe("reactions", () => {
	it("show as chips with counts on both sides, one per person, changed and taken back from the menu, a chip or the SDK", async () => {
		const { page, bob, alice } = await aliceAndBob();
		const party = await bob.client.sendText(alice, "Party on Friday");
		await bubble(page, "Party on Friday").waitFor();
		const reactionsAtBob: IncomingMessage[] = [];
		bob.client.on("message", (m) => {
			if (m.kind === "reaction") reactionsAtBob.push(m);
		});
		const bobSees = async (emoji: string) => {
			await expect.poll(() => reactionsAtBob.at(-1)?.reaction?.emoji, { timeout: UI_TIMEOUT_MS }).toBe(emoji);
			expect(reactionsAtBob.at(-1)?.reaction?.to).toEqual({ id: party.id, from: bob.account.accountId });
		};

		// By keyboard: the menu opens with Enter, the picker is a menu too, Escape closes it and focus goes back.
		const opener = bubble(page, "Party on Friday").getByRole("button", { name: "Message actions" });
		await opener.focus();
		await page.keyboard.press("Enter");
		expect(await opener.getAttribute("aria-expanded")).toBe("true");
		expect(await focused(page)).toBe("Reply");
		await page.keyboard.press("ArrowDown");
		expect(await focused(page)).toBe("React · 1 credit");
		await page.keyboard.press("Enter");
		const picker = page.getByRole("menu", { name: "Reactions · 1 credit" });
		await picker.waitFor();
		expect(await focused(page)).toBe("React with 👍 · 1 credit");
		await page.keyboard.press("Escape");
		await picker.waitFor({ state: "detached" });
		expect(await focused(page)).toBe("Message actions");
		expect(await opener.getAttribute("aria-expanded")).toBe("false");

		// 👍 from Alice, then from Bob: one chip, counted twice.
		await choose(page, "Party on Friday", "React · 1 credit");
		await picker.getByRole("menuitemradio", { name: "React with 👍 · 1 credit" }).click();
		await chips(page, "Party on Friday").first().waitFor();
		expect(await chipLabels(page, "Party on Friday")).toEqual(["👍 1, you"]);
		await bobSees("👍");
		await bob.client.react(alice, { id: party.id, from: bob.account.accountId }, "👍");
		await expect.poll(() => chipLabels(page, "Party on Friday"), { timeout: UI_TIMEOUT_MS }).toEqual(["👍 2, you"]);
		expect(await chips(page, "Party on Friday").first().textContent()).toBe("👍 2");

		// Alice changes hers: still one per person.
		await choose(page, "Party on Friday", "React · 1 credit");
		expect(await picker.getByRole("menuitemradio", { name: "React with 👍 · 1 credit" }).getAttribute("aria-checked")).toBe("true");
		await picker.getByRole("menuitemradio", { name: "React with ❤️ · 1 credit" }).click();
		await expect.poll(() => chipLabels(page, "Party on Friday"), { timeout: UI_TIMEOUT_MS }).toEqual(["👍 1", "❤️ 1, you"]);
		await bobSees("❤️");

		// Her chip takes hers back; Bob takes his back from his side.
		await chips(page, "Party on Friday").filter({ hasText: "❤️" }).click();
		await expect.poll(() => chipLabels(page, "Party on Friday"), { timeout: UI_TIMEOUT_MS }).toEqual(["👍 1"]);
		await bobSees("");
		await bob.client.react(alice, { id: party.id, from: bob.account.accountId }, "");
		await bubble(page, "Party on Friday").getByTestId("reactions").waitFor({ state: "detached", timeout: UI_TIMEOUT_MS });

		// Bob reacts to Alice's own message; it is kept in the history across a reload.
		const snacks = bob.client.waitFor("message", (m: IncomingMessage) => m.text === "I'll bring snacks", UI_TIMEOUT_MS);
		await sendMessage(page, "I'll bring snacks");
		const ours = await snacks;
		await bob.client.react(alice, { id: ours.id, from: alice }, "😂");
		await expect.poll(() => chipLabels(page, "I'll bring snacks"), { timeout: UI_TIMEOUT_MS }).toEqual(["😂 1"]);
		await page.reload();
		await openChat(page, bob.account.handle);
		await expect.poll(() => chipLabels(page, "I'll bring snacks"), { timeout: UI_TIMEOUT_MS }).toEqual(["😂 1"]);
		expect(await bubble(page, "Party on Friday").getByTestId("reactions").count()).toBe(0);
	});
});

describe("delete for me", () => {
	it("removes a message from this device only, after a confirm, free and without a word to the relay; it stays gone after a reload", async () => {
		const { page, bob, alice } = await aliceAndBob();
		const atBob: IncomingMessage[] = [];
		bob.client.on("message", (m) => atBob.push(m));
		await bob.client.sendText(alice, "The secret plan");
		await bubble(page, "The secret plan").waitFor();
		const reply = bob.client.waitFor("message", (m: IncomingMessage) => m.text === "Got it", UI_TIMEOUT_MS);
		await sendMessage(page, "Got it");
		await reply;
		const credits = () => page.locator(".allowance").textContent();
		// Once the one text is charged, and only it.
		const charged = `${Number(RELAXED_LIMITS.STARTING_CREDITS) - 4} credits left`;
		await expect.poll(credits, { timeout: UI_TIMEOUT_MS }).toContain(charged);
		const before = await credits();

		// Cancelled first: nothing happens.
		await choose(page, "The secret plan", "Delete for me");
		await page.getByRole("group", { name: "Delete for me?" }).getByRole("button", { name: "Cancel" }).click();
		await bubble(page, "The secret plan").waitFor();

		// His message, and her own: both leave this page.
		await choose(page, "The secret plan", "Delete for me");
		await page.getByRole("button", { name: "Yes, delete for me" }).click();
		await bubble(page, "The secret plan").waitFor({ state: "detached" });
		await choose(page, "Got it", "Delete for me");
		await page.getByRole("button", { name: "Yes, delete for me" }).click();
		await bubble(page, "Got it").waitFor({ state: "detached" });
		expect(await credits()).toBe(before);

		// The conversation goes on; Bob heard nothing of the deletions (no delete reached him).
		const after = bob.client.waitFor("message", (m: IncomingMessage) => m.text === "Still there?", UI_TIMEOUT_MS);
		await sendMessage(page, "Still there?");
		await after;
		expect(atBob.map((m) => [m.kind, m.text])).toEqual([
			["text", "Got it"],
			["text", "Still there?"],
		]);

		await page.reload();
		await openChat(page, bob.account.handle);
		await bubble(page, "Still there?").waitFor({ timeout: UI_TIMEOUT_MS });
		expect(await bubble(page, "The secret plan").count()).toBe(0);
		expect(await bubble(page, "Got it").count()).toBe(0);
	});
});
