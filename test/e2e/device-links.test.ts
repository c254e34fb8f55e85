/**
 * Adding a device to an account in the web app, as protocol v2 does it: an approved device
 * shows a one-time link code (typed form and QR code), the new device enters it and shows its
 * fingerprint, and the first device approves it after comparing. Knowing a handle is no longer
 * a way to ask to join an account.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import {
	becomeContacts,
	contactButton,
	databaseNames,
	enterLinkCode,
	message,
	openChat,
	openDevices,
	sendMessage,
	showLinkCode,
	signUp,
	uniqueHandle,
	waitForDelivery,
} from "./app-driver.ts";
import {
	closeProfilesAfterEach,
	FAKE_MEDIA_ARGS,
	LAPTOP,
	launchChromium,
	newProfile,
	PHONE,
	type Profile,
	screenshot,
	UI_TIMEOUT_MS,
} from "./browser.ts";
import { qrVideo } from "./qr-pictures.ts";

let server: DevServer;
let browser: Browser;
/** A browser whose fake camera films whatever the test last wrote to `cameraFile`. */
let cameraBrowser: Browser;
const cameraDir = mkdtempSync(path.join(tmpdir(), "sm-camera-"));
const cameraFile = path.join(cameraDir, "camera.y4m");
const track = closeProfilesAfterEach();

beforeAll(async () => {
	// Chromium opens the file when a page starts the camera, so a test can film a code it learns later.
	writeFileSync(cameraFile, qrVideo("nothing to see yet"));
	[server, browser, cameraBrowser] = await Promise.all([
		startDevServer({ vars: RELAXED_LIMITS }),
		launchChromium(),
		launchChromium([...FAKE_MEDIA_ARGS, `--use-file-for-fake-video-capture=${cameraFile}`]),
	]);
});

afterAll(async () => {
	await Promise.all([browser?.close(), cameraBrowser?.close()]);
	await server?.dispose();
	rmSync(cameraDir, { recursive: true, force: true });
});

async function person(prefix: string, viewport = LAPTOP): Promise<{ profile: Profile; page: Page; handle: string }> {
	const profile = track(await newProfile(browser, viewport));
	return { profile, ...(await signUp(profile, server.baseUrl, prefix)) };
}

/** A fresh browser profile on a phone, with the app open and no account. */
async function newDevice(): Promise<Page> {
	return (await track(await newProfile(browser, PHONE))).newPage();
}

/** The link request the first device shows for `name`. */
const linkRequest = (page: Page, name: string) => page.getByTestId("link-request").filter({ hasText: `Link “${name}”?` });

