import { MAX_FRAME_CHARS, MAX_SEALED_BYTES, type SendFrame } from "../../worker/protocol/wire.ts";
import { fromB64u, toB64u } from "./encoding.ts";
import type { DeviceIdentity } from "./key-store.ts";
import { sealMessage } from "./message-seal.ts";
import { randomBytes } from "./nacl.ts";
import { SdkError } from "./sdk-error.ts";

/** A `send` frame carrying `text` sealed under the contact key, its sealed header matching the routing fields. */
export function sealText(
	me: DeviceIdentity,
	to: string,
	contactKey: { version: number; key: Uint8Array },
	text: string,
): { frame: SendFrame; sentAt: number } {
	const id = toB64u(randomBytes(16));
	const sentAt = Date.now();
	const keyVersion = contactKey.version;
	const sealed = sealMessage(
		contactKey.key,
		{ id, from: me.accountId, fromDevice: me.deviceId, to, keyVersion, kind: "text", sentAt },
		{ text },
	);
	const frame = { type: "send", id, to, kind: "text", keyVersion, ...sealed } satisfies SendFrame;
	// Refused here rather than by the relay, which would answer an oversized frame without its id.
	if (fromB64u(sealed.box).length > MAX_SEALED_BYTES || JSON.stringify(frame).length > MAX_FRAME_CHARS) {
		throw new SdkError("too_large", "The message is too long.");
	}
	return { frame, sentAt };
}
