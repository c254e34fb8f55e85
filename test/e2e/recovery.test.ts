/**
 * Never losing an account, in the web app: the recovery key is shown and confirmed right after
 * "Create account"; a browser that lost everything signs in again with the handle and the 12
 * words alone, reads and writes the conversations it had (across a key rotation), and the
 * contact sees a new device, not a new safety number. A wrong key says so and leaves nothing.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RECOVERY_KEY_MISMATCH } from "../../client/app/error-text.ts";
import { ApiClient } from "../../client/core/api-client.ts";
import { SessionKeeper } from "../../client/core/session-keeper.ts";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import { ClientFactory, collect, linkDevice, type Member, registerMember } from "../support/sdk-clients.ts";
import {
	contactButton,
	createAccount,
	message,
	openChat,
	openDevices,
	requestContact,
	restoreWithRecoveryKey,
	sendMessage,
	uniqueHandle,
} from "./app-driver.ts";
import { closeProfilesAfterEach, LAPTOP, launchChromium, newProfile, PHONE, screenshot, UI_TIMEOUT_MS } from "./browser.ts";

let server: DevServer;
let browser: Browser;
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => server.baseUrl);

beforeAll(async () => {
	[server, browser] = await Promise.all([startDevServer({ vars: RELAXED_LIMITS }), launchChromium()]);
});

afterEach(() => factory.closeAll());

afterAll(async () => {
	await browser?.close();
	await server?.dispose();
});

/** Alice's account as Bob's relay serves it: the plain devices and the signed list. */
async function devicesOf(bob: Member, accountId: string) {
	const api = new ApiClient(server.baseUrl, (input, init) => fetch(input, init));
	const session = new SessionKeeper(api, bob.store);
	return session.withToken((t) => api.contactDevices(t, accountId));
}

/**
 * Counts the sealed key backups this page writes from now on (the SDK writes one ~2 s after its
 * keys change, so one written after a key arrived holds it).
 */
function countBackups(page: Page): { readonly count: number } {
	const seen = { count: 0 };
	page.on("response", (r) => {
		if (r.url().endsWith("/api/account/backup") && r.request().method() === "PUT" && r.ok()) seen.count++;
	});
	return seen;
}

/** Bob (a Node SDK client) accepts Alice's request from the browser; returns her account id. */
async function acceptFromBob(page: Page, bob: Member, aliceHandle: string): Promise<string> {
	const requested = bob.client.waitFor("contact", (c) => c.event === "requested" && c.contact.handle === aliceHandle);
	await requestContact(page, bob.account.handle);
	const { contact } = await requested;
	await bob.client.acceptContact(contact.accountId);
	await contactButton(page, bob.account.handle).filter({ hasNotText: "waiting" }).waitFor();
	return contact.accountId;
}

