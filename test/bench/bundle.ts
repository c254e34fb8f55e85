/**
 * Node 20 runs no TypeScript, and worker threads and child processes need a file to start
 * from, so their entries are bundled with esbuild (a dev dependency already) at the start of
 * a run, under vitest as well as from `npm run bench`. run.mjs does the same for main.ts.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const OUT_DIR = path.join(ROOT, "node_modules/.cache/bench");

/** Bundled code keeps the meaning of `import.meta.dirname` and `import.meta.url`: the source file's own location. */
// Spelled in parts so this file survives its own rewriting when it is bundled.
const META = ["import", "meta"].join(".");

const sourceLocation: Plugin = {
	name: "source-location",
	setup(b) {
		b.onLoad({ filter: /\.ts$/ }, async (args) => {
			const text = await readFile(args.path, "utf8");
			const contents = text
				.replaceAll(`${META}.dirname`, JSON.stringify(path.dirname(args.path)))
				.replaceAll(`${META}.url`, JSON.stringify(pathToFileURL(args.path).href));
			return { contents, loader: "ts" };
		});
	},
};

/** Bundle test/bench/<name>.ts into an ES module and return the bundle's path. */
export async function bundleEntry(name: string): Promise<string> {
	const outfile = path.join(OUT_DIR, `${name}.mjs`);
	await build({
		entryPoints: [path.join(ROOT, "test/bench", `${name}.ts`)],
		outfile,
		bundle: true,
		platform: "node",
		format: "esm",
		target: "node20",
		packages: "external",
		sourcemap: "inline",
		logLevel: "warning",
		plugins: [sourceLocation],
	});
	return outfile;
}
