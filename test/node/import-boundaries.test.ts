import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The project's own biome.json, run over a scratch tree laid out like the repository, so the
// rule is proved without writing probe files into worker/ or client/.
const ROOT = path.resolve(import.meta.dirname, "../..");
const BIOME = path.join(ROOT, "node_modules/.bin/biome");
const scratch = mkdtempSync(path.join(tmpdir(), "sm-imports-"));
copyFileSync(path.join(ROOT, "biome.json"), path.join(scratch, "biome.json"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function lint(file: string, source: string): { ok: boolean; output: string } {
	const full = path.join(scratch, file);
	mkdirSync(path.dirname(full), { recursive: true });
	writeFileSync(full, source);
	try {
		execFileSync(BIOME, ["lint", file], { cwd: scratch, stdio: "pipe" });
		return { ok: true, output: "" };
	} catch (err) {
		const { stdout, stderr } = err as { stdout: Buffer; stderr: Buffer };
		return { ok: false, output: `${stdout}${stderr}` };
	}
}

const importing = (spec: string) => `import { x } from "${spec}";\n\nexport const y = x;\n`;

describe("import boundaries", () => {
	it("fails the lint when a worker file imports the client", () => {
		const result = lint("worker/relay/probe.ts", importing("../../client/core/sdk.ts"));
		expect(result.ok).toBe(false);
		expect(result.output).toContain("The worker never imports the client");
	});

	it("fails the lint when a client file imports the worker", () => {
		const result = lint("client/app/probe.ts", importing("../../worker/config.ts"));
		expect(result.ok).toBe(false);
		expect(result.output).toContain("The client never imports the worker");
	});

	it("fails the lint when common/ imports either side", () => {
		expect(lint("common/probe-a.ts", importing("../worker/config.ts")).output).toContain("common/ stands on its own");
		expect(lint("common/probe-b.ts", importing("../client/core/sdk.ts")).output).toContain("common/ stands on its own");
	});

	it("lets both sides import common/", () => {
		expect(lint("worker/relay/probe-ok.ts", importing("../../common/nacl.ts"))).toEqual({ ok: true, output: "" });
		expect(lint("client/core/probe-ok.ts", importing("../../common/protocol/wire.ts"))).toEqual({ ok: true, output: "" });
	});
});
