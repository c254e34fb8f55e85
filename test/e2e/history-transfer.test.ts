/**
 * History for a newly linked device, in the web app: approving a device by its link code
 * offers it this device's history (checked by default). The history goes sealed under a
 * one-time key, with progress on both devices; a failed upload can be retried, and either
 * device can skip. The new device then shows the earlier messages and images (from the
 * archive: the relay deleted the image's blob once the first device had fetched it); a
 * device that came without them says, in its empty chats, where they are.
 */
import type { Page, Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import { HISTORY_MISSING_TEXT } from "../../client/app/history-text.ts";
import {
	becomeContacts,
	conversationTexts,
	enterLinkCode,
	message,
	openChat,
	sendMessage,
	showLinkCode,
	signUp,
	waitForDelivery,
} from "./app-driver.ts";
import {
	closeProfilesAfterEach,
	LAPTOP,
	newProfile,
	PHONE,
	type Profile,
	relayAndChromiumForFile,
	screenshot,
	UI_TIMEOUT_MS,
} from "./browser.ts";
import { tinyPng } from "./tiny-png.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();

async function person(prefix: string): Promise<{ profile: Profile; page: Page; handle: string }> {
	const profile = track(await newProfile(e2e.browser, LAPTOP));
	return { profile, ...(await signUp(profile, e2e.server.baseUrl, prefix)) };
}

/** A fresh browser profile on a phone: its page, with no account yet. */
async function newDevice(): Promise<{ profile: Profile; page: Page }> {
	const profile = track(await newProfile(e2e.browser, PHONE));
	return { profile, page: await profile.newPage() };
}

/** The first device's question about `name`. */
const linkRequest = (page: Page, name: string) => page.getByTestId("link-request").filter({ hasText: `Link “${name}”?` });
const historyCheckbox = (request: ReturnType<typeof linkRequest>) =>
	request.getByRole("checkbox", { name: "Transfer message history to this device" });

/** The history transfer shown at the top of the app. */
const transfer = (page: Page) => page.getByTestId("history-transfer");
/** Its status line (an <output>, read out as it changes). */
const transferStatus = (page: Page) => transfer(page).getByRole("status");

/** Link a new phone to the account of `first` with a code it shows; returns the phone once it waits for approval. */
async function linkPhone(first: Page, name: string): Promise<{ profile: Profile; page: Page }> {
	const code = await showLinkCode(first);
	const phone = await newDevice();
	await enterLinkCode(phone.page, e2e.server.baseUrl, code, name);
	await phone.page.getByRole("heading", { name: "Waiting for approval" }).waitFor();
	await linkRequest(first, name).waitFor();
	return phone;
}

/** The upload of the history archive, from the approving device. */
const isUpload = (route: Route) => route.request().method() === "PUT" && /\/api\/devices\/history\/[\w-]{22}$/.test(route.request().url());
/** Hold a request a moment, so that the progress it leads to can be seen. */
const held = (route: Route) => new Promise((resolve) => setTimeout(resolve, 1_500)).then(() => route.continue());

/** The width the image in the message named `name` decoded to (0 until it did). */
const decodedWidth = (page: Page, name: string) =>
	message(page, name)
		.getByRole("img", { name })
		.evaluate((img: { complete: boolean; naturalWidth: number }) => (img.complete ? img.naturalWidth : 0));

describe("history for a newly linked device", () => {
	it("sends the history to a second device after a failed upload was retried: it shows the earlier messages and image; a device linked without it says where they are", async () => {
		const alice = await person("alice");
		const bob = await person("bob");
		await becomeContacts(alice, bob);
		await sendMessage(alice.page, "Lunch on Friday?");
		await message(bob.page, "Lunch on Friday?").waitFor();
		await sendMessage(bob.page, "Yes, at noon. Here is the place:");
		await message(alice.page, "Yes, at noon. Here is the place:").waitFor();
		await bob.page.getByLabel("Attach a file").setInputFiles({ name: "map.png", mimeType: "image/png", buffer: tinyPng(48, 32) });
		await bob.page.getByRole("button", { name: /^Send file/ }).click();
		// Alice's only device opened it, so the relay deleted the blob: a new device can only get it from the history.
		await expect.poll(() => decodedWidth(alice.page, "map.png"), { timeout: UI_TIMEOUT_MS }).toBe(48);
		await waitForDelivery(bob.page, "map.png", "delivered");

		// The first upload of the history fails on the way; the second goes, slowly enough to watch.
		let uploads = 0;
		await alice.profile.context.route("**/api/devices/history/**", (route) => {
			if (!isUpload(route)) return route.continue();
			return ++uploads === 1 ? route.abort("connectionfailed") : held(route);
		});
		const tablet = await linkPhone(alice.page, "alice's tablet");
		const attachmentFetches: string[] = [];
		tablet.page.on("request", (r) => {
			if (r.url().includes("/api/attachments/")) attachmentFetches.push(r.url());
		});
		// Its download is held a moment too, for its progress to show.
		await tablet.profile.context.route("**/api/devices/history/*/archive", held);

		const asking = linkRequest(alice.page, "alice's tablet");
		expect(await historyCheckbox(asking).isChecked()).toBe(true);
		await asking.getByRole("button", { name: "Approve “alice's tablet”" }).click();

		// The failure, with the reason, Retry and Skip; the tablet meanwhile waits, and could skip.
		await transferStatus(alice.page)
			.getByText(/^Sending history to .+ failed\.$/)
			.waitFor();
		await transfer(alice.page).getByRole("alert").getByText("The server cannot be reached.", { exact: false }).waitFor();
		await transfer(alice.page).getByRole("button", { name: "Skip" }).waitFor();
		await transferStatus(tablet.page).getByText("Waiting for history from “alice's browser”…").waitFor();
		await transfer(tablet.page).getByRole("button", { name: "Skip" }).waitFor();
		await openChat(tablet.page, bob.handle);
		await tablet.page.getByTestId("empty-chat").getByText("Earlier messages are on their way from your other device…").waitFor();
		await screenshot(alice.page, "history-transfer-failed");
		await screenshot(tablet.page, "history-transfer-waiting");
		// Meanwhile the tablet receives a message itself; the history holds it too, and it shows once.
		await sendMessage(bob.page, "Are you both there?");
		await message(tablet.page, "Are you both there?").waitFor();
		// (The transfer stays on screen on the laptop too, over whichever view is open.)
		await openChat(alice.page, bob.handle);
		await message(alice.page, "Are you both there?").waitFor();

		await transfer(alice.page).getByRole("button", { name: "Retry" }).click();
		await alice.page.getByRole("progressbar", { name: "Sending history" }).waitFor();
		await transferStatus(alice.page)
			.getByText(/^Sending history to “alice's tablet”: \d+%$/)
			.waitFor();
		await transferStatus(alice.page).getByText("History sent. Waiting for “alice's tablet” to import it…").waitFor();
		await tablet.page.getByRole("progressbar", { name: "Receiving history" }).waitFor();
		await transferStatus(tablet.page)
			.getByText(/^Receiving history: \d+%$/)
			.waitFor();
		await screenshot(tablet.page, "history-transfer-receiving");
		await transferStatus(tablet.page).getByText("Earlier messages are here: 3 messages and 1 file from “alice's browser”.").waitFor();
		await transferStatus(alice.page).getByText("“alice's tablet” has your history.").waitFor();
		expect(uploads).toBe(2);
		await screenshot(alice.page, "history-transfer-done");

		// The open chat now holds what was said before the tablet existed, and the image, from the
		// history; what it received itself is there once (the import counted only the 3 it lacked).
		await message(tablet.page, "Yes, at noon. Here is the place:").waitFor();
		expect(await conversationTexts(tablet.page)).toEqual(["Lunch on Friday?", "Yes, at noon. Here is the place:", "Are you both there?"]);
		await expect.poll(() => decodedWidth(tablet.page, "map.png"), { timeout: UI_TIMEOUT_MS }).toBe(48);
		expect(attachmentFetches).toEqual([]);
		await screenshot(tablet.page, "history-transfer-chat");
		await transfer(tablet.page).getByRole("button", { name: "Dismiss" }).click();
		await transfer(tablet.page).waitFor({ state: "detached" });

		// New messages come on top, once each; the history stays after a reload.
		await sendMessage(bob.page, "See you there");
		await message(tablet.page, "See you there").waitFor();
		await tablet.page.reload();
		await openChat(tablet.page, bob.handle);
		await message(tablet.page, "See you there").waitFor();
		expect(await conversationTexts(tablet.page)).toEqual([
			"Lunch on Friday?",
			"Yes, at noon. Here is the place:",
			"Are you both there?",
			"See you there",
		]);
		expect(await transfer(tablet.page).count()).toBe(0);

		// A phone approved without the history: its empty chat says where the earlier messages are, also after a reload.
		const phone = await linkPhone(alice.page, "alice's phone");
		const askingPhone = linkRequest(alice.page, "alice's phone");
		await historyCheckbox(askingPhone).uncheck();
		await askingPhone.getByRole("button", { name: "Approve “alice's phone”" }).click();
		await openChat(phone.page, bob.handle);
		await phone.page.getByTestId("empty-chat").getByText(HISTORY_MISSING_TEXT).waitFor();
		expect(await transfer(phone.page).count()).toBe(0);
		await screenshot(phone.page, "history-transfer-missing");
		await phone.page.reload();
		await openChat(phone.page, bob.handle);
		await phone.page.getByTestId("empty-chat").getByText(HISTORY_MISSING_TEXT).waitFor();
	});

	it("skipped on the new device: both devices say so, and the new device's empty chat explains", async () => {
		const alice = await person("alice");
		const bob = await person("bob");
		await becomeContacts(alice, bob);
		// Accounts made in their browsers: an empty chat is just empty.
		await alice.page.getByTestId("empty-chat").getByText("No messages yet. Say hello!").waitFor();
		await sendMessage(alice.page, "Only on the laptop");
		await message(bob.page, "Only on the laptop").waitFor();
		// Every upload fails: the new device gives up waiting.
		await alice.profile.context.route("**/api/devices/history/**", (route) =>
			isUpload(route) ? route.abort("connectionfailed") : route.continue(),
		);
		const tablet = await linkPhone(alice.page, "alice's tablet");
		await linkRequest(alice.page, "alice's tablet").getByRole("button", { name: "Approve “alice's tablet”" }).click();
		await transferStatus(alice.page)
			.getByText(/^Sending history to .+ failed\.$/)
			.waitFor();

		await transferStatus(tablet.page).getByText("Waiting for history from “alice's browser”…").waitFor();
		await openChat(tablet.page, bob.handle);
		await transfer(tablet.page).getByRole("button", { name: "Skip" }).click();
		await transferStatus(tablet.page)
			.getByText("The history from “alice's browser” was skipped. Earlier messages stay on your other devices.")
			.waitFor();
		await tablet.page.getByTestId("empty-chat").getByText(HISTORY_MISSING_TEXT).waitFor();
		await transferStatus(alice.page)
			.getByText("The history transfer to “alice's tablet” was skipped. “alice's tablet” starts without earlier messages.")
			.waitFor();
		await screenshot(tablet.page, "history-transfer-skipped");

		// The transfer is over on the relay: nothing is left to skip or retry on either device.
		expect(await transfer(alice.page).getByRole("button", { name: "Retry" }).count()).toBe(0);
		await transfer(alice.page).getByRole("button", { name: "Dismiss" }).click();
		await transfer(alice.page).waitFor({ state: "detached" });
	});
});
