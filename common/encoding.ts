import { CryptoError } from "./crypto-error.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

// The encoder and decoder are built once; `fatal` makes invalid UTF-8 an error rather than
// U+FFFD, and `ignoreBOM` keeps a leading BOM so decode(encode(s)) === s.
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// Both directions stream bits through a small accumulator into a preallocated array: O(n),
// with no string concatenation.
export function toB64u(bytes: Uint8Array): string {
	const out = new Uint8Array(Math.ceil((bytes.length * 4) / 3));
	let o = 0;
	let acc = 0;
	let bits = 0;
	for (const byte of bytes) {
		acc = ((acc << 8) | byte) & 0xfff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = ALPHABET.charCodeAt((acc >>> bits) & 63);
		}
	}
	if (bits > 0) out[o++] = ALPHABET.charCodeAt((acc << (6 - bits)) & 63);
	// Output is pure ASCII, so a UTF-8 decode is an O(n) way to build the string.
	return textDecoder.decode(out);
}

// Strict: no padding, no whitespace, no standard-base64 characters, and the unused low bits
// of the last character must be zero, so every byte string has exactly one accepted encoding.
/** How many bytes an unpadded base64url text decodes to (4 characters per 3 bytes), without decoding it. */
export const b64uByteLength = (s: string): number => Math.floor((s.length * 3) / 4);

export function fromB64u(s: string): Uint8Array {
	if (typeof s !== "string") throw new CryptoError("bad_encoding", "base64url input is not a string");
	if (s.length % 4 === 1) throw new CryptoError("bad_encoding", `impossible base64url length ${s.length}`);
	const out = new Uint8Array(Math.floor((s.length * 3) / 4));
	let o = 0;
	let acc = 0;
	let bits = 0;
	for (let i = 0; i < s.length; i++) {
		// Non-ASCII characters index past the table and read as undefined.
		const v = DECODE[s.charCodeAt(i)] ?? -1;
		if (v < 0) throw new CryptoError("bad_encoding", `invalid base64url character at ${i}`);
		acc = ((acc << 6) | v) & 0xfff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (acc >>> bits) & 255;
		}
	}
	if ((acc & ((1 << bits) - 1)) !== 0) throw new CryptoError("bad_encoding", "non-canonical base64url tail");
	return out;
}

export function utf8Encode(s: string): Uint8Array {
	return textEncoder.encode(s);
}

export function utf8Decode(b: Uint8Array): string {
	try {
		return textDecoder.decode(b);
	} catch {
		throw new CryptoError("bad_encoding", "invalid UTF-8");
	}
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
	let length = 0;
	for (const p of parts) length += p.length;
	const out = new Uint8Array(length);
	let offset = 0;
	for (const p of parts) {
		out.set(p, offset);
		offset += p.length;
	}
	return out;
}

// No early exit on the first differing byte, so timing does not reveal how long a matching
// prefix is. Lengths are treated as public.
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	let diff = 0;
	let i = 0;
	for (const x of a) diff |= x ^ (b[i++] ?? 0);
	return diff === 0;
}
