/**
 * What a person does in the web app, as Playwright steps. Every step waits for the UI state
 * it leads to, through accessible names where there are any, so tests never sleep.
 */
import type { Locator, Page } from "playwright-core";

let counter = 0;
/** Unique per run: the relay keeps its accounts for the life of the test server. */
export const uniqueHandle = (prefix: string): string => `${prefix}_${Date.now().toString(36)}${++counter}`.slice(0, 32);

export async function createAccount(page: Page, baseUrl: string, handle: string, deviceName: string): Promise<void> {
	await page.goto(baseUrl);
	await page.getByLabel("Choose a handle").fill(handle);
	await page.getByLabel("Name this device").fill(deviceName);
	await page.getByRole("button", { name: "Create account" }).click();
	await page.getByText(`@${handle}`, { exact: true }).waitFor();
}

export async function requestContact(page: Page, handle: string): Promise<void> {
	await page.getByLabel("Handle of the person to add").fill(handle);
	await page.getByRole("button", { name: "Add", exact: true }).click();
	await page.getByText(`Request sent to @${handle}.`).waitFor();
}

/** The incoming request from `handle`, in the contact list. */
export const requestFrom = (page: Page, handle: string): Locator => page.locator("li.contact.request").filter({ hasText: `@${handle}` });

export async function acceptRequest(page: Page, handle: string): Promise<void> {
	await requestFrom(page, handle).getByRole("button", { name: "Accept" }).click();
	await contactButton(page, handle).waitFor();
}

export const contactButton = (page: Page, handle: string): Locator => page.getByRole("button", { name: new RegExp(`^@${handle}\\b`) });

export async function openChat(page: Page, handle: string): Promise<void> {
	await contactButton(page, handle).click();
	await page.getByRole("heading", { name: `@${handle}` }).waitFor();
}

export const composer = (page: Page): Locator => page.getByRole("textbox", { name: "Message" });

export async function sendMessage(page: Page, text: string): Promise<void> {
	await composer(page).fill(text);
	await composer(page).press("Enter");
	await message(page, text).waitFor();
}

/** The message bubble with this text (in the open conversation). */
export const message = (page: Page, text: string): Locator => page.locator("li.message").filter({ hasText: text });

/** Wait until a message of ours reaches a delivery state ("sent", "delivered", …). */
export async function waitForDelivery(page: Page, text: string, state: "sending" | "sent" | "delivered" | "failed"): Promise<void> {
	await page.locator(`li.message.outgoing[data-state="${state}"]`).filter({ hasText: text }).waitFor();
}

/** The texts of the open conversation, oldest first. */
export function conversationTexts(page: Page): Promise<string[]> {
	return page.locator("li.message .message-text").allTextContents();
}
