import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CryptoError } from "../../common/crypto-error.ts";
import { equalBytes, toB64u, utf8Encode } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { HANDLE_PATTERN, normalizeHandle } from "../../common/protocol/wire.ts";

/**
 * One-time link codes, as Signal and WhatsApp link a new device: an approved device shows a
 * code; the new device types or scans it. The code's secret never reaches the relay. From it
 * both sides derive the link id (which the relay sees, to match the two) and a MAC key, which
 * authenticates the new device's key to the approver (the claim proof) and the account's
 * identity key to the new device (the confirmation), so a relay that swaps either is caught.
 */

/** 120 bits: the relay sees MACs under a key derived from it, so it must be out of reach of an offline search. */
export const LINK_SECRET_BYTES = 15;

// Crockford's base32: no I, L, O or U, so a typed code survives being read aloud or copied by hand.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LOOK_ALIKES: Record<string, string> = { O: "0", I: "1", L: "1" };
/** 120 bits are exactly 24 base32 characters, so a code has no padding bits to get wrong. */
const SECRET_CHARS = (LINK_SECRET_BYTES * 8) / 5;
const SECRET_TEXT = new RegExp(`^[${ALPHABET}]{${SECRET_CHARS}}$`);

export interface LinkCode {
	handle: string;
	secret: Uint8Array;
}

export interface LinkKeys {
	linkId: string;
	macKey: Uint8Array;
}

function base32(bytes: Uint8Array): string {
	let out = "";
	let acc = 0;
	let bits = 0;
	for (const byte of bytes) {
		acc = (acc << 8) | byte;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out += ALPHABET[(acc >>> bits) & 31];
		}
		acc &= 0xff;
	}
	if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
	return out;
}

function fromBase32(text: string): Uint8Array | null {
	const out: number[] = [];
	let acc = 0;
	let bits = 0;
	for (const raw of text) {
		const c = LOOK_ALIKES[raw] ?? raw;
		const v = ALPHABET.indexOf(c);
		if (v < 0) return null;
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out.push((acc >>> bits) & 0xff);
		}
		acc &= 0xff;
	}
	return new Uint8Array(out);
}

export function newLinkCode(handle: string): LinkCode {
	return { handle: normalizeHandle(handle), secret: randomBytes(LINK_SECRET_BYTES) };
}

/** "alice-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A": the handle, then the secret in four groups of six. */
export function formatLinkCode(code: LinkCode): string {
	const groups = base32(code.secret).match(/.{1,6}/g) ?? [];
	return [code.handle, ...groups].join("-");
}

/** Reads a typed or scanned code; case, spaces and look-alike letters (O for 0, I or L for 1) do not matter. */
export function parseLinkCode(text: string): LinkCode {
	if (typeof text !== "string") throw new CryptoError("bad_encoding", "a link code is text");
	const trimmed = text.trim();
	const cut = trimmed.indexOf("-");
	if (cut < 0) throw new CryptoError("bad_encoding", "a link code starts with the account's handle and a dash");
	const handle = normalizeHandle(trimmed.slice(0, cut).replace(/^@/, ""));
	if (!HANDLE_PATTERN.test(handle)) throw new CryptoError("bad_encoding", "the link code does not start with a handle");
	const secretText = trimmed
		.slice(cut + 1)
		.replace(/[\s-]/g, "")
		.toUpperCase()
		.replace(/[OIL]/g, (c) => LOOK_ALIKES[c] as string);
	const secret = SECRET_TEXT.test(secretText) ? fromBase32(secretText) : null;
	if (!secret || secret.length !== LINK_SECRET_BYTES) {
		throw new CryptoError("bad_encoding", `the code after the handle must be ${SECRET_CHARS} letters and digits`);
	}
	return { handle, secret };
}

/** HKDF-SHA-256 (salt "sm-link/1", info = handle): 16 bytes of link id, then 32 of MAC key. Bound to the handle, so a code works for one account only. */
export function deriveLinkKeys(code: LinkCode): LinkKeys {
	const okm = hkdf(sha256, code.secret, utf8Encode("sm-link/1"), utf8Encode(code.handle), 48);
	return { linkId: toB64u(okm.subarray(0, 16)), macKey: okm.slice(16) };
}

const mac = (key: Uint8Array, text: string): Uint8Array => hmac(sha256, key, utf8Encode(text));

/** Made by the new device: binds its key and name to the code, so the approver knows this device read it. */
export function claimProof(keys: LinkKeys, c: { handle: string; publicKey: string; deviceName: string }): string {
	return toB64u(mac(keys.macKey, `sm-link-proof/1\n${c.handle}\n${keys.linkId}\n${c.publicKey}\n${c.deviceName}`));
}

/** Made by the approver: binds the account's identity key to the new device, so the new device knows whose identity it holds. */
export function linkConfirmation(
	keys: LinkKeys,
	c: { accountId: string; identityKey: string; deviceId: string; publicKey: string },
): string {
	return toB64u(mac(keys.macKey, `sm-link-confirm/1\n${keys.linkId}\n${c.accountId}\n${c.identityKey}\n${c.deviceId}\n${c.publicKey}`));
}

/** Constant-time enough for a MAC: equalBytes compares every byte. */
export function macMatches(expected: string, given: string): boolean {
	const enc = utf8Encode;
	return expected.length === given.length && equalBytes(enc(expected), enc(given));
}