describe("linking a device by code", () => {
	it("links a second device with the typed code after comparing fingerprints; it reads the next message, and is removed again", async () => {
		const alice = await person("alice");
		const bob = await person("bob");
		await becomeContacts(alice, bob);

		const code = await showLinkCode(alice.page);
		expect(code).toMatch(new RegExp(`^${alice.handle}(-[0-9A-Z]{6}){4}$`));
		// Typed form in groups, a QR code of the same text, and a countdown.
		await expect(alice.page.getByTestId("link-code").locator(".link-code-group").allTextContents()).resolves.toEqual(
			code
				.split("-")
				.slice(1)
				.map((g) => `-${g}`),
		);
		await alice.page.getByRole("img", { name: `QR code of the link code ${code}` }).waitFor();
		await alice.page
			.getByTestId("link-code-expiry")
			.getByText(/^Expires in (10:00|9:\d\d)\.$/)
			.waitFor();
		await screenshot(alice.page, "devices-link-code");

		// Typed as a person might: the secret in lower case.
		const [handlePart, ...groups] = code.split("-");
		const page = await newDevice();
		await enterLinkCode(page, server.baseUrl, [handlePart, ...groups.map((g) => g.toLowerCase())].join("-"), "alice's tablet");
		await page.getByRole("heading", { name: "Waiting for approval" }).waitFor();
		const fingerprint = await page.getByTestId("own-fingerprint").textContent();
		expect(fingerprint).toMatch(/^\d{5} \d{5} \d{5} \d{5}$/);

		// The code is used up, and the first device asks about the new one, with the same number.
		const asking = linkRequest(alice.page, "alice's tablet");
		await asking.waitFor();
		await alice.page.getByTestId("link-code").waitFor({ state: "detached" });
		expect(await asking.getByTestId("link-request-fingerprint").textContent()).toBe(`Fingerprint: ${fingerprint}`);
		await screenshot(alice.page, "devices-link-request");
		await asking.getByRole("button", { name: "Approve “alice's tablet”" }).click();
		await asking.waitFor({ state: "detached" });
		const tabletEntry = alice.page.locator("li.device").filter({ hasText: "alice's tablet" });
		await tabletEntry.waitFor();
		// Certified by the account's signed list: no warning.
		await expect.poll(() => tabletEntry.getAttribute("data-certified"), { timeout: UI_TIMEOUT_MS }).toBe("true");
		expect(await alice.page.getByText("Not certified by your account").count()).toBe(0);
		await screenshot(alice.page, "devices-panel");

		// The tablet opens the account on its own once approved, and reads what comes next.
		await contactButton(page, bob.handle).waitFor();
		await openChat(page, bob.handle);
		await sendMessage(bob.page, "hello to both of your devices");
		await message(page, "hello to both of your devices").waitFor();
		// The tablet shows it in an open chat, so it may say "Read" too; both devices have it either way.
		await message(bob.page, "hello to both of your devices")
			.getByText(/delivered to 2 devices$/i)
			.waitFor();
		await sendMessage(page, "sent from the tablet");
		await message(bob.page, "sent from the tablet").waitFor();

		// Both devices are connected: each shows as online, not as "last seen" when it connected.
		await alice.page
			.getByRole("navigation")
			.getByRole("button", { name: /^Devices/ })
			.click();
		await openDevices(alice.page);
		await tabletEntry.getByTestId("device-presence").getByText("Online", { exact: true }).waitFor();
		expect(await alice.page.locator("li.device").filter({ hasText: "this device" }).getByTestId("device-presence").textContent()).toBe(
			"Online",
		);
		expect(await tabletEntry.getByText("Last seen").count()).toBe(0);

		// Removed from the laptop: the tablet says so at once and its keys leave the browser.
		expect(await databaseNames(page)).toContain("sm-app-keys");
		await tabletEntry.getByRole("button", { name: "Remove…" }).click();
		await tabletEntry.getByRole("button", { name: "Yes, remove “alice's tablet”" }).click();
		await alice.page.getByText("Removed devices (1)").waitFor();
		await page.getByRole("heading", { name: "This device was signed out" }).waitFor();
		await expect.poll(() => databaseNames(page), { timeout: UI_TIMEOUT_MS }).not.toContain("sm-app-keys");

		// The contact key was rotated without the tablet, and the two remaining devices chat on.
		await openChat(alice.page, bob.handle);
		await sendMessage(bob.page, "only your laptop reads this");
		await message(alice.page, "only your laptop reads this").waitFor();
		await waitForDelivery(bob.page, "only your laptop reads this", "delivered");
		expect(await message(bob.page, "only your laptop reads this").getByText("Delivered to 2 devices").count()).toBe(0);
	});

	it("links a device whose camera reads the code off the first device's screen", async () => {
		const alice = await person("alice");
		const code = await showLinkCode(alice.page);
		writeFileSync(cameraFile, qrVideo(code));
		const page = await track(await newProfile(cameraBrowser, PHONE, ["camera"])).newPage();
		await page.goto(server.baseUrl);
		await page.getByRole("button", { name: "Add this device" }).click();
		await page.getByRole("button", { name: "Scan with the camera" }).click();
		await expect.poll(() => page.getByLabel("Link code").inputValue(), { timeout: UI_TIMEOUT_MS }).toBe(code);
		// The camera is off again once the code was read.
		await page.locator("video.camera-view").waitFor({ state: "detached" });
		await page.getByLabel("Name this device").fill("alice's phone");
		await page.getByRole("button", { name: "Link this device" }).click();
		await page.getByRole("heading", { name: "Waiting for approval" }).waitFor();
		await linkRequest(alice.page, "alice's phone").getByRole("button", { name: "Approve “alice's phone”" }).click();
		await page.locator(".who").getByText(`@${alice.handle}`, { exact: true }).waitFor();
	});

	it("rejects a device that used the code, which then shows it was signed out and deletes its keys", async () => {
		const alice = await person("alice");
		const code = await showLinkCode(alice.page);
		const page = await newDevice();
		await enterLinkCode(page, server.baseUrl, code, "not alice's phone");
		await page.getByRole("heading", { name: "Waiting for approval" }).waitFor();
		const asking = linkRequest(alice.page, "not alice's phone");
		await asking.getByRole("button", { name: "Reject" }).click();
		await asking.waitFor({ state: "detached" });
		await alice.page.getByText("Removed devices (1)").waitFor();
		await page.getByRole("heading", { name: "This device was signed out" }).waitFor();
		await expect.poll(() => databaseNames(page), { timeout: UI_TIMEOUT_MS }).not.toContain("sm-app-keys");
	});

	it("withdraws a code on cancel: a device that enters it afterwards is refused", async () => {
		const alice = await person("alice");
		const code = await showLinkCode(alice.page);
		await alice.page.getByRole("button", { name: "Cancel the code" }).click();
		await alice.page.getByRole("button", { name: "Link a new device" }).waitFor();
		const page = await newDevice();
		await enterLinkCode(page, server.baseUrl, code, "too late");
		await page.getByText("This link code is not valid: it may have expired or been used.").waitFor();
		expect(await page.getByRole("heading", { name: "Waiting for approval" }).count()).toBe(0);
	});

	it("gives a stranger no way to put a device into someone else's account: no join by handle, and a made-up code is refused", async () => {
		const alice = await person("alice");
		const page = await newDevice();
		await page.goto(server.baseUrl);
		await page.getByRole("button", { name: "Add this device" }).click();
		const form = page.getByRole("form", { name: "Add this device" });
		await form.getByLabel("Link code").waitFor();
		// Only a code and a name: no field takes a handle, no button asks to join.
		expect(await form.locator("input:not([type=file])").evaluateAll((inputs) => inputs.map((i) => (i as { name: string }).name))).toEqual([
			"linkCode",
			"deviceName",
		]);
		expect(await page.getByText(/your handle/i).count()).toBe(0);
		expect(await page.getByRole("button", { name: /ask to join/i }).count()).toBe(0);

		// A code of the right form for Alice's account, made up: the relay says it is not valid,
		// exactly as for a code of an account that does not exist.
		for (const handle of [alice.handle, uniqueHandle("nobody")]) {
			await page.getByLabel("Link code").fill(`${handle}-AAAAAA-BBBBBB-CCCCCC-DDDDDD`);
			const [answer] = await Promise.all([
				page.waitForResponse((r) => r.url().endsWith("/api/devices/link")),
				page.getByRole("button", { name: "Link this device" }).click(),
			]);
			expect(answer.status()).toBe(404);
			await page.getByText("This link code is not valid: it may have expired or been used. Ask your other device for a new one.").waitFor();
		}
		// Not even a code: the form says what one looks like.
		await page.getByLabel("Link code").fill("please let me in");
		await page.getByRole("button", { name: "Link this device" }).click();
		await page.getByText(/^That is not a link code\./).waitFor();
		expect(await page.getByRole("heading", { name: "Waiting for approval" }).count()).toBe(0);

		// Nothing reached Alice's account.
		await openDevices(alice.page);
		await alice.page.locator("li.device").first().waitFor();
		expect(await alice.page.getByTestId("pending-device").count()).toBe(0);
		expect(await alice.page.getByTestId("link-request").count()).toBe(0);
		expect(await alice.page.locator("li.device").count()).toBe(1);
	});
});
