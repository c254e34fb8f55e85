/**
 * What a person does in the web app, as Playwright steps. Every step waits for the UI state
 * it leads to, through accessible names where there are any, so tests never sleep.
 */
import type { BrowserContext, Locator, Page, WebSocketRoute } from "playwright-core";
import { UI_TIMEOUT_MS } from "./browser.ts";

let counter = 0;
/** Unique per run: the relay keeps its accounts for the life of the test server. */
export const uniqueHandle = (prefix: string): string => `${prefix}_${Date.now().toString(36)}${++counter}`.slice(0, 32);

/** Someone in this browser profile who just created an account in the web app. */
export async function signUp(
	profile: { newPage(): Promise<Page> },
	baseUrl: string,
	prefix: string,
): Promise<{ page: Page; handle: string }> {
	const page = await profile.newPage();
	const handle = uniqueHandle(prefix);
	await createAccount(page, baseUrl, handle, `${prefix}'s browser`);
	return { page, handle };
}

/**
 * "Create account" in the web app. The app then shows the new recovery key's words: by default
 * they are confirmed as a person does it (so no reminder shows); `later` puts them off, `leave`
 * leaves them on screen. Returns the 12 words.
 */
export async function createAccount(
	page: Page,
	baseUrl: string,
	handle: string,
	deviceName: string,
	recovery: "confirm" | "later" | "leave" = "confirm",
): Promise<string[]> {
	await page.goto(baseUrl);
	await page.getByLabel("Choose a handle").fill(handle);
	await page.getByLabel("Name this device").fill(deviceName);
	await page.getByRole("button", { name: "Create account" }).click();
	const words = await recoveryWords(page);
	if (recovery === "leave") return words;
	if (recovery === "confirm") await confirmRecoveryWords(page, words);
	else await page.getByRole("button", { name: "Later" }).click();
	await page.locator(".who").getByText(`@${handle}`, { exact: true }).waitFor();
	return words;
}

/** The words of the recovery key on screen, once they are shown, in their order. */
export async function recoveryWords(page: Page): Promise<string[]> {
	const list = page.getByTestId("recovery-words");
	await list.waitFor();
	return list.getByTestId("recovery-word").allTextContents();
}

/** "I have saved it", then the words the app asks for, typed back by position, and "Check". */
export async function confirmRecoveryWords(page: Page, words: readonly string[]): Promise<void> {
	await page.getByRole("button", { name: "I have saved it" }).click();
	const fields = page.getByRole("form", { name: "Confirm your recovery key" }).locator("input[data-position]");
	await fields.first().waitFor();
	for (const field of await fields.all()) {
		const position = Number(await field.getAttribute("data-position"));
		await field.fill(words[position - 1] ?? "");
	}
	await page.getByRole("button", { name: "Check" }).click();
	await page.getByTestId("recovery-words").waitFor({ state: "detached" });
}

