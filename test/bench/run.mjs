// `npm run bench` / `npm run bench:smoke`: Node 20 cannot run TypeScript, so the benchmark is
// bundled with esbuild (already a dev dependency) into node_modules/.cache and run from there.
// Arguments after the script name go to the benchmark (`--help` lists them).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "../..");

/** Bundled code keeps the meaning of `import.meta.dirname`/`url`: each file's own source location. */
const sourceLocation = {
	name: "source-location",
	setup(b) {
		b.onLoad({ filter: /\.ts$/ }, async (args) => {
			const text = await readFile(args.path, "utf8");
			const contents = text
				.replaceAll("import.meta.dirname", JSON.stringify(path.dirname(args.path)))
				.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href));
			return { contents, loader: "ts" };
		});
	},
};

/** Bundles one TypeScript entry into an ES module under node_modules/.cache/bench and returns its path. */
export async function bundle(entry) {
	const outfile = path.join(root, "node_modules/.cache/bench", `${path.basename(entry, ".ts")}.mjs`);
	await build({
		entryPoints: [entry],
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

if (process.argv[1] === import.meta.filename) {
	const entry = path.resolve(root, process.env.BENCH_ENTRY ?? "test/bench/main.ts");
	const { main } = await import(pathToFileURL(await bundle(entry)).href);
	process.exitCode = await main(process.argv.slice(2));
}
