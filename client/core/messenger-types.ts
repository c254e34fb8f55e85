import type { AccountStatus, Contact, DeviceInfo, HistoryState, ServerFrame } from "../../common/protocol/wire.ts";
import type { Fetch } from "./api-client.ts";
import type { Uploader } from "./attachment-transfer.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { CallEvents } from "./call-signaling.ts";
import type { KeyStore } from "./key-store.ts";
import type { IncomingMessage, UndecryptableMessage } from "./message-receiver.ts";
import type { SdkError } from "./sdk-error.ts";
import type { WebSocketConstructor } from "./web-socket-like.ts";

export interface MessengerClientOptions {
	/** Where the relay is served, e.g. "https://chat.example" (the WebSocket URL is derived from it). */
	baseUrl: string;
	store: KeyStore;
	/** Defaults to globalThis.WebSocket; Node passes the `ws` package. */
	WebSocket?: WebSocketConstructor;
	fetch?: Fetch;
	/** Delays between reconnect attempts; default 250 ms doubling up to 30 s, with jitter. */
	reconnect?: BackoffOptions;
	/** Ping interval; a socket silent for two intervals is dropped and reopened. Default 30 s. */
	heartbeatMs?: number;
	/** How long a new socket may take to say `ready`. Default 15 s. */
	handshakeTimeoutMs?: number;
	/**
	 * Keeps an incoming message (e.g. in the app's history) before the SDK acks it to the
	 * relay. If it throws, the message is not acked and comes again later.
	 */
	persist?: (message: IncomingMessage) => Promise<void>;
	/** How sealed attachments are uploaded (e.g. with progress through XHR); a sensible default per platform. */
	uploader?: Uploader;
	/** How long an outgoing call rings before this device hangs up. Default 45 s, as the relay's CALL_RING_SECONDS. */
	callRingTimeoutMs?: number;
	/** How long key changes settle before the sealed key backup is written again. Default 2 s. */
	backupDelayMs?: number;
	/**
	 * Ack each message as soon as it is stored (the default), and tell the relay so: a message
	 * to this device while it is caught up is then held in the relay's memory until the ack
	 * instead of written to its queue and deleted again. False batches acks for 250 ms once
	 * the incoming frames run dry (fewer ack frames, every message queued on the relay).
	 */
	promptAcks?: boolean;
}

export interface AccountInfo {
	accountId: string;
	deviceId: string;
	handle: string;
}

type Frame<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/** A device of this account; `certified` when the account's signed device list names it with this key. */
export type OwnDevice = DeviceInfo & { certified: boolean };

export type TrustState = "unverified" | "verified" | "changed";

/** What this device trusts about a contact's identity key. */
export interface ContactTrust {
	peerId: string;
	/** `changed`: the identity key is not the one seen before, and the person has not acknowledged it. */
	state: TrustState;
	/** Sending is refused until acknowledged: the contact had been verified before the change. */
	blocked: boolean;
	/** 60 digits over both identity keys. */
	safetyNumber: string;
	identityKey: string;
	changedAt?: number;
}

/** `call_incoming`, `call_signal` and `call_ended` come from CallEvents (client/core/call-signaling.ts). */
export interface MessengerEvents extends CallEvents {
	ready: { accountId: string; deviceId: string; queued: number };
	/** The backlog queued while offline has been delivered. */
	synced: undefined;
	message: IncomingMessage;
	undecryptable: UndecryptableMessage;
	/** A contact changed: request, accept, decline, block, their devices, their key. */
	contact: { event: Frame<"contact">["event"]; contact: Contact };
	/** A device of this account was added, approved or revoked. */
	device: { event: Frame<"device">["event"]; device: Frame<"device">["device"] };
	/**
	 * Another device of this account sent and reached the rate limit or the quota: sends from
	 * here wait until `nextSendAt` (this device's clock). This device's own sends say the same in their receipt.
	 */
	sendWindow: { nextSendAt: number; quotaLeft: number | null };
	/** Messages for this device expired unread while it was away. */
	missed: { count: number };
	/**
	 * A call request. `asked`: `peerId` called while this account did not take their calls (also
	 * again on connect while it waits); `answered`: a device of this account allowed calls or
	 * said not now. `allowed` / `not_now`: `peerId` answered a call request of this account's.
	 */
	call_request: { event: Frame<"call_request">["event"]; peerId: string; at: number };
	/** A contact is typing (best effort). */
	typing: { peerId: string; fromDevice: string };
	/** A device of `peerId` stored these messages of ours. */
	delivered: { ids: string[]; peerId: string; deviceId: string };
	/** The person on device `deviceId` of `peerId` saw these messages of ours (a sealed read receipt). */
	read: { ids: string[]; peerId: string; deviceId: string };
	/**
	 * Messages of `from` in the conversation with `peerId` (ids as `missingBefore` was given
	 * on: for an edit or delete, the message it changes) whose missing messages have come since, or were
	 * accounted for (refused sends, edits and deletes of queued messages).
	 */
	gaps_filled: { peerId: string; from: string; ids: string[] };
	/** The safety number with this contact changed: their identity key is not the one seen before. */
	safety_number_changed: { peerId: string | null };
	/** A contact's trust state changed (verified, unverified, or an identity change seen). */
	trust: { peerId: string; state: TrustState };
	/** A new device claimed a link code this client showed, with a valid proof: approve it (approveDevice) or reject it. */
	link_request: { device: DeviceInfo; fingerprint: string };
	/** A history transfer this device sends or receives changed state (see approveDevice's `history`). */
	history: { transferId: string; state: HistoryState; size?: number };
	/** Balance, trust and quota of this account, whenever the relay reports them. */
	account: AccountStatus;
	disconnected: { code: number; reason: string };
	reconnecting: { attempt: number; delayMs: number };
	error: SdkError;
}
