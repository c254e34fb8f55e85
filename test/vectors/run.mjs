// `npm run vectors`: writes common/protocol/vectors/*.json from test/vectors/generate.ts.
// Node 20 cannot run TypeScript, so the generator is bundled with esbuild (already a dev
// dependency) into node_modules/.cache/vectors and run from there, as the benchmark is.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "../..");
const outfile = path.join(root, "node_modules/.cache/vectors/generate.mjs");
await build({
	entryPoints: [path.join(root, "test/vectors/generate.ts")],
	outfile,
	bundle: true,
	platform: "node",
	format: "esm",
	target: "node20",
	packages: "external",
	logLevel: "warning",
});
const { VECTOR_DIR, generateVectors } = await import(pathToFileURL(outfile).href);
const dir = path.join(root, VECTOR_DIR);
mkdirSync(dir, { recursive: true });
const files = await generateVectors();
// The directory holds exactly the generated files: a vector that is no longer made goes.
for (const name of readdirSync(dir)) if (name.endsWith(".json") && !files.has(name)) rmSync(path.join(dir, name));
for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
console.log(`wrote ${files.size} files to ${VECTOR_DIR}: ${[...files.keys()].join(", ")}`);
