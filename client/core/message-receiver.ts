import { CryptoError, type CryptoErrorCode } from "../../common/crypto-error.ts";
import type { MessageFrame, MessageKind } from "../../common/protocol/wire.ts";
import type { ContactKeyRing } from "./contact-key-ring.ts";
import { type DeviceIdentity, type KeyStore, seenKey } from "./key-store.ts";
import { type AttachmentInfo, type MessageRef, type Reaction, readBody } from "./message-body.ts";
import type { MessageNumber, SealedNumbering } from "./message-numbers.ts";
import { openMessage } from "./message-seal.ts";
import { isTransient, type SdkError, toSdkError } from "./sdk-error.ts";

export interface IncomingMessage {
	id: string;
	/** The other account of the conversation. */
	peerId: string;
	from: string;
	fromDevice: string;
	/**
	 * text: a message; edit: the new text of `replaces` — when this device never had `replaces`
	 * (the relay swaps a still-queued original for its edit), the edit is that message, edited;
	 * delete: remove `replaces` (nothing to do if it never came); attachment: a file (text is its caption);
	 * reaction: `reaction` (its sender's one reaction to `reaction.to`; no text).
	 */
	kind: MessageKind;
	text: string;
	replaces?: string;
	attachment?: AttachmentInfo;
	/** A text answering an earlier message of the conversation, named by its sender and id (its text is not sent). */
	replyTo?: MessageRef;
	reaction?: Reaction;
	/** An edit's number among the edits of its message: the highest wins, whatever order they arrive in. */
	editSeq?: number;
	/** The sender's clock, from the sealed header. */
	sentAt: number;
	/** The relay's clock when it accepted the message. */
	receivedAt: number;
	/** Sent by this account (from another of its devices). */
	outgoing: boolean;
	/** Its number among its device's messages to this conversation, if it carries one. */
	number?: MessageNumber;
	/**
	 * How many messages of its device may be missing just before it: numbers that never came
	 * (the relay dropped or holds them). A later `gaps_filled` names it (for an edit or a
	 * delete, the message it changes: `replaces`) if they do come.
	 */
	missingBefore?: number;
}

/** unknown_key: no key of that version for this contact; bad_body: opened, but the body does not fit its kind. */
export type UndecryptableReason = CryptoErrorCode | "unknown_key" | "bad_body";

export interface UndecryptableMessage {
	id: string;
	peerId: string;
	from: string;
	fromDevice: string;
	reason: UndecryptableReason;
	receivedAt: number;
}

export type Receipt =
	| { kind: "new"; message: IncomingMessage; seq?: SealedNumbering }
	| { kind: "duplicate" }
	/** Can never be read by this device: ack it, and tell the user. */
	| { kind: "undecryptable"; message: UndecryptableMessage }
	/** Could not be read now (the relay was unreachable): leave it queued for the next delivery. */
	| { kind: "retry"; error: SdkError };

/** Opens one `message` frame (sealed with the contact key; delivered at least once, so maybe again) and decides what becomes of it. */
export class MessageReceiver {
	constructor(
		private readonly store: KeyStore,
		private readonly keys: ContactKeyRing,
	) {}

	async receive(me: DeviceIdentity, frame: MessageFrame): Promise<Receipt> {
		// By sender and id: another sender's message under this id (a contact reusing the id of
		// a message of ours) is not a duplicate of ours, and is opened, or refused, as its own.
		if (await this.store.hasSeen(seenKey(frame.from, frame.id))) return { kind: "duplicate" };
		const outgoing = frame.from === me.accountId;
		const peerId = outgoing ? frame.to : frame.from;
		const undecryptable = (reason: UndecryptableReason): Receipt => ({
			kind: "undecryptable",
			message: { id: frame.id, peerId, from: frame.from, fromDevice: frame.fromDevice, reason, receivedAt: frame.sentAt },
		});
		// The sealed header only has to agree with the routing header; this checks that the
		// routing header names this account at all.
		if (!outgoing && frame.to !== me.accountId) return undecryptable("header_mismatch");

		let key: Uint8Array | undefined;
		try {
			key = await this.keys.get(peerId, frame.keyVersion);
		} catch (err) {
			const error = toSdkError(err);
			if (isTransient(error)) return { kind: "retry", error };
			// Refused for good (not a contact, blocked): no key will come for it.
		}
		if (!key) return undecryptable("unknown_key");

		let body: unknown;
		let sentAt: number;
		let seq: SealedNumbering | undefined;
		try {
			const { id, from, fromDevice, to, keyVersion, kind } = frame;
			({
				body,
				header: { sentAt, seq },
			} = openMessage(key, { id, from, fromDevice, to, keyVersion, kind }, frame.nonce, frame.box));
		} catch (err) {
			if (err instanceof CryptoError) return undecryptable(err.code);
			throw err;
		}
		const content = readBody(frame, body);
		if (content === null) return undecryptable("bad_body");
		// The caller remembers the id (markSeen) once the app has kept the message: only
		// authenticated ids are remembered, so a forged frame cannot shadow the real message.
		return {
			kind: "new",
			message: {
				id: frame.id,
				peerId,
				from: frame.from,
				fromDevice: frame.fromDevice,
				...content,
				sentAt,
				receivedAt: frame.sentAt,
				outgoing,
				...(seq && { number: { device: frame.fromDevice, n: seq.n } }),
			},
			...(seq && { seq }),
		};
	}
}
