import { CryptoError } from "../../common/crypto-error.ts";
import { fromB64u, toB64u, utf8Decode, utf8Encode } from "../../common/encoding.ts";
import { NONCE_BYTES, randomBytes, secretboxOpen, secretboxSeal } from "../../common/nacl.ts";
import { NUMBERS_KEPT, type SealedNumbering } from "./message-numbers.ts";

// What the server sees and routes by; the sealed copy must agree with it field for field.
export interface RoutingHeader {
	id: string;
	from: string;
	fromDevice: string;
	to: string;
	keyVersion: number;
	kind: string;
}

export interface SealedHeader extends RoutingHeader {
	sentAt: number;
	/** The message's number among its device's messages to this conversation (message-numbers.ts). */
	seq?: SealedNumbering;
}

export interface SealedMessage {
	nonce: string;
	box: string;
}

const STRING_FIELDS = ["id", "from", "fromDevice", "to", "kind"] as const;
const HEADER_FIELDS = new Set<string>([...STRING_FIELDS, "keyVersion", "sentAt", "seq"]);
const SEQ_FIELDS = new Set(["n", "refused", "replaces"]);
const NUMBER_FIELDS = new Set(["device", "n"]);
const MESSAGE_FIELDS = new Set(["v", "h", "b"]);

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
	return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function hasOnly(record: Record<string, unknown>, allowed: Set<string>): boolean {
	return Object.keys(record).every((k) => allowed.has(k));
}

const isNumber = (value: unknown): value is number => isCount(value) && value >= 1;

/** A sealed `seq`: its number, the refused ones it carries (at most NUMBERS_KEPT), the number it replaces. */
function parseSeq(seq: unknown): SealedNumbering | null {
	if (!isRecord(seq) || !hasOnly(seq, SEQ_FIELDS) || !isNumber(seq.n)) return null;
	const out: SealedNumbering = { n: seq.n };
	if (seq.refused !== undefined) {
		if (!Array.isArray(seq.refused) || seq.refused.length > NUMBERS_KEPT || !seq.refused.every(isNumber)) return null;
		out.refused = [...seq.refused];
	}
	if (seq.replaces !== undefined) {
		const r = seq.replaces;
		if (!isRecord(r) || !hasOnly(r, NUMBER_FIELDS) || typeof r.device !== "string" || r.device.length > 64 || !isNumber(r.n)) return null;
		out.replaces = { device: r.device, n: r.n };
	}
	return out;
}

// Unknown fields are refused rather than ignored: a later format bumps `v` instead.
function parseHeader(h: unknown): SealedHeader | null {
	if (!isRecord(h) || !hasOnly(h, HEADER_FIELDS)) return null;
	const { id, from, fromDevice, to, kind, keyVersion, sentAt } = h;
	if (typeof id !== "string" || typeof from !== "string" || typeof fromDevice !== "string") return null;
	if (typeof to !== "string" || typeof kind !== "string") return null;
	if (!isCount(keyVersion) || !isCount(sentAt)) return null;
	if (h.seq === undefined) return { id, from, fromDevice, to, keyVersion, kind, sentAt };
	const seq = parseSeq(h.seq);
	return seq && { id, from, fromDevice, to, keyVersion, kind, sentAt, seq };
}

export function sealMessage(key: Uint8Array, header: SealedHeader, body: unknown): SealedMessage {
	// Picked field by field so stray properties on the caller's object are not sealed (the
	// receiver's strict parse would refuse them), then checked as the receiver will check.
	const { id, from, fromDevice, to, keyVersion, kind, sentAt, seq } = header;
	const h = parseHeader({ id, from, fromDevice, to, keyVersion, kind, sentAt, ...(seq !== undefined && { seq }) });
	if (h === null) throw new TypeError("sealMessage: malformed header");
	if (body === undefined || typeof body === "function" || typeof body === "symbol") {
		throw new TypeError("sealMessage: body must be JSON-serialisable");
	}
	const nonce = randomBytes(NONCE_BYTES);
	const box = secretboxSeal(key, nonce, utf8Encode(JSON.stringify({ v: 1, h, b: body })));
	return { nonce: toB64u(nonce), box: toB64u(box) };
}

// Errors: open_failed (wrong key or tampered), bad_encoding (not UTF-8 JSON), bad_envelope
// (not a v1 message with a well-typed header), header_mismatch (sealed header disagrees with
// the routing header: re-routed, moved to another chat, or replayed under another id).
export function openMessage(key: Uint8Array, routing: RoutingHeader, nonce: string, box: string): { header: SealedHeader; body: unknown } {
	const plaintext = secretboxOpen(key, fromB64u(nonce), fromB64u(box));
	let parsed: unknown;
	try {
		parsed = JSON.parse(utf8Decode(plaintext));
	} catch {
		throw new CryptoError("bad_encoding", "sealed message is not JSON");
	}
	if (!isRecord(parsed) || !hasOnly(parsed, MESSAGE_FIELDS) || parsed.v !== 1 || !Object.hasOwn(parsed, "b")) {
		throw new CryptoError("bad_envelope", "sealed message is not a v1 message");
	}
	const header = parseHeader(parsed.h);
	if (header === null) throw new CryptoError("bad_envelope", "sealed header is malformed");
	for (const field of STRING_FIELDS) {
		if (header[field] !== routing[field]) throw new CryptoError("header_mismatch", `sealed ${field} differs from routing`);
	}
	if (header.keyVersion !== routing.keyVersion) throw new CryptoError("header_mismatch", "sealed keyVersion differs from routing");
	return { header, body: parsed.b };
}