describe("recovery key", () => {
	it("restores a lost browser with the handle and the words: the conversation goes on, the contact sees a new device and the same safety number", async () => {
		const bob = await registerMember(factory, "bob");
		await bob.client.connect();

		// Alice makes her account in the browser and confirms her recovery key by typing three of its words.
		const first = track(await newProfile(browser, LAPTOP));
		const page = await first.newPage();
		const handle = uniqueHandle("alice");
		await page.goto(server.baseUrl);
		await page.getByLabel("Choose a handle").fill(handle);
		await page.getByLabel("Name this device").fill("Alice's laptop");
		await page.getByRole("button", { name: "Create account" }).click();
		const list = page.getByTestId("recovery-words");
		await list.waitFor();
		await screenshot(page, "recovery-key-words");
		const words = await list.getByTestId("recovery-word").allTextContents();
		expect(words).toHaveLength(12);
		for (const word of words) expect(word).toMatch(/^[a-z]+$/);
		// Numbered 1 to 12, in order.
		expect(await list.locator(".recovery-number").allTextContents()).toEqual(words.map((_, i) => String(i + 1)));
		// Saving as a file is made in the browser: a .txt download holding the words.
		const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Save as a file" }).click()]);
		expect(download.suggestedFilename()).toBe(`recovery-key-${handle}.txt`);

		// A wrong word is caught; the right ones confirm the key.
		await page.getByRole("button", { name: "I have saved it" }).click();
		const fields = page.getByRole("form", { name: "Confirm your recovery key" }).locator("input[data-position]");
		await fields.first().waitFor();
		const positions = await Promise.all((await fields.all()).map(async (f) => Number(await f.getAttribute("data-position"))));
		expect(positions).toHaveLength(3);
		await fields.nth(0).fill("wrong");
		for (let i = 1; i < positions.length; i++) await fields.nth(i).fill(words[(positions[i] as number) - 1] as string);
		await page.getByRole("button", { name: "Check" }).click();
		await page.getByText(new RegExp(`^Word ${positions[0]} is not right\\.`)).waitFor();
		await fields.nth(0).fill(` ${(words[(positions[0] as number) - 1] as string).toUpperCase()} `);
		await page.getByRole("button", { name: "Check" }).click();
		await page.locator(".who").getByText(`@${handle}`, { exact: true }).waitFor();
		expect(await page.getByTestId("recovery-reminder").count()).toBe(0);

		// The settings say so, and whether the browser keeps the keys.
		await openDevices(page);
		const status = page.getByTestId("recovery-status");
		await expect.poll(() => status.getAttribute("data-has-key"), { timeout: UI_TIMEOUT_MS }).toBe("true");
		expect(await status.getAttribute("data-confirmed")).toBe("true");
		const storage = page.getByTestId("storage-status");
		await expect.poll(() => storage.getAttribute("data-persisted"), { timeout: UI_TIMEOUT_MS }).toMatch(/^(true|false)$/);
		await page.getByText("you can get back in with your recovery key or from another device").waitFor();
		await screenshot(page, "recovery-settings");

		// Alice and Bob become contacts and write.
		const aliceId = await acceptFromBob(page, bob, handle);
		await openChat(page, bob.account.handle);
		const fromAlice = collect(bob.client, 1);
		await sendMessage(page, "Hello Bob, from my laptop");
		expect((await fromAlice).map((m) => m.text)).toEqual(["Hello Bob, from my laptop"]);
		await bob.client.sendText(aliceId, "Hello Alice, key one");
		await message(page, "Hello Alice, key one").waitFor();

		// Bob's contact key is rotated: he links a phone and removes it, so the next send needs a new key.
		const phone = await linkDevice(factory, bob, "Bob's phone");
		// The removal makes a new key (on either side); Alice's browser writes its backup again once it holds it.
		const backups = countBackups(page);
		await bob.client.revokeDevice(phone.account.deviceId);
		await bob.client.sendText(aliceId, "Hello Alice, key two");
		await message(page, "Hello Alice, key two").waitFor();
		await expect.poll(() => backups.count, { timeout: UI_TIMEOUT_MS }).toBeGreaterThanOrEqual(1);
		expect((await bob.client.loadContactKeys(aliceId)).length).toBeGreaterThanOrEqual(2);

		const before = await bob.client.contactTrust(aliceId);
		const devicesBefore = await devicesOf(bob, aliceId);
		expect(devicesBefore.deviceList?.devices).toHaveLength(1);

		// Alice loses her browser: its profile is thrown away.
		await first.close();

		// A fresh browser: first a wrong recovery key (valid words, not hers), then hers, typed loosely.
		const fresh = track(await newProfile(browser, PHONE));
		const again = await fresh.newPage();
		await again.goto(server.baseUrl);
		await again.getByText("no one can prove it is yours").waitFor();
		const notHers = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
		await restoreWithRecoveryKey(again, handle, notHers, "Alice's new phone");
		await again.getByText(RECOVERY_KEY_MISMATCH).waitFor();
		expect((await devicesOf(bob, aliceId)).devices.filter((d) => d.status !== "revoked")).toHaveLength(
			devicesBefore.devices.filter((d) => d.status !== "revoked").length,
		);
		await screenshot(again, "recovery-wrong-key");

		const loose = `  ${words.slice(0, 6).join("  ").toUpperCase()}\n${words.slice(6).join(" ")} `;
		const newDevice = bob.client.waitFor("contact", (c) => c.event === "devices_changed" && c.contact.accountId === aliceId, UI_TIMEOUT_MS);
		await restoreWithRecoveryKey(again, handle, loose, "Alice's new phone");
		await again.locator(".who").getByText(`@${handle}`, { exact: true }).waitFor();
		// She typed the key, so nothing reminds her to save it.
		expect(await again.getByTestId("recovery-reminder").count()).toBe(0);

		// Bob sees a new device of Alice's in her signed list: the same identity key, one more device.
		await newDevice;
		const devicesAfter = await devicesOf(bob, aliceId);
		expect(devicesAfter.deviceList?.identityKey).toBe(devicesBefore.deviceList?.identityKey);
		expect(devicesAfter.deviceList?.version).toBeGreaterThan(devicesBefore.deviceList?.version ?? 0);
		expect(devicesAfter.deviceList?.devices).toHaveLength(2);
		expect(devicesAfter.devices.find((d) => d.name === "Alice's new phone")?.status).toBe("approved");
		// …and the same safety number: a new device, not a new identity.
		const after = await bob.client.contactTrust(aliceId);
		expect(after.safetyNumber).toBe(before.safetyNumber);
		expect(after.identityKey).toBe(before.identityKey);
		expect(after.state).not.toBe("changed");

		// She reads what Bob sends now, and Bob reads what she sends.
		await openChat(again, bob.account.handle);
		await bob.client.sendText(aliceId, "Welcome back, Alice");
		await message(again, "Welcome back, Alice").waitFor();
		const reply = collect(bob.client, 1);
		await sendMessage(again, "Back in, from a new browser");
		expect((await reply).map((m) => m.text)).toEqual(["Back in, from a new browser"]);
		await screenshot(again, "recovery-restored");
	});

	it("says plainly what words that are no recovery key are, and puts off a new key with a reminder that stays", async () => {
		const profile = track(await newProfile(browser, LAPTOP));
		const page = await profile.newPage();
		const handle = uniqueHandle("carol");
		await createAccount(page, server.baseUrl, handle, "Carol's laptop", "later");
		const reminder = page.getByTestId("recovery-reminder");
		await reminder.waitFor();
		// In the settings too, until she confirms.
		await openDevices(page);
		await page.getByTestId("recovery-settings-reminder").waitFor();
		// The words made on this page can be shown again and confirmed.
		await reminder.getByRole("button", { name: "Show my recovery key" }).click();
		const words = await page.getByTestId("recovery-words").getByTestId("recovery-word").allTextContents();
		await page.getByRole("button", { name: "Later" }).click();
		await reminder.waitFor();

		// A new key replaces the old one, after a warning.
		await page.getByRole("button", { name: "Make a new recovery key" }).click();
		await page.getByText("Your current recovery key stops working at once").waitFor();
		await page.getByRole("button", { name: "Yes, make a new recovery key" }).click();
		const list = page.getByTestId("recovery-words");
		await list.waitFor();
		await expect.poll(() => list.getByTestId("recovery-word").allTextContents(), { timeout: UI_TIMEOUT_MS }).not.toEqual(words);
		const fresh = await list.getByTestId("recovery-word").allTextContents();
		await page.getByRole("button", { name: "I have saved it" }).click();
		for (const field of await page.locator("input[data-position]").all()) {
			await field.fill(fresh[Number(await field.getAttribute("data-position")) - 1] as string);
		}
		await page.getByRole("button", { name: "Check" }).click();
		await page.getByTestId("recovery-status").and(page.locator('[data-confirmed="true"]')).waitFor();
		expect(await reminder.count()).toBe(0);

		// What she kept can be checked against the account's key: the old words are not it any more, the new ones are.
		const check = page.getByTestId("recovery-check");
		await page.getByLabel("Check the words you saved").fill(words.join(" "));
		await page.getByRole("button", { name: "Check these words" }).click();
		await check.getByText("These words are not this account's recovery key.", { exact: false }).waitFor();
		await page.getByLabel("Check the words you saved").fill(fresh.join("  ").toUpperCase());
		await page.getByRole("button", { name: "Check these words" }).click();
		await check.getByText("These are this account's recovery key.").waitFor();

		// The old words no longer open the account; words that are no key at all say so.
		const other = track(await newProfile(browser, PHONE));
		const stranger = await other.newPage();
		await stranger.goto(server.baseUrl);
		await restoreWithRecoveryKey(stranger, handle, words.join(" "), "a phone");
		await stranger.getByText(RECOVERY_KEY_MISMATCH).waitFor();
		await restoreWithRecoveryKey(stranger, handle, "these are not twelve words at all", "a phone");
		await stranger.getByText(/^That is not a recovery key\./).waitFor();
		// Nothing was kept: a reload shows the welcome screen again.
		await stranger.reload();
		await stranger.getByRole("button", { name: "Sign in with your recovery key" }).waitFor();
	});
});
