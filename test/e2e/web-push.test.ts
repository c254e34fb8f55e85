/**
 * The service worker's side of Web Push (issue 19), in real Chromium: a push delivered to the
 * app's registration (through the DevTools protocol, as the browser's push service would hand
 * it over) shows "New message" or "Incoming call" with the app's icon, and nothing the push
 * did not carry; a push it cannot read still shows a notice, as userVisibleOnly requires.
 * The relay's sending side is tested against a push service stand-in in test/worker-push/.
 */
import type { CDPSession, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { closeProfilesAfterEach, newPersistentProfile, relayAndChromiumForFile, UI_TIMEOUT_MS } from "./browser.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();

interface Shown {
	title: string;
	body: string;
	tag: string;
	icon: string;
}

const shownNotifications = (page: Page) =>
	page.evaluate(`navigator.serviceWorker.ready
		.then((r) => r.getNotifications())
		.then((all) => all.map((n) => ({ title: n.title, body: n.body, tag: n.tag, icon: n.icon })))`) as Promise<Shown[]>;

/** A push may have to start the service worker before its notice lands: the wait is the UI's. */
async function waitForNotification(page: Page, tag: string, body: string): Promise<Shown> {
	const deadline = Date.now() + UI_TIMEOUT_MS;
	for (;;) {
		const found = (await shownNotifications(page)).find((n) => n.tag === tag && n.body === body);
		if (found) return found;
		if (Date.now() > deadline)
			throw new Error(`no ${tag} notification saying "${body}": ${JSON.stringify(await shownNotifications(page))}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** The app's service worker registration id, as DevTools knows it. */
async function registrationId(session: CDPSession, scope: string): Promise<string> {
	const found = new Promise<string>((resolve) => {
		session.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
			const ours = registrations.find((r) => r.scopeURL === scope && !r.isDeleted);
			if (ours) resolve(ours.registrationId);
		});
	});
	await session.send("ServiceWorker.enable");
	return found;
}

describe("Web Push in the service worker", () => {
	it("shows a notification naming nobody for each push, and one for a push it cannot read", async () => {
		const profile = track(await newPersistentProfile());
		const origin = e2e.server.baseUrl;
		await profile.context.grantPermissions(["notifications"], { origin });
		const page = await profile.newPage();
		await page.goto(origin);
		// `ready` resolves while the worker may still be activating. A push sent then was, once in
		// CI, never shown; pushing only to an activated worker takes that race away.
		await page.evaluate(`navigator.serviceWorker.ready.then((r) => r.active.state === "activated" ||
			new Promise((resolve) => r.active.addEventListener("statechange", () => r.active.state === "activated" && resolve(true))))`);
		const session = await profile.context.newCDPSession(page);
		const id = await registrationId(session, `${origin}/`);
		const push = (data: string) => session.send("ServiceWorker.deliverPushMessage", { origin, registrationId: id, data });

		await push(JSON.stringify({ v: 1, kind: "message", count: 3 }));
		const message = await waitForNotification(page, "push-message", "3 new messages");
		expect(message).toEqual({ title: "New message", body: "3 new messages", tag: "push-message", icon: `${origin}/icons/icon-192.png` });

		await push(JSON.stringify({ v: 1, kind: "call", count: 1 }));
		const call = await waitForNotification(page, "push-call", "Open Secure Messaging to answer.");
		expect(call.title).toBe("Incoming call");

		// The next message push replaces the message notice rather than stacking another.
		await push(JSON.stringify({ v: 1, kind: "message", count: 1 }));
		await waitForNotification(page, "push-message", "Open Secure Messaging to read it.");
		expect((await shownNotifications(page)).map((n) => n.tag).sort()).toEqual(["push-call", "push-message"]);

		// Not a payload of ours (or none at all): still a notice, saying no more than that something came.
		await page.evaluate(`navigator.serviceWorker.ready
			.then((r) => r.getNotifications({ tag: "push-message" }))
			.then((all) => all.forEach((n) => n.close()))`);
		expect((await shownNotifications(page)).map((n) => n.tag)).toEqual(["push-call"]);
		await push('{"v":2,"kind":"message","count":1,"from":"someone"}');
		const unread = await waitForNotification(page, "push-message", "Open Secure Messaging to read it.");
		expect(unread.title).toBe("New message");
	});
});
