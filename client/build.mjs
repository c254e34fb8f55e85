// Builds the browser bundles into client/dist, which wrangler serves as static assets:
// the web app (app.js), the widget page's script (widget-app.js) and the loader host pages
// include (widget.js, a classic script so that it can find its own <script> tag). The two
// module entries are split: code loaded only on demand (the QR decoder, jsQR, needed only
// when someone scans a code) and code both share go to chunks/, loaded by the entries.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

const root = new URL(".", import.meta.url).pathname;
rmSync(`${root}dist`, { recursive: true, force: true });
mkdirSync(`${root}dist`, { recursive: true });
cpSync(`${root}public`, `${root}dist`, { recursive: true });

const common = {
	outdir: `${root}dist`,
	bundle: true,
	target: "es2022",
	minify: true,
	sourcemap: true,
	jsx: "automatic",
	jsxImportSource: "preact",
	logLevel: "warning",
};

await Promise.all([
	build({
		...common,
		entryPoints: { app: `${root}app/main.tsx`, "widget-app": `${root}widget/widget-main.tsx` },
		format: "esm",
		splitting: true,
		chunkNames: "chunks/[name]-[hash]",
	}),
	build({ ...common, entryPoints: { widget: `${root}widget/loader.ts` }, format: "iife" }),
]);
console.log("client built into client/dist");
