import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, utf8Decode, utf8Encode } from "../../common/encoding.ts";
import { KEY_BYTES, randomBytes } from "../../common/nacl.ts";
import { openFromDevice, type Sealer, sealForDevice } from "./device-box.ts";

export interface WrappedContactKey {
	nonce: string;
	box: string;
}

/** Which signed device list of each account a key version was shared under: account id → list version. */
export type ListVersions = Readonly<Record<string, number>>;

export function generateContactKey(): Uint8Array {
	return randomBytes(KEY_BYTES);
}

/**
 * The two ids in the order every envelope and safety number uses: plain string comparison of
 * the base64url text (UTF-16 code units, which for these ASCII ids is their byte order as
 * text) — not the order of the decoded bytes, which differs for almost a third of all pairs.
 */
export function orderedPair(a: string, b: string): [string, string] {
	return a < b ? [a, b] : [b, a];
}

// The boxed plaintext starts with this context so an envelope cannot be replayed for another
// contact pair or key version, and it says under which device list of each account the key
// was shared: a later list that removes a device (lastRemoval above that version) is the one
// reason a client replaces the key.
function contextHead(accounts: [string, string], version: number): string {
	const [a, b] = accounts;
	if (typeof a !== "string" || typeof b !== "string" || /\s/.test(a) || /\s/.test(b)) {
		throw new RangeError("account ids must be strings without whitespace");
	}
	if (!Number.isSafeInteger(version) || version < 0) {
		throw new RangeError(`contact key version must be a non-negative integer, got ${version}`);
	}
	const [lo, hi] = orderedPair(a, b);
	return `sm-contact-key/2\n${lo}\n${hi}\n${version}\n`;
}

function listVersionOf(lists: ListVersions, accountId: string): number {
	const v = lists[accountId];
	if (v === undefined || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`no device-list version for ${accountId}`);
	return v;
}

/** What an envelope of a contact key says: the pair, the key version, the lists it was shared under, the key. */
export interface ContactKeyContent {
	accounts: [string, string];
	version: number;
	/** The device-list version of each account that the envelopes of this key version were made for. */
	lists: ListVersions;
	key: Uint8Array;
}

export function wrapContactKey(p: ContactKeyContent & { senderSeed: Uint8Array; targetPublicKey: Uint8Array }): WrappedContactKey {
	return wrapContactKeyTo({ seal: (plaintext) => sealForDevice(plaintext, p.senderSeed, p.targetPublicKey) }, p);
}

/**
 * The same envelope, sealed by `to`: a DeviceChannel when many keys go to one device (device
 * approval), so they share one X25519. The bytes are those wrapContactKey makes for the nonce.
 */
export function wrapContactKeyTo(to: Sealer, p: ContactKeyContent): WrappedContactKey {
	if (!(p.key instanceof Uint8Array) || p.key.length !== KEY_BYTES) {
		throw new CryptoError("bad_key", `contact key must be ${KEY_BYTES} bytes`);
	}
	const [lo, hi] = orderedPair(p.accounts[0], p.accounts[1]);
	const head = `${contextHead(p.accounts, p.version)}${listVersionOf(p.lists, lo)}\n${listVersionOf(p.lists, hi)}\n`;
	const plaintext = concatBytes(utf8Encode(head), p.key);
	try {
		return to.seal(plaintext);
	} finally {
		plaintext.fill(0);
	}
}

export function unwrapContactKey(p: {
	nonce: string;
	box: string;
	senderPublicKey: Uint8Array;
	mySeed: Uint8Array;
	accounts: [string, string];
	version: number;
}): { key: Uint8Array; lists: ListVersions } {
	const head = utf8Encode(contextHead(p.accounts, p.version));
	const plaintext = openFromDevice(p, p.senderPublicKey, p.mySeed);
	try {
		const wrong = () => new CryptoError("bad_envelope", "contact key envelope is for another contact pair or key version");
		if (plaintext.length < head.length + 4 + KEY_BYTES) throw wrong();
		for (let i = 0; i < head.length; i++) if (plaintext[i] !== head[i]) throw wrong();
		const tail = plaintext.subarray(head.length, plaintext.length - KEY_BYTES);
		let text: string;
		try {
			text = utf8Decode(tail);
		} catch {
			throw wrong();
		}
		const match = /^([1-9][0-9]{0,9})\n([1-9][0-9]{0,9})\n$/.exec(text);
		if (!match) throw wrong();
		const [lo, hi] = orderedPair(p.accounts[0], p.accounts[1]);
		return { key: plaintext.slice(plaintext.length - KEY_BYTES), lists: { [lo]: Number(match[1]), [hi]: Number(match[2]) } };
	} finally {
		plaintext.fill(0);
	}
}
