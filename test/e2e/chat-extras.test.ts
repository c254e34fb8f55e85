/**
 * What people expect of a chat, in the web app: read receipts both ways (and none once turned
 * off), addresses in a message are links (and nothing else is), an image opens full size in a
 * viewer, and a file pasted into the composer or dropped onto the conversation waits with its
 * price like a chosen one, then reaches the contact (a Node SDK client).
 */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFactory, type Member } from "../support/sdk-clients.ts";
import { composer, message, openChat, openDevices, sendMessage } from "./app-driver.ts";
import { closeProfilesAfterEach, LAPTOP, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";
import { tinyPng } from "./tiny-png.ts";
import { aliceInBrowserAndBob } from "./web-and-sdk.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);

afterEach(() => factory.closeAll());

const aliceAndBob = () => aliceInBrowserAndBob(e2e, track, factory);

/** Page script: a DataTransfer holding one file (and text, if given), as the browser builds it for a paste or a drop. */
function transfer(file: { name: string; type: string; bytes: Uint8Array } | null, text?: string): string {
	return `(() => {
		const data = new DataTransfer();
		${file ? `data.items.add(new File([new Uint8Array(${JSON.stringify(Array.from(file.bytes))})], ${JSON.stringify(file.name)}, { type: ${JSON.stringify(file.type)} }));` : ""}
		${text === undefined ? "" : `data.setData("text/plain", ${JSON.stringify(text)});`}
		return data;
	})()`;
}

/** Dispatch an event (page script) on the first element `selector` finds; true unless a listener cancelled it. */
function dispatch(page: Page, selector: string, event: string): Promise<boolean> {
	return page.evaluate(`document.querySelector(${JSON.stringify(selector)}).dispatchEvent(${event})`) as Promise<boolean>;
}

const paste = (data: string) => `new ClipboardEvent("paste", { clipboardData: ${data}, bubbles: true, cancelable: true })`;
const drag = (type: string, data: string) =>
	`new DragEvent(${JSON.stringify(type)}, { dataTransfer: ${data}, bubbles: true, cancelable: true })`;

/** Click "Send file" with its price; Bob receives the attachment, and its bytes are the file's. */
async function sendPendingTo(page: Page, bob: Member, name: string, bytes: Uint8Array): Promise<void> {
	const arriving = bob.client.waitFor("message", (m) => m.attachment?.name === name, UI_TIMEOUT_MS);
	await page.getByRole("group", { name: "File to send" }).getByRole("button", { name: "Send file · 8 credits" }).click();
	const received = await arriving;
	expect(received.kind).toBe("attachment");
	const attachment = received.attachment as NonNullable<typeof received.attachment>;
	const { stream } = await bob.client.downloadFile(attachment);
	expect(new Uint8Array(await new Response(stream).arrayBuffer())).toEqual(bytes);
	await message(page, name).waitFor();
}

describe("links, images and files in a chat", () => {
	it("shows an http(s) address as a link that opens in a new tab without an opener, and no other scheme or markup as one", async () => {
		const { page, bob, alice } = await aliceAndBob();
		const text = 'Read https://a.example/guide?x=1). Not javascript:alert(1) nor <a href="https://b.example">markup</a>';
		await bob.client.sendText(alice, text);
		const shown = message(page, "Read ");
		await shown.waitFor();
		// Shown as written, character for character.
		expect(await shown.locator(".message-text").textContent()).toBe(text);
		const links = shown.locator(".message-text a");
		expect(await links.count()).toBe(2);
		const guide = shown.getByRole("link", { name: "https://a.example/guide?x=1", exact: true });
		expect(await guide.getAttribute("href")).toBe("https://a.example/guide?x=1");
		expect(await guide.getAttribute("target")).toBe("_blank");
		expect(await guide.getAttribute("rel")).toBe("noopener noreferrer");
		// The address inside the markup is a link of its own; the markup stays text, and no
		// javascript: address is a link anywhere.
		expect(await links.nth(1).getAttribute("href")).toBe("https://b.example/");
		expect(await links.nth(1).textContent()).toBe("https://b.example");
		expect(await shown.locator(".message-text *").count()).toBe(2);
		expect(await shown.locator('a[href^="javascript"]').count()).toBe(0);
	});

	it("opens a received image in a viewer on a click or Enter, closes it on Escape or a click beside it, focus back on the image", async () => {
		const { page, bob, alice } = await aliceAndBob();
		const png = tinyPng(48, 32);
		await bob.client.sendFile(alice, { stream: () => new Blob([png]).stream(), size: png.length, name: "sunset.png", type: "image/png" });
		const opener = message(page, "sunset.png").getByRole("button", { name: "View sunset.png" });
		await opener.waitFor();
		const inlineSrc = await opener.getByRole("img", { name: "sunset.png" }).getAttribute("src");
		expect(inlineSrc).toMatch(/^blob:/);
		const viewer = page.getByRole("dialog", { name: "sunset.png" });
		const focused = () => page.evaluate("document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent");

		await opener.click();
		await viewer.waitFor();
		expect(await viewer.getAttribute("aria-modal")).toBe("true");
		// The same object URL: the decrypted bytes never leave the page.
		expect(await viewer.getByRole("img", { name: "sunset.png" }).getAttribute("src")).toBe(inlineSrc);
		expect(await focused()).toBe("Close");
		await page.keyboard.press("Escape");
		await viewer.waitFor({ state: "detached" });
		expect(await focused()).toBe("View sunset.png");

		await page.keyboard.press("Enter");
		await viewer.waitFor();
		const [download] = await Promise.all([page.waitForEvent("download"), viewer.getByRole("button", { name: "Download" }).click()]);
		expect(download.suggestedFilename()).toBe("sunset.png");
		expect(readFileSync(await download.path())).toEqual(png);
		// Escape and at once Enter: the browser closes the dialog and moves the focus back at
		// the key, but fires its close event a task later; that late event must not shut the
		// viewer Enter has just reopened.
		await page.keyboard.press("Escape");
		await page.keyboard.press("Enter");
		await viewer.waitFor();
		await new Promise((resolve) => setTimeout(resolve, 200));
		expect(await viewer.isVisible()).toBe(true);
		// Beside the image, on the dark backdrop.
		await page.mouse.click(10, LAPTOP.height - 10);
		await viewer.waitFor({ state: "detached" });
		expect(await focused()).toBe("View sunset.png");
	});

	it("takes a pasted file and a dropped one as the pending file with its price, and sends each to the contact; pasted text stays text", async () => {
		const { page, bob } = await aliceAndBob();
		const textarea = 'textarea[name="message"]';
		// Text (even beside a picture of it, as office programs paste) is left to the browser to paste.
		const png = new Uint8Array(tinyPng(20, 10));
		expect(await dispatch(page, textarea, paste(transfer(null, "plain words")))).toBe(true);
		expect(await dispatch(page, textarea, paste(transfer({ name: "cells.png", type: "image/png", bytes: png }, "a\tb")))).toBe(true);
		expect(await page.getByRole("group", { name: "File to send" }).count()).toBe(0);

		// A screenshot on the clipboard.
		await composer(page).focus();
		expect(await dispatch(page, textarea, paste(transfer({ name: "screenshot.png", type: "image/png", bytes: png })))).toBe(false);
		await page.getByRole("group", { name: "File to send" }).getByText("screenshot.png").waitFor();
		await sendPendingTo(page, bob, "screenshot.png", png);

		// A file dragged over the conversation shows where to drop it, and dropped there waits the same way.
		const notes = new TextEncoder().encode("notes dropped onto the chat");
		const file = { name: "notes.txt", type: "text/plain", bytes: notes };
		expect(await dispatch(page, ".chat .messages", drag("dragenter", transfer(file)))).toBe(false);
		const target = page.getByText("Drop the file here to send it");
		await target.waitFor();
		expect(await dispatch(page, ".chat .messages", drag("dragover", transfer(file)))).toBe(false);
		expect(await dispatch(page, ".drop-target", drag("drop", transfer(file)))).toBe(false);
		await target.waitFor({ state: "detached" });
		await page.getByRole("group", { name: "File to send" }).getByText("notes.txt").waitFor();
		await sendPendingTo(page, bob, "notes.txt", notes);
	});
});

describe("read receipts", () => {
	it("tell the sender a message was seen, both ways, sealed; a device that turned them off sends none", async () => {
		const { page, bob, alice } = await aliceAndBob();
		// Bob writes while her chat with him is open on a visible page: she has seen it as it came.
		const first = await bob.client.sendText(alice, "did you see this?");
		const read = await bob.client.waitFor("read", (r) => r.ids.includes(first.id), UI_TIMEOUT_MS);
		expect(read).toMatchObject({ peerId: alice, ids: [first.id] });

		// She writes; his device says he read it, and her message shows "Read".
		const delivered = bob.client.waitFor("message", (m) => m.text === "seen on your side?", UI_TIMEOUT_MS);
		await sendMessage(page, "seen on your side?");
		const hers = await delivered;
		expect(await bob.client.sendReadReceipt(alice, [hers.id])).toBe(true);
		await message(page, "seen on your side?").locator(".delivery").getByText("Read", { exact: true }).waitFor();

		// Turned off on her device: his next message is delivered (its receipt comes) but never "read".
		await openDevices(page);
		const choice = page.getByRole("checkbox", { name: "Send read receipts" });
		expect(await choice.isChecked()).toBe(true);
		await choice.uncheck();
		await page
			.getByRole("navigation")
			.getByRole("button", { name: /^Devices/ })
			.click();
		await openChat(page, bob.account.handle);
		const reads: string[] = [];
		bob.client.on("read", (r) => reads.push(...r.ids));
		const second = await bob.client.sendText(alice, "and this one?");
		await bob.client.waitFor("delivered", (d) => d.ids.includes(second.id), UI_TIMEOUT_MS);
		await message(page, "and this one?").waitFor();
		// A reply of hers comes after anything her device would have sent on seeing his message.
		const replied = bob.client.waitFor("message", (m) => m.text === "no receipt for that", UI_TIMEOUT_MS);
		await sendMessage(page, "no receipt for that");
		await replied;
		expect(reads).not.toContain(second.id);
		// The choice is this device's, and it stays after a reload.
		await page.reload();
		await openDevices(page);
		expect(await page.getByRole("checkbox", { name: "Send read receipts" }).isChecked()).toBe(false);
	});
});
