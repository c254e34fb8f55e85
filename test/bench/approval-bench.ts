/**
 * Approving a device for an account with many contacts, in Chromium's engine: every contact
 * key wrapped for the new device, before and after the shared-key change (one
 * crypto_box_beforenm for all envelopes to that device), in the same page of the same run.
 * approval-page.ts is what runs in the page; this file bundles it with esbuild, starts headless
 * Chromium (Debian's, through playwright-core, as the e2e tests do), and returns the figures.
 */
import path from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/chromium-flags.ts";
import type { ApprovalPageResult, ApprovalRound } from "./approval-page.ts";
import { ROOT } from "./bundle.ts";

export interface ApprovalBenchOptions {
	/** Accepted contacts, one contact key each. */
	contacts: number;
	/** Approvals timed (each of a fresh device); the figures are their medians. Default 5. */
	rounds?: number;
}

export interface ApprovalBenchResult {
	contacts: number;
	envelopes: number;
	/** Median ms for all envelopes, each a whole crypto_box from the Ed25519 keys (the code before). */
	beforeMs: number;
	/** Median ms for all envelopes under one DeviceChannel (the code now). */
	afterMs: number;
	/** Median ms of wrapAllFor as it was (four reads per contact, a crypto_box per envelope) over the web app's IndexedDB store. */
	beforeIndexedDbMs: number;
	/** Median ms of ContactKeyRing.wrapAllFor (what approveDevice calls) over a store in memory. */
	wrapAllForMs: number;
	/** The same over the web app's IndexedDB store: its reads included, as in the app. */
	wrapAllForIndexedDbMs: number;
	/** Envelopes per second, before and after (from the medians). */
	beforePerSecond: number;
	afterPerSecond: number;
	/** beforeMs ÷ afterMs. */
	speedup: number;
	rounds: ApprovalRound[];
	chromium: string;
}

/** A secure context with its own origin (IndexedDB needs one); its one page is served by the route below, not a server. */
const ORIGIN = "http://approval-bench.localhost";

/** The page script: approval-page.ts, wired to the web app's IndexedDB store (kept out of test/'s type-check, which has no DOM). */
async function pageScript(): Promise<string> {
	const out = await build({
		stdin: {
			contents: [
				'import { runApprovalRounds } from "./approval-page.ts";',
				'import { IndexedDbKeyStore } from "../../client/app/indexed-db-key-store.ts";',
				"globalThis.approvalBench = (opts) => runApprovalRounds(opts, (name) => new IndexedDbKeyStore(name));",
			].join("\n"),
			resolveDir: path.join(ROOT, "test/bench"),
			loader: "ts",
		},
		bundle: true,
		write: false,
		platform: "browser",
		format: "iife",
		target: "es2022",
		logLevel: "warning",
	});
	const text = out.outputFiles[0]?.text;
	if (!text) throw new Error("approval bench: esbuild produced no page script");
	return text;
}

const median = (values: number[]): number => {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export async function runApprovalBench(opts: ApprovalBenchOptions): Promise<ApprovalBenchResult> {
	const rounds = opts.rounds ?? 5;
	if (!Number.isSafeInteger(opts.contacts) || opts.contacts < 1) throw new RangeError(`approval bench: bad contacts ${opts.contacts}`);
	if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError(`approval bench: bad rounds ${rounds}`);
	const script = await pageScript();
	const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
	try {
		const page = await browser.newPage();
		const errors: string[] = [];
		page.on("pageerror", (e) => errors.push(e.message));
		await page.route(`${ORIGIN}/**`, (route) =>
			route.fulfill({ contentType: "text/html", body: "<!doctype html><title>approval bench</title>" }),
		);
		await page.goto(`${ORIGIN}/`);
		await page.addScriptTag({ content: script });
		const result = await page.evaluate(
			(o) =>
				(
					globalThis as unknown as { approvalBench: (o: { contacts: number; rounds: number }) => Promise<ApprovalPageResult> }
				).approvalBench(o),
			{ contacts: opts.contacts, rounds },
		);
		if (errors.length > 0) throw new Error(`approval bench: the page threw: ${errors.join("; ")}`);
		if (result.checked === 0) throw new Error("approval bench: no envelope was checked");
		const beforeMs = median(result.rounds.map((r) => r.beforeMs));
		const afterMs = median(result.rounds.map((r) => r.afterMs));
		return {
			contacts: result.contacts,
			envelopes: result.envelopes,
			beforeMs,
			afterMs,
			beforeIndexedDbMs: median(result.rounds.map((r) => r.beforeIndexedDbMs)),
			wrapAllForMs: median(result.rounds.map((r) => r.wrapAllForMs)),
			wrapAllForIndexedDbMs: median(result.rounds.map((r) => r.wrapAllForIndexedDbMs)),
			beforePerSecond: (result.envelopes * 1000) / beforeMs,
			afterPerSecond: (result.envelopes * 1000) / afterMs,
			speedup: beforeMs / afterMs,
			rounds: result.rounds,
			chromium: browser.version(),
		};
	} finally {
		await browser.close();
	}
}