/** On a browser without an account: "Sign in with your recovery key" with a handle, the words as typed, and a device name. */
export async function restoreWithRecoveryKey(page: Page, handle: string, words: string, deviceName: string): Promise<void> {
	const tab = page.getByRole("button", { name: "Sign in with your recovery key" });
	if ((await tab.getAttribute("aria-pressed")) !== "true") await tab.click();
	const form = page.getByRole("form", { name: "Sign in with your recovery key" });
	await form.getByLabel("Your handle").fill(handle);
	await form.getByLabel("Your recovery key").fill(words);
	await form.getByLabel("Name this device").fill(deviceName);
	await form.getByRole("button", { name: "Sign in" }).click();
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

/** Press Tab until `target` has the focus, as someone using only the keyboard would. */
export async function tabTo(page: Page, target: Locator, maxPresses = 40): Promise<void> {
	for (let i = 0; i < maxPresses; i++) {
		if (await target.evaluate((el: { ownerDocument: { activeElement: unknown } }) => el === el.ownerDocument.activeElement)) return;
		await page.keyboard.press("Tab");
	}
	throw new Error(`${maxPresses} presses of Tab did not reach ${target}`);
}

/** The page's content width and its viewport's width: a first one above the second means it scrolls sideways. */
export function pageWidths(page: Page): Promise<[number, number]> {
	return page.evaluate("[document.documentElement.scrollWidth, innerWidth]") as Promise<[number, number]>;
}

/**
 * A network this browser profile can lose and get back. Going offline alone leaves open
 * WebSockets working in Chromium (microsoft/playwright#4910), so the profile's sockets pass
 * through Playwright to the real relay, and going offline also closes them and refuses new
 * ones until the network is back. Set it up before the page opens its socket.
 */
export async function losableNetwork(context: BrowserContext): Promise<{ goOffline(): Promise<void>; goOnline(): Promise<void> }> {
	let offline = false;
	const open = new Set<WebSocketRoute>();
	await context.routeWebSocket(
		() => true,
		async (socket) => {
			if (offline) return socket.close({ code: 1001, reason: "network lost" });
			socket.connectToServer();
			open.add(socket);
			socket.onClose(() => open.delete(socket));
		},
	);
	return {
		async goOffline() {
			offline = true;
			await context.setOffline(true);
			await Promise.all([...open].map((socket) => socket.close({ code: 1001, reason: "network lost" })));
		},
		async goOnline() {
			offline = false;
			await context.setOffline(false);
		},
	};
}

/** The connection state shown at the top of the app ("Connected", "Connecting…", "Offline"). */
export const connectionState = (page: Page): Locator => page.locator("output.connection");

/** The IndexedDB databases of the page's origin, by name. */
export function databaseNames(page: Page): Promise<string[]> {
	return page.evaluate("indexedDB.databases().then((dbs) => dbs.map((d) => d.name))") as Promise<string[]>;
}

/**
 * Put a message the app cannot show into this browser's history, in the conversation of its
 * first message: its time lies beyond what a Date holds, as damaged storage could leave it.
 */
export async function storeUnshowableMessage(page: Page, database = "sm-app-history"): Promise<void> {
	await page.evaluate(`new Promise((resolve, reject) => {
		const opening = indexedDB.open(${JSON.stringify(database)});
		opening.onerror = () => reject(opening.error);
		opening.onsuccess = () => {
			const tx = opening.result.transaction("messages", "readwrite");
			const store = tx.objectStore("messages");
			const first = store.openCursor();
			first.onsuccess = () => {
				const peerId = first.result.value.peerId;
				store.put({ key: "damaged", id: "damaged", peerId, outgoing: false, text: "a damaged record", at: 9e15, state: "received" });
			};
			tx.oncomplete = () => { opening.result.close(); resolve(); };
			tx.onerror = () => reject(tx.error);
		};
	})`);
}

/** Two people, each signed in on their own page, become contacts and open their chat with each other. */
export async function becomeContacts(a: { page: Page; handle: string }, b: { page: Page; handle: string }): Promise<void> {
	await requestContact(a.page, b.handle);
	await requestFrom(b.page, a.handle).waitFor();
	await acceptRequest(b.page, a.handle);
	await contactButton(a.page, b.handle).filter({ hasNotText: "waiting" }).waitFor();
	await openChat(a.page, b.handle);
	await openChat(b.page, a.handle);
	await composer(a.page).waitFor();
}

/** The Devices panel, opened from the top bar (left open if it is already). */
export async function openDevices(page: Page): Promise<void> {
	const nav = page.getByRole("navigation").getByRole("button", { name: /^Devices/ });
	if ((await nav.getAttribute("aria-current")) !== "page") await nav.click();
	await page.getByRole("heading", { name: "Devices", exact: true }).waitFor();
}

/** On an approved device: Devices, "Link a new device"; returns the code in its typed form. */
export async function showLinkCode(page: Page): Promise<string> {
	await openDevices(page);
	await page.getByRole("button", { name: "Link a new device" }).click();
	const code = await page.getByTestId("link-code").getAttribute("data-code");
	if (!code) throw new Error("no link code was shown");
	return code;
}

/** On a browser without an account: "Add this device" with a typed link code and a device name. */
export async function enterLinkCode(page: Page, baseUrl: string, code: string, deviceName: string): Promise<void> {
	await page.goto(baseUrl);
	await page.getByRole("button", { name: "Add this device" }).click();
	await page.getByLabel("Link code").fill(code);
	await page.getByLabel("Name this device").fill(deviceName);
	await page.getByRole("button", { name: "Link this device" }).click();
}

/** The open chat's contact info, opened (left open if it is already). */
export async function openContactInfo(page: Page): Promise<void> {
	const info = page.locator(".chat-header .info-button");
	if ((await info.getAttribute("aria-expanded")) !== "true") await info.click();
	await page.locator("#contact-details").waitFor();
}

/** The trust label ("verified", "not verified", "safety number changed") of a contact in the list. */
export const listedTrust = (page: Page, handle: string): Locator => contactButton(page, handle).locator(".trust-badge");

/** The trust label in the open chat's header. */
export const headerTrust = (page: Page): Locator => page.locator(".chat-header .trust-badge");

/** Turn on "Allow calls from @handle" in the open chat's contact info. */
export async function allowCallsFrom(page: Page, handle: string): Promise<void> {
	await page.getByRole("button", { name: "Contact info" }).click();
	const toggle = page.getByRole("checkbox", { name: `Allow calls from @${handle}` });
	if (await toggle.isChecked()) throw new Error("calls were allowed before anyone allowed them");
	await toggle.check();
	await page.getByText(`@${handle} can call you`).waitFor();
	await page.getByRole("button", { name: "Close info" }).click();
}

/** The call screen, in any phase. */
export const callScreen = (page: Page): Locator => page.locator(".call-screen");

/** Wait until the call screen shows this phase ("incoming", "ringing", "connected", "ended", …). */
export async function waitForCallPhase(page: Page, phase: string): Promise<void> {
	await page.locator(`.call-screen[data-call-phase="${phase}"]`).waitFor();
}

/** Wait until the RTCPeerConnection of the call reports this connectionState. */
export async function waitForPeerConnection(page: Page, state: string): Promise<void> {
	await page.locator(`.call-screen[data-peer-connection="${state}"]`).waitFor();
}

/**
 * Keep every RTCPeerConnection the profile's pages make in `window.__peerConnections` (the
 * browser's own class, subclassed), so a test can read its getStats(). Before the page opens.
 */
export async function watchPeerConnections(context: BrowserContext): Promise<void> {
	await context.addInitScript(`(() => {
		const Base = window.RTCPeerConnection;
		const made = [];
		window.__peerConnections = made;
		window.RTCPeerConnection = class extends Base {
			constructor(config) {
				super(config);
				made.push(this);
			}
		};
	})()`);
}

/** RTP packets of this kind received so far by the page's latest peer connection (see watchPeerConnections). */
const inboundPackets = (kind: "audio" | "video") => `(async () => {
	const pc = (window.__peerConnections ?? []).at(-1);
	if (!pc) return 0;
	let packets = 0;
	(await pc.getStats()).forEach((r) => {
		if (r.type === "inbound-rtp" && r.kind === ${JSON.stringify(kind)}) packets += r.packetsReceived ?? 0;
	});
	return packets;
})()`;

/** How many packets of this kind the call has received. */
export function receivedPackets(page: Page, kind: "audio" | "video"): Promise<number> {
	return page.evaluate(inboundPackets(kind)) as Promise<number>;
}

/** Wait until packets of this kind arrive, and keep arriving; returns the later count. */
export async function waitForInboundPackets(page: Page, kind: "audio" | "video"): Promise<number> {
	const count = (n: unknown) => (typeof n === "number" && n > 0 ? n : null);
	const first = await pollPage(page, inboundPackets(kind), count);
	return pollPage(page, inboundPackets(kind), (n) => (count(n) !== null && (n as number) > first ? (n as number) : null));
}

/**
 * Evaluate an expression in the page until `check` accepts its value. (waitForFunction with a
 * string polls through eval(), which the app's CSP forbids; page.evaluate goes through the
 * DevTools protocol instead.)
 */
async function pollPage<T>(page: Page, expression: string, check: (value: unknown) => T | null, timeoutMs = UI_TIMEOUT_MS): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const found = check(await page.evaluate(expression));
		if (found !== null) return found;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
		await page.waitForTimeout(100);
	}
}

