import type { Browser, Frame, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import { acceptRequest, createAccount, message, openChat, requestFrom, sendMessage, uniqueHandle } from "./app-driver.ts";
import { violations } from "./axe.ts";
import {
	closeProfilesAfterEach,
	launchChromium,
	newProfile,
	newProfileAllowingEmbeddedStorage,
	type Profile,
	screenshot,
	setStorageAccess,
	UI_TIMEOUT_MS,
} from "./browser.ts";
import { type HostSite, startHostSite } from "./host-site.ts";

let server: DevServer;
let browser: Browser;
/** Listed in WIDGET_ALLOWED_ORIGINS. */
let allowedHost: HostSite;
/** Another origin, not listed. */
let strangerHost: HostSite;
const track = closeProfilesAfterEach("the app or widget");

/**
 * A few sends in a short window: messages waiting for it can be seen, and its end awaited,
 * within a test (the window must outlast the sends that fill it on a slow machine).
 */
const SENDS_PER_WINDOW = 2;
const RATE_WINDOW_SECONDS = 15;

beforeAll(async () => {
	const widgetOrigin = () => server.baseUrl;
	[allowedHost, strangerHost, browser] = await Promise.all([startHostSite(widgetOrigin), startHostSite(widgetOrigin), launchChromium()]);
	server = await startDevServer({
		vars: {
			...RELAXED_LIMITS,
			RATE_LIMIT_COUNT: String(SENDS_PER_WINDOW),
			RATE_LIMIT_WINDOW_SECONDS: String(RATE_WINDOW_SECONDS),
			WIDGET_ALLOWED_ORIGINS: allowedHost.origin,
		},
	});
});

afterAll(async () => {
	await browser?.close();
	await Promise.all([server?.dispose(), allowedHost?.close(), strangerHost?.close()]);
});

async function profile(): Promise<Profile> {
	return track(await newProfile(browser));
}

/** A visitor whose browser lets embedded sites keep storage (see newProfileAllowingEmbeddedStorage). */
async function visitorProfile(): Promise<Profile> {
	return track(await newProfileAllowingEmbeddedStorage());
}

/** The owner of a handle, signed in to the web app. */
async function owner(): Promise<{ page: Page; handle: string }> {
	const page = await (await profile()).newPage();
	const handle = uniqueHandle("shop");
	await createAccount(page, server.baseUrl, handle, "shop laptop");
	return { page, handle };
}

/** A visitor's browser on the host page; resolves with the widget's frame once it has said `ready`. */
async function visit(
	host: HostSite,
	handle: string,
	browserProfile?: Profile,
	theme: "light" | "dark" = "dark",
): Promise<{ page: Page; widget: Frame }> {
	const page = await (browserProfile ?? (await visitorProfile())).newPage();
	await page.goto(`${host.origin}/?handle=${handle}&theme=${theme}`);
	await page.waitForFunction("window.widgetEvents.some((e) => e.type === 'ready')");
	const element = await page.waitForSelector("iframe[data-secure-messaging-widget]");
	const widget = await element.contentFrame();
	if (!widget) throw new Error("the widget iframe has no frame");
	return { page, widget };
}

type Recorded = { origin: string; data: { type?: string; [key: string]: unknown } };
const receivedMessages = (page: Page) => page.evaluate("window.receivedMessages") as Promise<Recorded[]>;
/** The theme the widget's own document took from the host's script tag. */
const widgetTheme = (widget: Frame) => widget.evaluate("document.documentElement.dataset.theme") as Promise<string | undefined>;

describe("the widget embedded in another site", () => {
	it("creates an account in the iframe in the host's theme, sends and receives messages with the web app, and tells the host page only ready, unread and size, which no other window can forge", async () => {
		const shop = await owner();
		const { page, widget } = await visit(allowedHost, shop.handle);
		expect(await widgetTheme(widget)).toBe("dark");

		// The host opens it through the embed API (a postMessage to the widget's exact origin).
		await page.evaluate("window.secureMessagingWidgets[0].open()");
		const visitorHandle = uniqueHandle("visitor");
		await widget.getByLabel("Choose a handle").fill(visitorHandle);
		await widget.getByRole("button", { name: "Create account" }).click();
		await widget.getByRole("button", { name: `Ask @${shop.handle} to chat` }).click();
		await widget.getByText(`Waiting for @${shop.handle} to accept`).waitFor();

		await requestFrom(shop.page, visitorHandle).waitFor();
		await acceptRequest(shop.page, visitorHandle);
		await openChat(shop.page, visitorHandle);

		await sendMessage(widget as unknown as Page, "Hi! Do you ship to Norway?");
		await message(shop.page, "Hi! Do you ship to Norway?").waitFor();
		await sendMessage(shop.page, "We do, in 3 days.");
		await message(widget as unknown as Page, "We do, in 3 days.").waitFor();
		await widget.locator('li.message.outgoing[data-state="delivered"]').filter({ hasText: "Do you ship" }).waitFor();
		await screenshot(page, "widget");
		// The open panel, in its iframe on the host page: accessible, and its composer whole and
		// uncovered in the frame, Send included.
		expect(await violations(widget, "widget")).toEqual([]);
		expect(
			await widget.evaluate(`["form.composer textarea", "form.composer .attach", "form.composer button.send"].map((selector) => {
				const el = document.querySelector(selector);
				const r = el.getBoundingClientRect();
				const inside = r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
				return inside && el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
			})`),
		).toEqual([true, true, true]);

		// Closed, it shows a launcher; the host hears the unread count (and nothing else).
		await page.evaluate("window.secureMessagingWidgets[0].close()");
		await widget.getByRole("button", { name: `Chat with @${shop.handle}` }).waitFor();
		await sendMessage(shop.page, "Anything else?");
		await widget
			.getByRole("button", { name: `Chat with @${shop.handle}` })
			.getByText("1 unread", { exact: true })
			.waitFor();
		await page.waitForFunction("window.widgetEvents.some((e) => e.type === 'unread' && e.count === 1)");
		await screenshot(page, "widget-closed");

		// The loader believes only the widget's window at the widget's origin: the same messages
		// posted by the host page's own window (a script of the host or an ad in it) change nothing.
		const height = await page.evaluate("document.querySelector('iframe[data-secure-messaging-widget]').style.height");
		await page.evaluate(`for (const forged of [
			{ source: "secure-messaging-widget", version: 1, type: "unread", count: 99 },
			{ source: "secure-messaging-widget", version: 1, type: "resize", height: 7 },
		]) window.postMessage(forged, location.origin)`);
		await expect
			.poll(async () => (await receivedMessages(page)).filter((m) => m.origin === allowedHost.origin).length, { timeout: UI_TIMEOUT_MS })
			.toBe(2);
		const events = (await page.evaluate("window.widgetEvents")) as Recorded["data"][];
		expect(events.filter((e) => e.count === 99 || e.height === 7)).toEqual([]);
		expect(await page.evaluate("document.querySelector('iframe[data-secure-messaging-widget]').style.height")).toBe(height);

		const fromWidget = (await receivedMessages(page)).filter((m) => m.origin === server.baseUrl);
		expect(new Set(fromWidget.map((m) => m.data.type))).toEqual(new Set(["ready", "unread", "resize"]));
		const everything = JSON.stringify(await receivedMessages(page));
		for (const secret of ["Do you ship", "We do", "Anything else", visitorHandle]) expect(everything).not.toContain(secret);
	});

	it("shows the quota left; past the rate limit messages wait in order, each saying when it goes, send by themselves, and can be cancelled", async () => {
		const shop = await owner();
		const { page, widget } = await visit(allowedHost, shop.handle);
		await page.evaluate("window.secureMessagingWidgets[0].open()");
		const visitorHandle = uniqueHandle("visitor");
		await widget.getByLabel("Choose a handle").fill(visitorHandle);
		await widget.getByRole("button", { name: "Create account" }).click();
		await widget.getByRole("button", { name: `Ask @${shop.handle} to chat` }).click();
		await acceptRequest(shop.page, visitorHandle);

		const asPage = widget as unknown as Page;
		// RELAXED_LIMITS: 1,000,000 credits and 10,000 messages a day to start with.
		const allowance = (sent: number) =>
			widget.getByText(`A message costs 4 credits. · ${1_000_000 - 4 * sent} credits left · ${10_000 - sent} messages left today`, {
				exact: true,
			});
		await allowance(0).waitFor();
		for (let i = 1; i <= SENDS_PER_WINDOW; i++) {
			await sendMessage(asPage, `question ${i}`);
			await widget
				.locator('li.message.outgoing:not([data-state="sending"])')
				.filter({ hasText: `question ${i}` })
				.waitFor();
			await allowance(i).waitFor();
		}
		// The window is full: the person keeps writing, and each message waits with its time and a Cancel.
		const send = widget.getByRole("button", { name: /^Send/ });
		await sendMessage(asPage, "one more");
		await widget.getByRole("textbox", { name: "Message" }).fill("never mind");
		expect(await send.isEnabled()).toBe(true);
		await send.click();
		const waiting = (text: string) => widget.locator("li.message.outgoing").filter({ hasText: text });
		await waiting("one more")
			.getByText(/^Sends in \d+ s$/)
			.waitFor();
		await waiting("never mind")
			.getByText(/^Sends in \d+ s$/)
			.waitFor();
		await screenshot(page, "widget-waiting-to-send");
		await waiting("never mind").getByRole("button", { name: "Cancel" }).click();
		await waiting("never mind").waitFor({ state: "detached" });

		// The window passes (real time: the relay's clock runs in another process): it goes by itself, charged then.
		await widget
			.locator('li.message.outgoing:not([data-state="sending"])')
			.filter({ hasText: "one more" })
			.waitFor({ timeout: (RATE_WINDOW_SECONDS + 15) * 1000 });
		await allowance(SENDS_PER_WINDOW + 1).waitFor();
		await openChat(shop.page, visitorHandle);
		await message(shop.page, "one more").waitFor();
		expect(await message(shop.page, "never mind").count()).toBe(0);
	});

	it("opens the chat in a window of its own origin when the browser gives embedded sites no storage, and it sends and receives", async () => {
		const shop = await owner();
		// Chromium's default: no storage for third-party frames.
		const visitor = await profile();
		const { page, widget } = await visit(allowedHost, shop.handle, visitor, "light");
		expect(await widgetTheme(widget)).toBe("light");
		await page.evaluate("window.secureMessagingWidgets[0].open()");
		await widget.getByText("does not let chats embedded in other sites keep their keys").waitFor();
		await screenshot(page, "widget-storage-blocked");
		// Asked for storage access, the browser says no (as the visitor did): the window it is.
		await setStorageAccess(page, allowedHost.origin, server.baseUrl, "denied");
		await widget.getByRole("button", { name: "Allow and chat here" }).click();
		await widget.getByText("The browser did not allow this chat to keep its keys here").waitFor();
		const [chat] = await Promise.all([
			visitor.context.waitForEvent("page"),
			widget.getByRole("button", { name: "Open chat window" }).click(),
		]);
		await chat.waitForLoadState();
		expect(new URL(chat.url()).origin).toBe(server.baseUrl);

		const visitorHandle = uniqueHandle("visitor");
		await chat.getByLabel("Choose a handle").fill(visitorHandle);
		await chat.getByRole("button", { name: "Create account" }).click();
		await chat.getByRole("button", { name: `Ask @${shop.handle} to chat` }).click();
		await acceptRequest(shop.page, visitorHandle);
		await openChat(shop.page, visitorHandle);
		await sendMessage(chat, "Hello from the chat window");
		await message(shop.page, "Hello from the chat window").waitFor();
		await sendMessage(shop.page, "Hello back");
		await message(chat, "Hello back").waitFor();
	});

	it("asks for storage access from the launcher's click and, where Chromium grants it but keeps the storage closed, says so and offers the window, on the next visit too", async () => {
		// Chromium 156 here: with storage blocked for embedded sites, a granted request (even in
		// the extended form) opens cookies only; the handle's localStorage throws and its
		// IndexedDB never answers. Were that to change, this test would see the chat inline.
		const handle = uniqueHandle("shop");
		const { page, widget } = await visit(allowedHost, handle, await profile());
		await setStorageAccess(page, allowedHost.origin, server.baseUrl, "granted");
		await widget.getByRole("button", { name: `Chat with @${handle}` }).click();
		await widget.getByText("The browser allowed it, but still keeps this chat's storage closed here").waitFor();
		expect(await widget.evaluate("document.hasStorageAccess()")).toBe(true);
		expect(await widget.getByRole("button", { name: "Allow and chat here" }).count()).toBe(0);
		await widget.getByRole("button", { name: "Open chat window" }).waitFor();

		// Granted before: the widget asks again on load without a click, finds the storage still
		// closed and waits, closed, for the visitor (rather than hanging on the unanswered open).
		await page.reload();
		await page.waitForFunction("window.widgetEvents.some((e) => e.type === 'ready')");
		const again = await (await page.waitForSelector("iframe[data-secure-messaging-widget]")).contentFrame();
		await again?.getByRole("button", { name: `Chat with @${handle}` }).waitFor();
		expect(await again?.evaluate("navigator.permissions.query({ name: 'storage-access' }).then((s) => s.state)")).toBe("granted");
	});

	it("cannot be framed by a site whose origin is not allowed", async () => {
		const shop = await owner();
		const page = await (await profile()).newPage();
		const refused = page.waitForEvent("console", (m) => m.text().includes("frame-ancestors"));
		await page.goto(`${strangerHost.origin}/?handle=${shop.handle}&theme=light`);
		const element = await page.waitForSelector("iframe[data-secure-messaging-widget]");
		await refused;
		const frame = await element.contentFrame();
		await frame?.waitForLoadState("load");
		// The browser put an error page in the frame: nothing of ours loaded, nothing was said.
		expect(frame?.url() ?? "").not.toContain(server.baseUrl);
		expect(await frame?.$("#widget")).toBeNull();
		expect((await receivedMessages(page)).filter((m) => m.origin === server.baseUrl)).toEqual([]);
	});

	it("keeps its storage and keys out of the host page's reach", async () => {
		const shop = await owner();
		const { page, widget } = await visit(allowedHost, shop.handle);
		await page.evaluate("window.secureMessagingWidgets[0].open()");
		await widget.getByLabel("Choose a handle").fill(uniqueHandle("visitor"));
		await widget.getByRole("button", { name: "Create account" }).click();
		await widget.getByRole("button", { name: `Ask @${shop.handle} to chat` }).waitFor();
		// The keys are there, inside the widget's origin…
		expect(await widget.evaluate("indexedDB.databases().then((dbs) => dbs.map((d) => d.name))")).toContain("sm-widget-keys");

		// …and every way in from the host page is closed.
		const attempts = await page.evaluate(`(async () => {
			const frame = document.querySelector("iframe[data-secure-messaging-widget]");
			const tryRead = (read) => { try { read(); return "readable"; } catch (error) { return error.name; } };
			return {
				document: frame.contentDocument === null ? "null" : "readable",
				localStorage: tryRead(() => frame.contentWindow.localStorage),
				indexedDB: tryRead(() => frame.contentWindow.indexedDB),
				dom: tryRead(() => frame.contentWindow.document.body),
				ownDatabases: (await indexedDB.databases()).map((d) => d.name),
			};
		})()`);
		expect(attempts).toEqual({
			document: "null",
			localStorage: "SecurityError",
			indexedDB: "SecurityError",
			dom: "SecurityError",
			ownDatabases: [],
		});
	});

	it("serves every page with security headers and lets only allowed hosts frame the widget", async () => {
		const headersOf = async (path: string) => (await fetch(`${server.baseUrl}${path}`)).headers;
		for (const path of ["/", "/widget", "/widget.js", "/app.js", "/styles.css", "/favicon.svg", "/api/limits", "/no-such-page"]) {
			const headers = await headersOf(path);
			expect(headers.get("x-content-type-options"), path).toBe("nosniff");
			expect(headers.get("referrer-policy"), path).toBe("no-referrer");
			const csp = headers.get("content-security-policy") ?? "";
			expect(csp, path).not.toContain("unsafe-inline");
			expect(csp, path).not.toMatch(/https?:\/\/(?!localhost|127\.0\.0\.1)/);
		}
		const app = (await headersOf("/")).get("content-security-policy") ?? "";
		expect(app).toContain("script-src 'self'");
		expect(app).toContain(`connect-src 'self' ws://${new URL(server.baseUrl).host}`);
		expect(app).toContain("frame-ancestors 'none'");
		const missing = await fetch(`${server.baseUrl}/no-such-page`);
		expect(missing.status).toBe(404);
		expect(missing.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
		expect((await headersOf("/widget")).get("content-security-policy")).toContain(`frame-ancestors ${allowedHost.origin}`);
	});
});
