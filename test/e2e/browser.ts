/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` driven by playwright-core.
 * Each browser context is a fresh profile (its own IndexedDB, storage and cookies), so one
 * context stands for one person's browser, or one device.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/chromium-flags.ts";
import { type DevServer, type DevServerOptions, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** Screenshots for reviewers; git-ignored. */
export const RESULTS_DIR = path.join(ROOT, "test-results");
export { CHROMIUM, CHROMIUM_ARGS };
/** How long a locator waits for a UI state (the relay and Chromium share two slow cores in CI). */
export const UI_TIMEOUT_MS = 30_000;

/** Chromium's stand-in camera (a test pattern) and microphone (a beep), taken without asking. */
export const FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
	return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export interface Profile {
	context: BrowserContext;
	/** Uncaught errors of every page of this profile: a test expects none. */
	pageErrors: string[];
	newPage(): Promise<Page>;
	close(): Promise<void>;
}

export const PHONE = { width: 390, height: 844 };
export const LAPTOP = { width: 1100, height: 720 };

/** `permissions`: what the person allowed the site, e.g. ["camera", "microphone"]. */
export async function newProfile(browser: Browser, viewport = LAPTOP, permissions: string[] = []): Promise<Profile> {
	return profileOf(await browser.newContext({ viewport, permissions }));
}

/**
 * A browser whose settings let sites embedded in other sites keep (partitioned) storage, as
 * Firefox and Safari do by default. Chromium blocks it by default, with third-party cookies;
 * this is its own browser process with that setting turned off in its profile.
 */
export function newProfileAllowingEmbeddedStorage(viewport = LAPTOP): Promise<Profile> {
	return newPersistentProfile(viewport, { profile: { cookie_controls_mode: 0, block_third_party_cookies: false } });
}

/**
 * A browser of its own with a profile on disk, as a person's is: not incognito, which a
 * context of a shared browser is (Chromium will not install web apps there). `preferences`
 * go into the profile's Preferences file before it starts.
 */
export async function newPersistentProfile(viewport = LAPTOP, preferences: object = {}): Promise<Profile> {
	const dir = mkdtempSync(path.join(tmpdir(), "sm-chromium-"));
	mkdirSync(path.join(dir, "Default"));
	writeFileSync(path.join(dir, "Default", "Preferences"), JSON.stringify(preferences));
	const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport });
	return profileOf(context, () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }));
}

/**
 * What the person answered when `embedded` (a frame) asked for storage access on the page of
 * `top`, for the profile of `page`: Chromium's "storage-access" permission, set as DevTools
 * does (Playwright's grantPermissions cannot deny). Needs no prompt, which headless Chromium
 * cannot show.
 */
export async function setStorageAccess(page: Page, top: string, embedded: string, setting: "granted" | "denied"): Promise<void> {
	// Left attached: Chromium drops a session's permission overrides when it detaches. It goes with the page.
	const session = await page.context().newCDPSession(page);
	const { targetInfo } = await session.send("Target.getTargetInfo");
	// Chromium 156 keys the grant by `origin` (the top-level page) and `embeddedOrigin` (the
	// frame; without it the grant does not apply); playwright-core's protocol types are older
	// and do not know the field.
	const params = {
		permission: { name: "storage-access" },
		setting,
		origin: top,
		embeddedOrigin: embedded,
		browserContextId: targetInfo.browserContextId,
	};
	await session.send("Browser.setPermission", params as Parameters<typeof session.send<"Browser.setPermission">>[1]);
}

function profileOf(context: BrowserContext, cleanUp: () => void = () => {}): Profile {
	context.setDefaultTimeout(UI_TIMEOUT_MS);
	const pageErrors: string[] = [];
	return {
		context,
		pageErrors,
		async newPage() {
			const page = await context.newPage();
			page.on("pageerror", (error) => pageErrors.push(error.message));
			return page;
		},
		async close() {
			await context.close();
			cleanUp();
		},
	};
}

export async function screenshot(page: Page, name: string): Promise<string> {
	mkdirSync(RESULTS_DIR, { recursive: true });
	const file = path.join(RESULTS_DIR, `${name}.png`);
	await page.screenshot({ path: file });
	return file;
}

/**
 * For a test file: the profiles its tests open are closed after each test, which then fails
 * if a page threw an uncaught error. Returns the function that registers a profile.
 */
export function closeProfilesAfterEach(what = "the app"): (profile: Profile) => Profile {
	let open: Profile[] = [];
	afterEach(async () => {
		const errors = open.flatMap((p) => p.pageErrors);
		await Promise.all(open.map((p) => p.close()));
		open = [];
		expect(errors, `uncaught errors in ${what}`).toEqual([]);
	});
	return (profile) => {
		open.push(profile);
		return profile;
	};
}

/**
 * For a test file: the real relay (`wrangler dev`, with relaxed limits unless told otherwise)
 * and headless Chromium, started together before its tests and closed after them.
 */
export function relayAndChromiumForFile(opts: DevServerOptions = { vars: RELAXED_LIMITS }): {
	readonly server: DevServer;
	readonly browser: Browser;
} {
	let server: DevServer | undefined;
	let browser: Browser | undefined;
	beforeAll(async () => {
		[server, browser] = await Promise.all([startDevServer(opts), launchChromium()]);
	});
	afterAll(async () => {
		await browser?.close();
		await server?.dispose();
	});
	const started = <T>(value: T | undefined, what: string): T => {
		if (value === undefined) throw new Error(`The ${what} starts in beforeAll: use it inside a test.`);
		return value;
	};
	return {
		get server() {
			return started(server, "relay");
		},
		get browser() {
			return started(browser, "browser");
		},
	};
}
