import type { AttachmentInfo } from "../core/message-body.ts";

/**
 * Where a message stands. Outgoing: `sending` until the relay confirms it is queued for every
 * recipient device (`sent`), `delivered` once a device of the recipient stored it, `failed`
 * if the relay refused it or never confirmed it. Incoming: `received`, or `unreadable` when
 * no key of this device opens it.
 */
export type DeliveryState = "sending" | "sent" | "delivered" | "failed" | "received" | "unreadable";

/** One message of the local history, as stored and as the views show it. */
export interface ChatMessage {
	/** The relay's message id once known; a local id (`local:…`) while sending. */
	key: string;
	/** The relay's message id; absent until the relay confirmed a send. */
	id?: string;
	peerId: string;
	outgoing: boolean;
	text: string;
	/** The relay's clock when it accepted the message (this device's clock while sending). */
	at: number;
	state: DeliveryState;
	/** The recipient's devices that stored it. */
	deliveredTo?: string[];
	/** Why it failed, as a sentence. */
	error?: string;
	/** A file: its key, name, type, size and hash (only ever stored here, in this browser). */
	attachment?: AttachmentInfo;
	/** While a file is sent: what it is, before the relay knows it. */
	file?: { name: string; size: number; type: string };
	edited?: true;
	/** Deleted for everyone by its sender: the text and file are gone. */
	deleted?: true;
	/** Present (1) only while unread, so the index over it holds only unread messages. */
	unread?: 1;
	/** Present (1) only while sending, for the same reason. */
	pending?: 1;
}