const REMOTE_VIDEO = `(() => {
	const video = document.querySelector(".call-screen video.remote-video");
	if (!video) return null;
	return { width: video.videoWidth, frames: video.getVideoPlaybackQuality().totalVideoFrames, time: video.currentTime };
})()`;

interface VideoProgress {
	width: number;
	frames: number;
	time: number;
}

function videoProgress(value: unknown): VideoProgress | null {
	if (typeof value !== "object" || value === null) return null;
	const { width, frames, time } = value as Record<string, unknown>;
	return typeof width === "number" && typeof frames === "number" && typeof time === "number" ? { width, frames, time } : null;
}

/**
 * Wait until the call's remote <video> shows a picture (one `wanted` accepts, e.g. of a new
 * width) and keeps receiving frames; returns its width and frame count.
 */
export async function waitForRemoteVideo(page: Page, wanted: (video: VideoProgress) => boolean = () => true): Promise<VideoProgress> {
	const first = await pollPage(page, REMOTE_VIDEO, (v) => {
		const p = videoProgress(v);
		return p && p.width > 0 && wanted(p) ? p : null;
	});
	return pollPage(page, REMOTE_VIDEO, (v) => {
		const p = videoProgress(v);
		return p && p.frames >= first.frames + 10 && p.time > first.time ? p : null;
	});
}
