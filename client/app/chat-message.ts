import type { ReactionEmoji } from "../../common/protocol/wire.ts";
import type { AttachmentInfo, MessageRef } from "../core/message-body.ts";

/**
 * Where a message stands. Outgoing: `sending` until the relay confirms it is queued for every
 * recipient device (`sent`), `delivered` once a device of the recipient stored it, `failed`
 * if the relay refused it or never confirmed it. Incoming: `received`, or `unreadable` when
 * no key of this device opens it.
 */
export type DeliveryState = "sending" | "sent" | "delivered" | "failed" | "received" | "unreadable";

/**
 * A message's key in the history: its sender and its relay id (`sender:id`). Ids are chosen
 * by their sender and unique per sender only, so a contact's message under the id of one of
 * ours (or of another contact's) is another message, kept beside it, and a change or an
 * unreadable frame finds only its own sender's message. The sender is the contact's account
 * id, or OWN_SENDER for this account's own messages: the history is one account's, and its
 * upgrade rewrites old records without knowing the account id. No account id is `me` or
 * `local` (the prefix of a send the relay has not confirmed yet).
 */
export const OWN_SENDER = "me";

export const sentKey = (id: string): string => `${OWN_SENDER}:${id}`;
export const receivedKey = (peerId: string, id: string): string => `${peerId}:${id}`;

/** The key of the message `id` in the conversation with `peerId`, sent by this account (`outgoing`) or by the contact. */
export const messageKey = (m: { peerId: string; outgoing: boolean; id: string }): string =>
	m.outgoing ? sentKey(m.id) : receivedKey(m.peerId, m.id);

/**
 * How a call this device took part in went. `ended`: it connected, for `durationMs`;
 * `missed`: it rang here and nobody took it; `declined`: turned down (by either side);
 * `no_answer`: this side called and nobody took it; `failed`: it could not connect.
 */
export type CallOutcome = "ended" | "missed" | "declined" | "no_answer" | "failed";

export interface CallLogEntry {
	direction: "outgoing" | "incoming";
	video: boolean;
	outcome: CallOutcome;
	durationMs?: number;
}

/** One message of the local history, as stored and as the views show it. */
export interface ChatMessage {
	/** messageKey of the relay's id once known; a local key (`local:…`) while sending. */
	key: string;
	/** The relay's message id; absent until the relay confirmed a send. */
	id?: string;
	peerId: string;
	outgoing: boolean;
	text: string;
	/**
	 * When it was sent, by the sender's clock as sealed in the message (so the relay can neither
	 * reorder a conversation nor change its times); the relay's clock only for a message no key
	 * opens. The history is ordered by it.
	 */
	at: number;
	/** The sender's sealed time and the relay's differ by more than CLOCK_SKEW_MS: `at` may be off. */
	clockSkew?: true;
	state: DeliveryState;
	/** The recipient's devices that stored it. */
	deliveredTo?: string[];
	/** The recipient's devices on which it was seen (sealed read receipts; only from people who send them). */
	readBy?: string[];
	/** Why it failed, as a sentence. */
	error?: string;
	/** A file: its key, name, type, size and hash (only ever stored here, in this browser). */
	attachment?: AttachmentInfo;
	/** While a file is sent: what it is, before the relay knows it. */
	file?: { name: string; size: number; type: string };
	edited?: true;
	/** The edit shown: its number among the message's edits and its id (which breaks a tie between two devices' edits). */
	editSeq?: number;
	editId?: string;
	/** Deleted for everyone by its sender: the text and file are gone. */
	deleted?: true;
	/** A reply: the message it answers, by its sender's account id and its id (shown from this device's own copy). */
	replyTo?: MessageRef;
	/** Each account's one reaction to it, by account id (this account's own under its id too); absent when none. */
	reactions?: Record<string, ReactionEmoji>;
	/**
	 * How many messages of the sender may be missing just before it (numbers sealed into the
	 * messages that never came: a relay dropped or holds them); gone once they come.
	 */
	missingBefore?: number;
	/**
	 * A call log line, not a message: made by this device for a call it took part in, and
	 * never sent anywhere (see call-log.ts). Its key is `call:` and the call id; it has no relay id.
	 */
	call?: CallLogEntry;
	/** A contact asks this account to allow their calls (see call-log.ts); gone once answered. Key `call-request:` and their id. */
	callRequest?: true;
	/** Present (1) only while unread, so the index over it holds only unread messages. */
	unread?: 1;
	/** Present (1) only while sending, for the same reason. */
	pending?: 1;
	/** While it waits for the account's rate limit or daily quota: when it is expected to go (this device's clock). */
	sendsAt?: number;
}

/**
 * How far the sealed sending time and the relay's may differ before the app says so. The
 * relay stamps a message as it takes it, which is the moment it was sent (a queued message
 * keeps that stamp), so a larger gap means a wrong clock on the sender's side, or a relay
 * that holds messages back: either way the shown time may mislead.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** The `clockSkew` mark for a message sealed at `sentAt` that the relay took at `relayAt`. */
export function skewMark(sentAt: number, relayAt: number): { clockSkew?: true } {
	return Math.abs(sentAt - relayAt) > CLOCK_SKEW_MS ? { clockSkew: true } : {};
}

/**
 * An outgoing message with a receipt from the recipient's device `deviceId` counted, or null
 * when it changes nothing (the receipt came before). A message read there was stored there.
 */
export function withReceipt(message: ChatMessage, deviceId: string, kind: "delivered" | "read"): ChatMessage | null {
	if (!message.outgoing) return null;
	const deliveredTo = message.deliveredTo?.includes(deviceId) ? message.deliveredTo : [...(message.deliveredTo ?? []), deviceId];
	const readBy = kind === "read" && !message.readBy?.includes(deviceId) ? [...(message.readBy ?? []), deviceId] : message.readBy;
	if (deliveredTo === message.deliveredTo && readBy === message.readBy) return null;
	return { ...message, state: "delivered", deliveredTo, ...(readBy && { readBy }) };
}
