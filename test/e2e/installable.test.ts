/**
 * The web app as an installed app, in real Chromium: its manifest and icons pass Chromium's
 * own installability check (read through the DevTools protocol, as the install button does),
 * its service worker keeps the app shell so that a reload without the network still opens
 * the app (keys and history come from IndexedDB as always), and the API is never cached.
 */
import { describe, expect, it } from "vitest";
import { connectionState, createAccount, uniqueHandle } from "./app-driver.ts";
import { closeProfilesAfterEach, newPersistentProfile, relayAndChromiumForFile } from "./browser.ts";

const e2e = relayAndChromiumForFile();
const track = closeProfilesAfterEach();

describe("the installable app", () => {
	it("is installable, and opens again from its service worker's shell with the network gone", async () => {
		// A profile on disk: Chromium installs no web app from an incognito context.
		const profile = track(await newPersistentProfile());
		const page = await profile.newPage();
		const handle = uniqueHandle("pwa");
		await createAccount(page, e2e.server.baseUrl, handle, "alice's laptop");
		await page.evaluate("navigator.serviceWorker.ready.then(() => true)");

		const session = await profile.context.newCDPSession(page);
		const { installabilityErrors } = await session.send("Page.getInstallabilityErrors");
		expect(installabilityErrors).toEqual([]);
		const manifest = await session.send("Page.getAppManifest");
		expect(manifest.errors).toEqual([]);
		expect(JSON.parse(manifest.data ?? "{}")).toMatchObject({ name: "Secure Messaging", display: "standalone", start_url: "/" });
		const icon = await page.request.get(`${e2e.server.baseUrl}/icons/icon-512.png`);
		expect(icon.headers()["content-type"]).toBe("image/png");
		expect((await icon.body()).subarray(16, 24)).toEqual(Buffer.from([0, 0, 2, 0, 0, 0, 2, 0]));

		// Once the worker controls the page, the shell is in its cache, with the page's CSP kept.
		await page.reload();
		expect(await page.evaluate("navigator.serviceWorker.controller !== null")).toBe(true);
		const cached = (await page.evaluate(`(async () => {
			const names = await caches.keys();
			const cache = await caches.open(names.find((n) => n.startsWith("shell-")));
			const page = await cache.match("/");
			return { names, paths: (await cache.keys()).map((r) => new URL(r.url).pathname), csp: page.headers.get("content-security-policy") };
		})()`)) as { names: string[]; paths: string[]; csp: string | null };
		expect(cached.names.filter((n) => n.startsWith("shell-"))).toHaveLength(1);
		expect(cached.paths).toEqual(expect.arrayContaining(["/", "/app.js", "/styles.css", "/manifest.webmanifest"]));
		expect(cached.paths.some((p) => p.startsWith("/api/") || p.startsWith("/widget"))).toBe(false);
		expect(cached.csp).toContain("script-src 'self'");

		// No network at all: the app still opens, as this device, and says it is offline.
		await profile.context.setOffline(true);
		await page.reload();
		await page.getByText(`@${handle}`, { exact: false }).first().waitFor();
		await connectionState(page)
			.getByText(/offline|connecting/i)
			.waitFor();
		await profile.context.setOffline(false);
		// The version has been seen: a reload of the same version says nothing of an update.
		await page.reload();
		expect(await page.getByText("Secure Messaging was updated to a new version.").count()).toBe(0);
	});
});
