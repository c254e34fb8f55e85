/**
 * Safety numbers in the web app, over the two accounts' identity keys: both people see the
 * same 60 digits and a QR code of them; scanning the other's code (here a screenshot of it)
 * marks the contact verified, a wrong one says so; and when a verified contact's identity key
 * changes, the chat warns and sending waits until the person has looked at the new number.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { safetyCodeText } from "../../client/app/safety-code.ts";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import { ClientFactory, registerMember } from "../support/sdk-clients.ts";
import {
	becomeContacts,
	composer,
	contactButton,
	headerTrust,
	listedTrust,
	openChat,
	openContactInfo,
	requestContact,
	sendMessage,
	signUp,
} from "./app-driver.ts";
import { closeProfilesAfterEach, LAPTOP, launchChromium, newProfile, PHONE, type Profile, screenshot, UI_TIMEOUT_MS } from "./browser.ts";
import { resetIdentity } from "./identity-reset.ts";
import { qrPng } from "./qr-pictures.ts";

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

async function person(prefix: string, viewport = LAPTOP): Promise<{ profile: Profile; page: Page; handle: string }> {
	const profile = track(await newProfile(browser, viewport));
	return { profile, ...(await signUp(profile, server.baseUrl, prefix)) };
}

/** The safety number shown in the open chat's contact info. */
const shownNumber = (page: Page) => page.locator("#contact-details").getByTestId("safety-number").getAttribute("data-digits");

/** The trust state ("verified", "unverified", "changed") of a badge, polled until it is `state`. */
async function expectTrust(badge: ReturnType<typeof headerTrust>, state: string): Promise<void> {
	await expect.poll(() => badge.getAttribute("data-trust"), { timeout: UI_TIMEOUT_MS }).toBe(state);
}

describe("safety numbers", () => {
	it("shows both people the same number; one verifies by a picture of the other's QR code, the other by eye", async () => {
		const alice = await person("alice");
		const bob = await person("bob", PHONE);
		await becomeContacts(alice, bob);
		await Promise.all([openContactInfo(alice.page), openContactInfo(bob.page)]);
		const [mine, theirs] = await Promise.all([shownNumber(alice.page), shownNumber(bob.page)]);
		expect(mine).toMatch(/^(\d{5} ){11}\d{5}$/);
		expect(mine).toBe(theirs);
		await expectTrust(headerTrust(bob.page), "unverified");
		await expectTrust(listedTrust(alice.page, bob.handle), "unverified");

		// A code that holds another number is refused, and changes nothing.
		const other = mine?.replace(/^\d/, (d) => String((Number(d) + 1) % 10)) ?? "";
		const upload = bob.page.getByLabel("Compare with a picture of their code");
		await upload.setInputFiles({ name: "someone-else.png", mimeType: "image/png", buffer: qrPng(safetyCodeText(other)) });
		await bob.page.locator('[data-testid="safety-comparison"][data-verdict="mismatch"]').getByText("The numbers do not match.").waitFor();
		await expectTrust(headerTrust(bob.page), "unverified");

		// Bob takes a screenshot of Alice's code (as he would photograph her screen) and compares.
		const picture = await alice.page.getByTestId("safety-number-qr").screenshot();
		await upload.setInputFiles({ name: "alices-code.png", mimeType: "image/png", buffer: picture });
		await bob.page.getByText(`The numbers match: @${alice.handle} is verified.`).waitFor();
		await expectTrust(headerTrust(bob.page), "verified");
		await screenshot(bob.page, "safety-number-verified");
		// Verified is Bob's view only: Alice has not compared yet.
		await expectTrust(headerTrust(alice.page), "unverified");

		// Alice compared the digits by eye on a call, and says so; and takes it back.
		await alice.page.getByRole("button", { name: "Mark as verified" }).click();
		await expectTrust(headerTrust(alice.page), "verified");
		await expectTrust(listedTrust(alice.page, bob.handle), "verified");
		await screenshot(alice.page, "safety-number");
		await alice.page.getByRole("button", { name: "Mark as not verified" }).click();
		await expectTrust(listedTrust(alice.page, bob.handle), "unverified");

		// Kept across a reload, on Bob's side.
		await bob.page.reload();
		await expectTrust(listedTrust(bob.page, alice.handle), "verified");
	});

	it("warns when a verified contact's identity key changes, and holds sending until the new number was acknowledged", async () => {
		const alice = await person("alice");
		const bob = await registerMember(factory, "bob");
		await bob.client.connect();
		const requested = bob.client.waitFor("contact", (c) => c.event === "requested", UI_TIMEOUT_MS);
		await requestContact(alice.page, bob.account.handle);
		await bob.client.acceptContact((await requested).contact.accountId);
		await contactButton(alice.page, bob.account.handle).filter({ hasNotText: "waiting" }).waitFor();
		await openChat(alice.page, bob.account.handle);
		const first = bob.client.waitFor("message", (m) => m.text === "before the reset", UI_TIMEOUT_MS);
		await sendMessage(alice.page, "before the reset");
		await first;

		await openContactInfo(alice.page);
		const before = await shownNumber(alice.page);
		await alice.page.getByRole("button", { name: "Mark as verified" }).click();
		await expectTrust(headerTrust(alice.page), "verified");
		await alice.page.getByRole("button", { name: "Close info" }).click();

		await resetIdentity(server.baseUrl, bob);

		// The chat says so, the badges say so, and the composer gives way to the reason.
		const notice = alice.page.getByTestId("identity-change");
		await notice.getByText(`@${bob.account.handle}'s safety number changed.`).waitFor();
		await expectTrust(headerTrust(alice.page), "changed");
		await expectTrust(listedTrust(alice.page, bob.account.handle), "changed");
		const paused = alice.page.getByTestId("sending-paused");
		await paused.getByText(`Sending is paused: you verified @${bob.account.handle}, and their safety number changed since.`).waitFor();
		expect(await composer(alice.page).count()).toBe(0);
		await screenshot(alice.page, "identity-changed");

		// Review opens the contact info on the new number.
		await notice.getByRole("button", { name: "Review" }).click();
		const after = await shownNumber(alice.page);
		expect(after).toMatch(/^(\d{5} ){11}\d{5}$/);
		expect(after).not.toBe(before);

		await paused.getByRole("button", { name: "Show the new safety number" }).click();
		expect(await paused.getByTestId("safety-number").getAttribute("data-digits")).toBe(after);
		await paused.getByRole("button", { name: "Acknowledge the new number" }).click();
		await composer(alice.page).waitFor();
		await notice.waitFor({ state: "detached" });
		await expectTrust(headerTrust(alice.page), "unverified");

		const second = bob.client.waitFor("message", (m) => m.text === "after the reset", UI_TIMEOUT_MS);
		await sendMessage(alice.page, "after the reset");
		await second;
	});
});
