/**
 * Takes docs/screenshot.png: two people chatting in the web app, side by side — Alice in a
 * laptop-sized window, Bob in a phone-sized one — each in a Chromium of its own with a fresh
 * profile, against a fresh local relay (`wrangler dev`, as the e2e tests start it).
 *
 * Not a test: Vitest runs only `*.test.ts`, so CI never runs it. Node 20 cannot run
 * TypeScript, so it goes through the benchmark's esbuild runner:
 *
 *     BENCH_ENTRY=test/e2e/screenshot.ts node test/bench/run.mjs [--out path.png]
 *
 * Needs Debian's `chromium` (or CHROMIUM_PATH), like the e2e tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { startDevServer } from "../support/dev-server.ts";
import { becomeContacts, createAccount, message, sendMessage, waitForDelivery } from "./app-driver.ts";
import { CHROMIUM, CHROMIUM_ARGS, LAPTOP, PHONE, UI_TIMEOUT_MS } from "./browser.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const GAP = 24;

/** A browser of its own on a fresh profile directory: one person's device. */
async function browserFor(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page; dir: string }> {
	const dir = mkdtempSync(path.join(tmpdir(), "sm-screenshot-"));
	const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport });
	context.setDefaultTimeout(UI_TIMEOUT_MS);
	return { context, page: context.pages()[0] ?? (await context.newPage()), dir };
}

export async function main(args: string[]): Promise<number> {
	const given = args.indexOf("--out") >= 0 ? args[args.indexOf("--out") + 1] : undefined;
	const out = path.resolve(given ?? path.join(ROOT, "docs/screenshot.png"));
	// The real limits but the rate limit, so the composer shows true prices and allowances
	// while the two can answer each other without waiting ten seconds between messages.
	const server = await startDevServer({ vars: { RATE_LIMIT_COUNT: "10", RATE_LIMIT_WINDOW_SECONDS: "1" } });
	const people: Awaited<ReturnType<typeof browserFor>>[] = [];
	try {
		const [laptop, phone] = await Promise.all([browserFor(LAPTOP), browserFor(PHONE)]);
		people.push(laptop, phone);
		const alice = { page: laptop.page, handle: "alice" };
		const bob = { page: phone.page, handle: "bob" };
		await createAccount(alice.page, server.baseUrl, alice.handle, "Alice's laptop");
		await createAccount(bob.page, server.baseUrl, bob.handle, "Bob's phone");
		await becomeContacts(alice, bob);

		const lines: [typeof alice, string][] = [
			[alice, "Hi Bob! Are you on the new messenger?"],
			[bob, "Yes, just set it up on my phone."],
			[alice, "Our safety numbers match, so nobody sits in between. Lunch at noon?"],
			[bob, "Noon works. See you at the usual place."],
		];
		for (const [from, text] of lines) {
			const to = from === alice ? bob : alice;
			await sendMessage(from.page, text);
			await message(to.page, text).waitFor();
			await waitForDelivery(from.page, text, "delivered");
		}
		// The picture shows the conversation: the news of the accepted request is dismissed, and
		// no control keeps the focus ring of the last key press or the hover of the last click.
		for (const page of [alice.page, bob.page]) {
			const dismiss = page.getByRole("button", { name: "Dismiss" });
			while ((await dismiss.count()) > 0) await dismiss.first().click();
			await page.evaluate("document.activeElement?.blur()");
			await page.mouse.move(1, 1);
		}

		const shots = await Promise.all([alice.page.screenshot(), bob.page.screenshot()]);
		const width = LAPTOP.width + PHONE.width + 3 * GAP;
		const height = Math.max(LAPTOP.height, PHONE.height) + 2 * GAP;
		const canvas = await laptop.context.newPage();
		await canvas.setViewportSize({ width, height });
		const img = (png: Buffer, w: number, h: number) =>
			`<img src="data:image/png;base64,${png.toString("base64")}" width="${w}" height="${h}" alt="">`;
		await canvas.setContent(
			`<body style="margin:0;padding:${GAP}px;display:flex;gap:${GAP}px;align-items:flex-start;background:#d9dde3">
				<div style="box-shadow:0 2px 12px #0003;line-height:0">${img(shots[0], LAPTOP.width, LAPTOP.height)}</div>
				<div style="box-shadow:0 2px 12px #0003;line-height:0;border-radius:18px;overflow:hidden">${img(shots[1], PHONE.width, PHONE.height)}</div>
			</body>`,
		);
		await canvas.screenshot({ path: out });
		console.log(`wrote ${path.relative(process.cwd(), out)}`);
		return 0;
	} finally {
		for (const { context, dir } of people) {
			await context.close();
			rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
		}
		await server.dispose();
	}
}
