import { fromB64u, toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { MAX_FRAME_CHARS, MAX_SEALED_BYTES, type MessageKind, type SendFrame } from "../../common/protocol/wire.ts";
import type { DeviceIdentity } from "./key-store.ts";
import type { SealedNumbering } from "./message-numbers.ts";
import { sealMessage } from "./message-seal.ts";
import { SdkError } from "./sdk-error.ts";

/** A `send` frame carrying `text` sealed under the contact key, its sealed header matching the routing fields. */
export function sealText(
	me: DeviceIdentity,
	to: string,
	contactKey: { version: number; key: Uint8Array },
	text: string,
): { frame: SendFrame; sentAt: number } {
	return sealBody(me, to, contactKey, { kind: "text", body: { text } });
}

/**
 * Any message kind. What the relay routes on (`replaces`, `attachmentId`) is sealed into the
 * body too, and the receiver checks that both agree, so the relay cannot point an edit or a
 * file at another message.
 */
export function sealBody(
	me: DeviceIdentity,
	to: string,
	contactKey: { version: number; key: Uint8Array },
	message: { kind: MessageKind; body: object; replaces?: string; attachmentId?: string; id?: string; seq?: SealedNumbering },
): { frame: SendFrame; sentAt: number } {
	const id = message.id ?? toB64u(randomBytes(16));
	const sentAt = Date.now();
	const keyVersion = contactKey.version;
	const { kind } = message;
	const sealed = sealMessage(
		contactKey.key,
		{ id, from: me.accountId, fromDevice: me.deviceId, to, keyVersion, kind, sentAt, ...(message.seq && { seq: message.seq }) },
		message.body,
	);
	const frame = {
		type: "send",
		id,
		to,
		kind,
		keyVersion,
		...sealed,
		...(message.replaces !== undefined && { replaces: message.replaces }),
		...(message.attachmentId !== undefined && { attachmentId: message.attachmentId }),
	} satisfies SendFrame;
	// Refused here rather than by the relay, which would answer an oversized frame without its id.
	if (fromB64u(sealed.box).length > MAX_SEALED_BYTES || JSON.stringify(frame).length > MAX_FRAME_CHARS) {
		throw new SdkError("too_large", "The message is too long.");
	}
	return { frame, sentAt };
}
