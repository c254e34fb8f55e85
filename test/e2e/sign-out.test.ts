/**
 * Leaving, in the web app. Signing a device out: a warning that says what it costs first,
 * then the device leaves its account (its contact sees the account's devices change) and its
 * keys and history are gone from the browser, which is back at the start. Deleting the
 * account: only with its handle typed again; the contact sees it gone.
 */
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFactory } from "../support/sdk-clients.ts";
import { databaseNames, openDevices } from "./app-driver.ts";
import { closeProfilesAfterEach, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";
import { aliceInBrowserAndBob } from "./web-and-sdk.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);

afterEach(() => factory.closeAll());

/** How many records the IndexedDB database `name` of the page's origin holds, over all its stores. */
function recordsIn(page: Page, name: string): Promise<number> {
	return page.evaluate(`new Promise((resolve, reject) => {
		const opening = indexedDB.open(${JSON.stringify(name)});
		opening.onerror = () => reject(opening.error);
		opening.onsuccess = async () => {
			const db = opening.result;
			const stores = [...db.objectStoreNames];
			if (stores.length === 0) return resolve(0);
			const tx = db.transaction(stores, "readonly");
			const counts = await Promise.all(stores.map((s) => new Promise((ok) => { const r = tx.objectStore(s).count(); r.onsuccess = () => ok(r.result); })));
			db.close();
			resolve(counts.reduce((a, b) => a + b, 0));
		};
	})`) as Promise<number>;
}

describe("signing out", () => {
	it("warns that the recovery key is the way back for an account's only device, then leaves the account and erases the device", async () => {
		const { page, bob, alice, handle } = await aliceInBrowserAndBob(e2e, track, factory);
		const before = await databaseNames(page);
		expect(before.length).toBeGreaterThan(0);

		await openDevices(page);
		await page.getByRole("button", { name: "Sign out of this device…" }).click();
		const warning = page.getByTestId("sign-out-warning");
		expect(await warning.textContent()).toContain("you will need its recovery key");
		// Cancel changes nothing.
		await page.getByRole("button", { name: "Cancel" }).click();
		await page.getByRole("button", { name: "Sign out of this device…" }).click();

		// Bob's side learns of it as a change of her signed device list, which he checks.
		const changed = bob.client.waitFor("contact", (c) => c.event === "devices_changed" && c.contact.accountId === alice, UI_TIMEOUT_MS);
		await page.getByRole("button", { name: "Yes, sign out" }).click();
		await changed;
		await page.getByRole("button", { name: "Create account" }).waitFor({ timeout: UI_TIMEOUT_MS });
		expect(await page.getByText(`@${handle}`).count()).toBe(0);
		// Nothing of the device is left in the browser: no history, and the key store the fresh
		// start opened again holds nothing.
		expect(await databaseNames(page)).not.toContain("sm-app-history");
		expect(await recordsIn(page, "sm-app-keys")).toBe(0);
	});

	it("deletes the account only with its handle typed again; the browser is back at the start and the contact sees it gone", async () => {
		const { page, bob, alice, handle } = await aliceInBrowserAndBob(e2e, track, factory);
		await openDevices(page);
		await page.getByRole("button", { name: "Delete account…" }).click();
		const confirm = page.getByRole("button", { name: `Delete @${handle} for good` });
		expect(await confirm.isDisabled()).toBe(true);
		await page.getByLabel(`Type ${handle} to confirm`).fill(`${handle}x`);
		expect(await confirm.isDisabled()).toBe(true);
		await page.getByLabel(`Type ${handle} to confirm`).fill(`@${handle}`);

		const gone = bob.client.waitFor("contact", (c) => c.event === "deleted" && c.contact.accountId === alice, UI_TIMEOUT_MS);
		await confirm.click();
		await gone;
		await page.getByRole("button", { name: "Create account" }).waitFor({ timeout: UI_TIMEOUT_MS });
		expect(await databaseNames(page)).not.toContain("sm-app-history");
		expect(await recordsIn(page, "sm-app-keys")).toBe(0);
		expect(await bob.client.contacts()).toEqual([]);
	});
});
