import { CryptoError } from "../../common/crypto-error.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { array, object, oneOf, ValidationError } from "../../common/protocol/schema.ts";
import { ACK_IDS_MAX, id, type ReceiptFrame, type SealedReceipt } from "../../common/protocol/wire.ts";
import type { DeviceIdentity } from "./key-store.ts";
import { openMessage, sealMessage } from "./message-seal.ts";

/**
 * Delivery receipts, end to end: the device that stored a contact's messages seals the list
 * of their ids with the pair's contact key, as a message of kind "receipt" from itself to
 * the contact. The relay passes it on (or drops it) but cannot write one, so "delivered"
 * means a device of the contact said so. The sealed header names the receipt's author and
 * its recipient, so a receipt cannot be moved to another conversation or be one's own
 * receipt reflected back.
 */
export const RECEIPT_KIND = "receipt";

/** `delivered`: a device stored the messages; `read`: the person saw them (sent only if they allow it). */
export type ReceiptKind = "delivered" | "read";

export interface OpenedReceipt {
	kind: ReceiptKind;
	/** Ids of messages of the receipt's recipient. */
	ids: string[];
	/** The author's clock, sealed. */
	sentAt: number;
}

/** The sealed body, parsed by the wire schemas like any frame: no other keys, 1 to 500 ids. */
const receiptBody = object({ kind: oneOf(["delivered", "read"] as const), ids: array(id, { min: 1, max: ACK_IDS_MAX }) });

/** A receipt for `ids` (messages `to` sent), from this device, sealed under one version of their contact key. */
export function sealReceipt(
	me: DeviceIdentity,
	to: string,
	contactKey: { version: number; key: Uint8Array },
	ids: readonly string[],
	kind: ReceiptKind = "delivered",
): SealedReceipt {
	if (ids.length === 0 || ids.length > ACK_IDS_MAX) throw new RangeError("sealReceipt: 1 to 500 ids");
	const receiptId = toB64u(randomBytes(16));
	const keyVersion = contactKey.version;
	const header = { id: receiptId, from: me.accountId, fromDevice: me.deviceId, to, keyVersion, kind: RECEIPT_KIND, sentAt: Date.now() };
	const sealed = sealMessage(contactKey.key, header, { kind, ids: [...ids] });
	return { id: receiptId, keyVersion, ...sealed };
}

/**
 * Open a receipt addressed to `me`. Throws CryptoError when it was not sealed with this key
 * for this routing (forged, moved or altered by the relay) or its body is not a receipt.
 */
export function openReceipt(me: DeviceIdentity, key: Uint8Array, frame: ReceiptFrame): OpenedReceipt {
	const routing = {
		id: frame.id,
		from: frame.from,
		fromDevice: frame.fromDevice,
		to: me.accountId,
		keyVersion: frame.keyVersion,
		kind: RECEIPT_KIND,
	};
	const { header, body } = openMessage(key, routing, frame.nonce, frame.box);
	if (frame.from === me.accountId) throw new CryptoError("header_mismatch", "a receipt from this account to itself");
	let parsed: ReturnType<typeof receiptBody.parse>;
	try {
		parsed = receiptBody.parse(body, "receipt");
	} catch (err) {
		if (err instanceof ValidationError) throw new CryptoError("bad_envelope", `sealed receipt body is malformed: ${err.message}`);
		throw err;
	}
	return { kind: parsed.kind, ids: parsed.ids, sentAt: header.sentAt };
}
