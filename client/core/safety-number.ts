import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, utf8Encode } from "../../common/encoding.ts";

/** One account as the safety number sees it: its id and its identity key, which stays the same while devices come and go. */
export interface SafetyNumberSide {
	accountId: string;
	identityKey: Uint8Array;
}

// Signal uses 5200 iterations, but noble's SHA-512 costs ~3 µs a block warm (more cold), so
// 5200 would take ~40 ms for both sides; 1024 measures ~5 ms warm and ~10 ms on a cold first
// call in Node. The iteration is only extra margin: a 30-digit half is ~100 bits, already out
// of reach of an attacker grinding device keys.
const ITERATIONS = 1024;
const VERSION = utf8Encode("sm-safety-number/2");

function u32be(n: number): Uint8Array {
	const out = new Uint8Array(4);
	new DataView(out.buffer).setUint32(0, n);
	return out;
}

// Each group is 5 bytes big-endian (40 bits, exact in a double) mod 100000, zero-padded.
function digitGroups(bytes: Uint8Array, groups: number): string[] {
	const out: string[] = [];
	for (let g = 0; g < groups; g++) {
		let n = 0;
		for (const byte of bytes.subarray(g * 5, g * 5 + 5)) n = n * 256 + byte;
		out.push(String(n % 100000).padStart(5, "0"));
	}
	return out;
}

function sideDigits(side: SafetyNumberSide): string[] {
	if (!(side.identityKey instanceof Uint8Array) || side.identityKey.length !== 32)
		throw new CryptoError("bad_key", "identity keys are 32 bytes");
	const account = utf8Encode(side.accountId);
	const material = concatBytes(VERSION, u32be(account.length), account, side.identityKey);
	let h = sha512(material);
	// Each round re-mixes a 32-byte digest of the material (as Signal re-mixes the key);
	// 64 + 32 bytes fit one SHA-512 block, so a round is one compression.
	const buf = new Uint8Array(96);
	buf.set(h.subarray(0, 32), 64);
	for (let i = 0; i < ITERATIONS; i++) {
		buf.set(h, 0);
		h = sha512(buf);
	}
	return digitGroups(h, 6);
}

// 60 digits: each side's 30, ordered by account id (plain string order, as for contact keys),
// so both users see the same number. Equal ids fall back to ordering by the digits.
export function safetyNumber(a: SafetyNumberSide, b: SafetyNumberSide): string {
	const da = sideDigits(a);
	const db = sideDigits(b);
	const aFirst = a.accountId !== b.accountId ? a.accountId < b.accountId : da.join("") <= db.join("");
	return (aFirst ? [...da, ...db] : [...db, ...da]).join(" ");
}

// 20 digits in 4 groups for comparing one device by eye (e.g. when approving a new device):
// the first 20 bytes of SHA-256(publicKey), 5 bytes per group as above, ~66 bits.
export function deviceFingerprint(publicKey: Uint8Array): string {
	if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new CryptoError("bad_key", "device key must be 32 bytes");
	return digitGroups(sha256(publicKey), 4).join(" ");
}
