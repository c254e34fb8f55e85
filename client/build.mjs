// Builds the browser bundle into client/dist, which wrangler serves as static assets.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

const root = new URL(".", import.meta.url).pathname;
rmSync(`${root}dist`, { recursive: true, force: true });
mkdirSync(`${root}dist`, { recursive: true });
cpSync(`${root}public`, `${root}dist`, { recursive: true });

await build({
	entryPoints: { app: `${root}app/main.tsx` },
	outdir: `${root}dist`,
	bundle: true,
	format: "esm",
	target: "es2022",
	minify: true,
	sourcemap: true,
	jsx: "automatic",
	jsxImportSource: "preact",
	logLevel: "warning",
});
console.log("client built into client/dist");
