import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
	CALL_EVENT_KINDS,
	CONTACT_STATES,
	clientFrame,
	contactFrame,
	ERROR_CODES,
	MESSAGE_KINDS,
	serverFrame,
} from "../../common/protocol/wire.ts";

// PROTOCOL.md is what a third-party client is written from (issue #2), so everything the
// relay accepts or sends must be in it; wire.ts and the router are the source of truth.
const doc = readFileSync(new URL("../../common/protocol/PROTOCOL.md", import.meta.url), "utf8");
const router = readFileSync(new URL("../../worker/router.ts", import.meta.url), "utf8");
const VECTORS = new URL("../../common/protocol/vectors/", import.meta.url);

const quoted = (name: string): boolean => doc.includes(`\`${name}\``);
const rowsOf = (tag: string): string[] => doc.split("\n").filter((line) => line.includes(`type: "${tag}"`));

/** Every field of a frame's schema (where it keeps its shape) appears in a row documenting it. */
function undocumentedFields(members: Record<string, unknown>): string[] {
	const missing: string[] = [];
	for (const [tag, schema] of Object.entries(members)) {
		const rows = rowsOf(tag);
		if (rows.length === 0) {
			missing.push(`${tag} (no row)`);
			continue;
		}
		const shape = (schema as { shape?: Record<string, unknown> }).shape ?? {};
		for (const field of Object.keys(shape)) {
			if (!rows.some((row) => new RegExp(`[{ ,]${field}\\??[,: }]`).test(row))) missing.push(`${tag}.${field}`);
		}
	}
	return missing;
}

describe("PROTOCOL.md", () => {
	it("documents every frame type with all of its fields, both ways", () => {
		expect(undocumentedFields(clientFrame.members)).toEqual([]);
		expect(undocumentedFields(serverFrame.members)).toEqual([]);
	});

	it("names every error code, message kind, call signal, contact state and contact event", () => {
		const names = [...ERROR_CODES, ...MESSAGE_KINDS, ...CALL_EVENT_KINDS, ...CONTACT_STATES, ...contactFrame.shape.event.values];
		expect(names.filter((name) => !quoted(name))).toEqual([]);
	});

	it("documents every route the router serves", () => {
		const routes = [...router.matchAll(/\.(get|post|put|delete)\("(\/api\/[^"]+)"/g)].map((m) => `${m[1]?.toUpperCase()} ${m[2]}`);
		expect(routes.length).toBeGreaterThan(30);
		const documented = (route: string) => new RegExp(`\`${route.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\`?]`).test(doc);
		expect(routes.filter((route) => !documented(route))).toEqual([]);
	});

	it("lists every test vector file, and names every domain string the vectors sign, box or MAC", () => {
		const files = readdirSync(VECTORS).filter((name) => name.endsWith(".json"));
		expect(files.length).toBeGreaterThan(5);
		expect(files.filter((name) => !quoted(name))).toEqual([]);
		const vectors = files.map((name) => readFileSync(new URL(name, VECTORS), "utf8")).join("\n");
		const domains = new Set([...vectors.matchAll(/sm-[a-z-]+\/\d+/g)].map((m) => m[0]).filter((d) => d !== "sm-vectors/1"));
		expect(domains.size).toBeGreaterThan(10);
		expect([...domains].filter((d) => !doc.includes(d))).toEqual([]);
	});

	it("refers to nothing outside the repository (no relative links out of common/protocol)", () => {
		expect(doc.match(/\]\(\.\.\/\.\.|\.\.\/shared/g)).toBeNull();
	});
});
