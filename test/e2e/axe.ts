/**
 * axe-core, run inside a page or a frame (the widget's iframe) on the rendered DOM and computed
 * styles, so contrast is judged on what Chromium paints.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Frame, Page } from "playwright-core";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** The serious and critical violations axe finds in the page (or frame) as it is now, one line each. */
export async function violations(target: Page | Frame, view: string): Promise<string[]> {
	// Evaluated through the DevTools protocol: the app's CSP rightly refuses an injected script.
	if (!(await target.evaluate("typeof window.axe !== 'undefined'"))) await target.evaluate(AXE_SOURCE);
	const found = (await target.evaluate(
		`axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) })))`,
	)) as Array<{ id: string; impact: string; targets: string[] }>;
	return found
		.filter((v) => v.impact === "serious" || v.impact === "critical")
		.map((v) => `${view}: ${v.id} (${v.impact}) at ${v.targets.join(", ")}`);
}
