import type { AccountStatus, Contact, DeviceInfo, LimitsResponse } from "../../common/protocol/wire.ts";
import type { AccountInfo, ContactTrust, OwnDevice } from "../core/sdk.ts";
import type { ChatMessage } from "./chat-message.ts";

/**
 * Where the app is. `welcome`: no account on this device yet; `pending`: claimed a link code
 * of an account and waits for the device that showed it to approve it; `ready`: approved; `replaced`: another tab of this profile took the
 * connection; `removed`: the device was revoked or the relay no longer knows it.
 */
export type Phase = "loading" | "welcome" | "pending" | "ready" | "replaced" | "removed";
export type Connection = "offline" | "connecting" | "online";

/** A link code this device shows for a new device, until it is used, cancelled or expires. */
export interface ShownLinkCode {
	/** The typed form, "alice-XXXXXX-XXXXXX-XXXXXX-XXXXXX"; the QR code carries the same text. */
	code: string;
	linkId: string;
	/** When the relay stops taking it (the relay's clock). */
	expiresAt: number;
}

/** A new device claimed a code shown here, with a valid proof: the person approves or rejects it. */
export interface LinkRequest {
	device: DeviceInfo;
	/** The new device's fingerprint, which it shows on its own screen too. */
	fingerprint: string;
}

/** The account's recovery key as this page knows it (see features/recovery.ts). */
export interface RecoveryState {
	/** Whether the account has a recovery key its identity key signed; null until the relay was asked. */
	hasKey: boolean | null;
	/** The person saved and confirmed the account's recovery key (kept in this browser, per account). */
	confirmed: boolean;
	/** The words of a key made on this page and not yet confirmed; in memory only, gone on reload. */
	words: string | null;
	/** The words (or their making) are on screen. */
	showing: boolean;
	/** A key is being made. */
	making: boolean;
}

/**
 * Where a history transfer stands on this device. Sending (this device approved the other):
 * `preparing` the archive, `sending` it, `uploaded` and waiting for the new device to import
 * it. Receiving (this is the new device): `waiting` for the other device to upload it,
 * `receiving` it, `importing` it. Both: `failed` (to retry or skip), and the ends: `imported`,
 * `skipped` (by either device), `expired` (not imported within the hour), `ended` (it was
 * over when this device looked again, without saying how).
 */
export type HistoryPhase =
	| "preparing"
	| "sending"
	| "uploaded"
	| "waiting"
	| "receiving"
	| "importing"
	| "failed"
	| "imported"
	| "skipped"
	| "expired"
	| "ended";

/** A transfer of history to a newly linked device, as this device takes part in it. */
export interface HistoryTransferState {
	transferId: string;
	/** `sending`: this device approved the other one; `receiving`: this is the new device. */
	role: "sending" | "receiving";
	/** The other device's id (its name is in `devices`). */
	peerDevice: string;
	phase: HistoryPhase;
	/** Share sent or received (0–1) while `sending` or `receiving`. */
	share?: number;
	/** Why it failed, as a sentence. */
	error?: string;
	/** When failed: whether trying again can work (a page reloaded since the approval lost the archive's key). */
	canRetry?: boolean;
	/** What the import added, once imported here. */
	imported?: { messages: number; files: number };
}

export interface Notice {
	id: number;
	tone: "error" | "info";
	text: string;
}

/** Everything the views render, as one immutable object: each change makes a new one. */
export interface MessengerState {
	phase: Phase;
	connection: Connection;
	me: AccountInfo | null;
	/** This device's key fingerprint, to compare when another device approves it. */
	fingerprint: string | null;
	account: AccountStatus | null;
	limits: LimitsResponse | null;
	contacts: Contact[];
	unread: Record<string, number>;
	/** Until when (this device's clock) a contact counts as typing. */
	typing: Record<string, number>;
	/** Loaded conversations, oldest message first. */
	conversations: Record<string, ChatMessage[]>;
	activePeer: string | null;
	/** The newest message of each conversation in the local history, by contact: the contact list's order and previews. */
	lastMessages: Record<string, ChatMessage>;
	/** Where the open conversation's unread messages began when it was opened: the divider's place (a message key) and count. */
	unreadDivider: { peerId: string; key: string; count: number } | null;
	/** A message to bring into view once its conversation shows it (a search result opened), by key. */
	highlight: string | null;
	/** This account's devices, each marked whether the account's signed device list certifies it. */
	devices: OwnDevice[] | null;
	linkCode: ShownLinkCode | null;
	linkRequests: LinkRequest[];
	/** What this device trusts about each accepted contact's identity key, by account id. */
	trust: Record<string, ContactTrust>;
	notices: Notice[];
	/** When the rate limit next allows a send, on this device's clock; null when it does now. */
	nextSendAt: number | null;
	/** Files being sent: share uploaded (0–1) by the local key of their message. */
	progress: Record<string, number>;
	/** Files being fetched and opened: share received (0–1) by attachment id. */
	downloads: Record<string, number>;
	recovery: RecoveryState;
	/** Whether the browser granted persistent storage to this site; null where it does not say (or not asked yet). */
	persistentStorage: boolean | null;
	/** History transfers this device sends or receives, until dismissed. */
	historyTransfers: HistoryTransferState[];
	/** This device was linked without the account's earlier messages (none were sent, or the transfer was skipped or expired). */
	historyMissing: boolean;
	/** This device tells contacts when their messages were seen (the person may turn it off). */
	sendReadReceipts: boolean;
}

export function initialState(): MessengerState {
	return {
		phase: "loading",
		connection: "offline",
		me: null,
		fingerprint: null,
		account: null,
		limits: null,
		contacts: [],
		unread: {},
		typing: {},
		conversations: {},
		activePeer: null,
		lastMessages: {},
		unreadDivider: null,
		highlight: null,
		devices: null,
		linkCode: null,
		linkRequests: [],
		trust: {},
		notices: [],
		nextSendAt: null,
		progress: {},
		downloads: {},
		recovery: { hasKey: null, confirmed: false, words: null, showing: false, making: false },
		persistentStorage: null,
		historyTransfers: [],
		historyMissing: false,
		sendReadReceipts: true,
	};
}

/**
 * The one place a state lives. `update` only replaces the state and tells the listeners, in
 * the order they subscribed; whatever else a change should cause is a listener's business.
 */
export class Store<S> {
	private current: S;
	private readonly listeners = new Set<(state: S) => void>();

	constructor(initial: S) {
		this.current = initial;
	}

	get state(): S {
		return this.current;
	}

	subscribe(listener: (state: S) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	update(patch: Partial<S>): void {
		this.current = { ...this.current, ...patch };
		for (const listener of this.listeners) listener(this.current);
	}
}

export type MessengerStore = Store<MessengerState>;
