/**
 * Message ids are unique per sender only. In the web app: a contact (here a Node SDK client
 * whose socket garbles what it sends, as a hostile client would) who sends a frame no key
 * opens under the id of one of Alice's messages gets an unreadable message of his own; Alice's
 * message stays as she sent it, also after a reload. And a history kept by an older version of
 * the app, under relay ids alone, is rewritten under sender and id when the app opens it.
 */
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import type { ClientFrame } from "../../common/protocol/wire.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { ClientFactory, type Member, registerMember } from "../support/sdk-clients.ts";
import { contactButton, conversationTexts, message, openChat, requestContact, sendMessage, signUp } from "./app-driver.ts";
import { closeProfilesAfterEach, newProfile, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();
const factory = new ClientFactory(() => e2e.server.baseUrl);

afterEach(() => factory.closeAll());

const UNREADABLE = "This message could not be decrypted on this device.";

/**
 * Alice in the web app, and Mallory, an SDK client as her accepted contact, her chat with him
 * open. Mallory's texts go out garbled while `garble.on`; while `hold.on` his sends are held
 * back (as a relay would hold them), and go out with his first frame after `hold.release`.
 */
async function aliceAndMallory(): Promise<{
	page: Page;
	mallory: Member;
	garble: { on: boolean };
	hold: { on: boolean; release: boolean };
}> {
	const profile = track(await newProfile(e2e.browser));
	const { page } = await signUp(profile, e2e.server.baseUrl, "alice");
	const garble = { on: false };
	const hold = { on: false, release: false };
	const held: string[] = [];
	const garbling = interceptingWebSocket({
		outgoing: (data) => {
			const frame: ClientFrame = JSON.parse(data);
			if (hold.on && frame.type === "send") {
				held.push(data);
				return null;
			}
			if (hold.release && held.length > 0) return [...held.splice(0), data];
			if (!garble.on || frame.type !== "send" || frame.kind !== "text") return data;
			return JSON.stringify({ ...frame, box: toB64u(randomBytes(200)) });
		},
	});
	const mallory = await registerMember(factory, "mallory", garbling);
	await mallory.client.connect();
	const requested = mallory.client.waitFor("contact", (c) => c.event === "requested", UI_TIMEOUT_MS);
	await requestContact(page, mallory.account.handle);
	await mallory.client.acceptContact((await requested).contact.accountId);
	await contactButton(page, mallory.account.handle).filter({ hasNotText: "waiting" }).waitFor();
	await openChat(page, mallory.account.handle);
	return { page, mallory, garble, hold };
}

/** Alice's message, as Mallory received it (so he knows its id). */
async function sendToMallory(page: Page, mallory: Member, text: string): Promise<string> {
	const received = mallory.client.waitFor("message", (m) => m.text === text, UI_TIMEOUT_MS);
	await sendMessage(page, text);
	return (await received).id;
}

/** The history's records as IndexedDB keeps them: key, id, and who sent it. */
function storedKeys(page: Page): Promise<Array<{ key: string; id: string; outgoing: boolean }>> {
	return page.evaluate(`new Promise((resolve, reject) => {
		const opening = indexedDB.open("sm-app-history");
		opening.onerror = () => reject(opening.error);
		opening.onsuccess = () => {
			const all = opening.result.transaction("messages").objectStore("messages").getAll();
			all.onsuccess = () => { opening.result.close(); resolve(all.result.map((m) => ({ key: m.key, id: m.id, outgoing: m.outgoing }))); };
			all.onerror = () => reject(all.error);
		};
	})`) as Promise<Array<{ key: string; id: string; outgoing: boolean }>>;
}

describe("message ids in the web app", () => {
	it("a contact's garbage under the id of Alice's message is his own unreadable message: hers shows as she sent it, also after a reload", async () => {
		const { page, mallory, garble } = await aliceAndMallory();
		const id = await sendToMallory(page, mallory, "Alice's own words");

		garble.on = true;
		await mallory.client.sendText((await mallory.client.contacts())[0]?.accountId as string, "anything", { id });
		await message(page, UNREADABLE).waitFor();
		expect(await conversationTexts(page)).toEqual(["Alice's own words", UNREADABLE]);
		expect(await message(page, "Alice's own words").getAttribute("class")).toContain("outgoing");

		await page.reload();
		await openChat(page, mallory.account.handle);
		await message(page, "Alice's own words").waitFor();
		expect(await conversationTexts(page)).toEqual(["Alice's own words", UNREADABLE]);
		expect(await message(page, "Alice's own words").getAttribute("data-state")).toMatch(/^(sent|delivered)$/);
		// Two records under one id, each under its own sender.
		const keys = await storedKeys(page);
		expect(
			keys
				.filter((k) => k.id === id)
				.map((k) => k.key)
				.sort(),
		).toEqual([`${mallory.account.accountId}:${id}`, `me:${id}`].sort());
	});

	it("a message held back on the way shows 'A message may be missing here' on the next one, until it comes", async () => {
		const { page, mallory, hold } = await aliceAndMallory();
		const alice = (await mallory.client.contacts())[0]?.accountId as string;
		await mallory.client.sendText(alice, "first");
		await message(page, "first").waitFor();
		hold.on = true;
		const heldBack = mallory.client.sendText(alice, "held back");
		await new Promise((resolve) => setTimeout(resolve, 100));
		hold.on = false;
		await mallory.client.sendText(alice, "third");
		const mark = message(page, "third").getByTestId("missing-before");
		await mark.waitFor();
		expect(await mark.textContent()).toBe("A message may be missing here");

		hold.release = true;
		await mallory.client.sendText(alice, "fourth");
		await heldBack;
		await message(page, "held back").waitFor();
		await message(page, "fourth").waitFor();
		await mark.waitFor({ state: "detached" });
		// Ordered by the time sealed into each message, so the late one is in its place.
		expect(await conversationTexts(page)).toEqual(["first", "held back", "third", "fourth"]);
		expect(await page.getByTestId("missing-before").count()).toBe(0);
	});

	it("rewrites a history an older version kept under relay ids alone under sender and id, and shows it as before", async () => {
		const { page, mallory } = await aliceAndMallory();
		const mine = await sendToMallory(page, mallory, "sent before the upgrade");
		const shown = message(page, "received before the upgrade");
		await mallory.client.sendText((await mallory.client.contacts())[0]?.accountId as string, "received before the upgrade");
		await shown.waitFor();

		// Off the app (a page of the same origin that runs none of it): the history as version 2 of
		// the database kept it, each message under its relay id, with a unique index of ids.
		await page.goto(`${e2e.server.baseUrl}/api/limits`);
		await page.evaluate(`new Promise((resolve, reject) => {
			const opening = indexedDB.open("sm-app-history");
			opening.onerror = () => reject(opening.error);
			opening.onsuccess = () => {
				const db = opening.result;
				const all = db.transaction("messages").objectStore("messages").getAll();
				all.onerror = () => reject(all.error);
				all.onsuccess = () => {
					const records = all.result;
					db.close();
					const deleting = indexedDB.deleteDatabase("sm-app-history");
					deleting.onerror = () => reject(deleting.error);
					deleting.onsuccess = () => {
						const old = indexedDB.open("sm-app-history", 2);
						old.onupgradeneeded = () => {
							const messages = old.result.createObjectStore("messages", { keyPath: "key" });
							messages.createIndex("id", "id", { unique: true });
							messages.createIndex("peerAt", ["peerId", "at"]);
							messages.createIndex("unread", "unread");
							messages.createIndex("pending", "pending");
							old.result.createObjectStore("files");
						};
						old.onerror = () => reject(old.error);
						old.onsuccess = () => {
							const tx = old.result.transaction("messages", "readwrite");
							for (const record of records) tx.objectStore("messages").put({ ...record, key: record.id });
							tx.oncomplete = () => { old.result.close(); resolve(); };
							tx.onerror = () => reject(tx.error);
						};
					};
				};
			};
		})`);
		const before = await storedKeys(page);
		expect(before.map((k) => k.key).sort()).toEqual(before.map((k) => k.id).sort());

		await page.goto(e2e.server.baseUrl);
		await openChat(page, mallory.account.handle);
		await message(page, "received before the upgrade").waitFor();
		expect(await conversationTexts(page)).toEqual(["sent before the upgrade", "received before the upgrade"]);
		const after = await storedKeys(page);
		const his = after.find((k) => !k.outgoing);
		expect(after.map((k) => k.key).sort()).toEqual([`me:${mine}`, `${mallory.account.accountId}:${his?.id}`].sort());
	});
});
