/**
 * Looking through a relay's storage on disk (D1, Durable Object and R2 files under wrangler's
 * persist directory) for bytes that must not be there, in every encoding they could take.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface StoredFile {
	path: string;
	bytes: Buffer;
}

export function readTree(dir: string): StoredFile[] {
	return readdirSync(dir).flatMap((name) => {
		const full = path.join(dir, name);
		return statSync(full).isDirectory() ? readTree(full) : [{ path: full, bytes: readFileSync(full) }];
	});
}

/**
 * Base64 text of `bytes` wherever they sit in a longer encoded string: one variant per
 * alignment (offset mod 3), each cut to the characters that depend on `bytes` alone.
 */
function base64Variants(bytes: Uint8Array, encoding: "base64" | "base64url"): string[] {
	return [0, 1, 2].map((shift) => {
		const encoded = Buffer.concat([Buffer.alloc(shift), Buffer.from(bytes)]).toString(encoding);
		return encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
	});
}

/** Every form a secret could take in a file: raw bytes, base64 and base64url at any alignment, hex. */
export function encodings(label: string, bytes: Uint8Array): Array<{ label: string; needle: Buffer }> {
	const hex = Buffer.from(bytes).toString("hex");
	return [
		{ label: `${label} (raw)`, needle: Buffer.from(bytes) },
		...base64Variants(bytes, "base64").map((s, i) => ({ label: `${label} (base64, shift ${i})`, needle: Buffer.from(s) })),
		...base64Variants(bytes, "base64url").map((s, i) => ({ label: `${label} (base64url, shift ${i})`, needle: Buffer.from(s) })),
		{ label: `${label} (hex)`, needle: Buffer.from(hex) },
		{ label: `${label} (HEX)`, needle: Buffer.from(hex.toUpperCase()) },
	];
}

export function findings(files: StoredFile[], needles: Array<{ label: string; needle: Buffer }>): string[] {
	return needles.flatMap(({ label, needle }) => files.filter((f) => f.bytes.includes(needle)).map((f) => `${label} in ${f.path}`));
}

/**
 * What every SQLite database under `dir` holds now, as SQL text (`sqlite3 .dump`, through
 * Debian's sqlite3): the rows a relay would still read, its write-ahead log included, without
 * the free pages and old log frames a file may still carry from deleted rows.
 */
export function liveRows(dir: string): StoredFile[] {
	return readTree(dir)
		.filter((f) => f.path.endsWith(".sqlite"))
		.map((f) => ({ path: f.path, bytes: execFileSync("sqlite3", ["-bail", f.path, ".dump"], { maxBuffer: 256 * 1024 * 1024 }) }));
}
