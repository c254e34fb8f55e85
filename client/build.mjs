// Builds the browser bundles into client/dist, which wrangler serves as static assets:
// the web app (app.js), the widget page's script (widget-app.js) and the loader host pages
// include (widget.js, a classic script so that it can find its own <script> tag). The two
// module entries are split: code loaded only on demand (the QR decoder, jsQR, needed only
// when someone scans a code) and code both share go to chunks/, loaded by the entries.
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { appIcon } from "./app-icons.mjs";

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

mkdirSync(`${root}dist/icons`);
writeFileSync(`${root}dist/icons/icon-192.png`, appIcon(192));
writeFileSync(`${root}dist/icons/icon-512.png`, appIcon(512));
writeFileSync(`${root}dist/icons/maskable-512.png`, appIcon(512, { maskable: true }));

const [modules] = await Promise.all([
	build({
		...common,
		entryPoints: { app: `${root}app/main.tsx`, "widget-app": `${root}widget/widget-main.tsx` },
		format: "esm",
		splitting: true,
		chunkNames: "chunks/[name]-[hash]",
		metafile: true,
	}),
	build({ ...common, entryPoints: { widget: `${root}widget/loader.ts` }, format: "iife" }),
]);

// The web app's shell, kept by its service worker: the page, its scripts (shared chunks
// included), styles, manifest and icons; the version is a hash of exactly those bytes.
const scripts = Object.keys(modules.metafile.outputs)
	.filter((file) => file.endsWith(".js"))
	.map((file) => `/${file.slice(file.indexOf("dist/") + "dist/".length)}`)
	.filter((file) => file === "/app.js" || file.startsWith("/chunks/"));
const shell = [
	"/index.html",
	"/styles.css",
	"/favicon.svg",
	"/manifest.webmanifest",
	"/icons/icon-192.png",
	"/icons/icon-512.png",
	"/icons/maskable-512.png",
	...scripts,
].sort();
const hash = createHash("sha256");
for (const file of shell) hash.update(file).update(readFileSync(`${root}dist${file}`));
await build({
	...common,
	entryPoints: { sw: `${root}sw/service-worker.ts` },
	format: "iife",
	define: { SHELL_FILES: JSON.stringify(shell), SHELL_VERSION: JSON.stringify(hash.digest("hex").slice(0, 16)) },
});
console.log("client built into client/dist");
