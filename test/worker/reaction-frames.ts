import { sealMessage } from "../../client/core/message-seal.ts";
import type { ServerFrame } from "../../common/protocol/wire.ts";
import { newMessageId } from "./fixtures.ts";
import type { TestSocket, TestUser } from "./helpers.ts";

/**
 * A sealed reaction of `from` to the message `to` names, as the SDK seals one; `pad` adds
 * bytes inside the sealed body (what a client using reactions as a free channel would do).
 */
export function sealedReaction(
	from: TestUser,
	peer: TestUser,
	key: Uint8Array,
	to: { id: string; from: string },
	emoji: string,
	opts: { pad?: number; id?: string } = {},
) {
	const id = opts.id ?? newMessageId();
	const header = {
		id,
		from: from.accountId,
		fromDevice: from.deviceId,
		to: peer.accountId,
		keyVersion: 1,
		kind: "reaction",
		sentAt: Date.now(),
	};
	const body = opts.pad ? { reaction: { to, emoji }, pad: "x".repeat(opts.pad) } : { reaction: { to, emoji } };
	const { nonce, box } = sealMessage(key, header, body);
	return { type: "send", id, to: peer.accountId, kind: "reaction", keyVersion: 1, nonce, box } as const;
}

/** Send a frame and wait for the relay's answer to it: `sent`, or the refusal that names it. */
export async function answerTo(socket: TestSocket, frame: { id: string }): Promise<ServerFrame> {
	socket.send(frame);
	return Promise.race([socket.next("sent", (s) => s.id === frame.id), socket.next("error", (e) => e.ref === frame.id)]);
}
