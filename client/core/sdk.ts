import { CryptoError } from "../../common/crypto-error.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes, signDetached } from "../../common/nacl.ts";
import { identityProofMessage, registrationMessage } from "../../common/protocol/signing.ts";
import { socketProtocols } from "../../common/protocol/socket-auth.ts";
import {
	ACK_IDS_MAX,
	type AccountStatus,
	type Contact,
	type CreditHistory,
	type CreditPacksResponse,
	checkoutRequest,
	type DeviceInfo,
	type DeviceStatus,
	handle as handleSchema,
	type IceServer,
	id as idSchema,
	type LimitsResponse,
	type MessageFrame,
	type PushSubscriptionRequest,
	pushSubscriptionRequest,
	type ReactionEmoji,
	type ReceiptFrame,
	registerRequest,
	reportRequest,
	type ServerFrame,
} from "../../common/protocol/wire.ts";
import { AccountDevices } from "./account-devices.ts";
import { ACK_DELAY_MS, AckBatcher } from "./ack-batcher.ts";
import { ApiClient, type Fetch, parseAccountId, parseInput } from "./api-client.ts";
import { bufferedUploader, streamingUploader, type Uploader } from "./attachment-transfer.ts";
import { DEFAULT_BACKOFF } from "./backoff.ts";
import {
	type CallEnded,
	type CallSignal,
	CallSignaling,
	type IceCandidate,
	type IncomingCall,
	type OutgoingCall,
	type OutgoingSignal,
} from "./call-signaling.ts";
import { ContactKeyRing } from "./contact-key-ring.ts";
import { EventEmitter } from "./event-emitter.ts";
import { type FileDigest, openFileStream, sealFileStream } from "./file-seal.ts";
import { type HistoryTransferInfo, HistoryTransfers, makeHistoryOffer } from "./history-transfer.ts";
import { generateAccountIdentity } from "./identity-key.ts";
import { KeyBackup } from "./key-backup.ts";
import { type DeviceIdentity, type KeyStore, seenKey, type TrustRecord } from "./key-store.ts";
import { type AttachmentInfo, isReactionEmoji, type MessageRef, messageRefOf, type Reaction } from "./message-body.ts";
import { MessageNumbering } from "./message-numbering.ts";
import { type IncomingMessage, MessageReceiver, type UndecryptableMessage } from "./message-receiver.ts";
import type { AccountInfo, ContactTrust, MessengerClientOptions, MessengerEvents, OwnDevice } from "./messenger-types.ts";
import { Outbox, type SendOptions, type SentReceipt } from "./outbox.ts";
import { openReceipt, sealReceipt } from "./receipt-seal.ts";
import { RelayConnection } from "./relay-connection.ts";
import { deviceFingerprint, safetyNumber } from "./safety-number.ts";
import { SdkError, toSdkError } from "./sdk-error.ts";
import { SerialQueue } from "./serial-queue.ts";
import { SessionKeeper } from "./session-keeper.ts";
import { sealBody } from "./text-frame.ts";
import { TrustBook } from "./trust-book.ts";

export type { AttachmentInfo, FileDigest, HistoryTransferInfo, MessageRef, Reaction };
export type { CallEnded, CallSignal, IceCandidate, IncomingCall, OutgoingCall, OutgoingSignal };
export type {
	AccountInfo,
	ContactTrust,
	IncomingMessage,
	MessengerClientOptions,
	MessengerEvents,
	OwnDevice,
	SentReceipt,
	UndecryptableMessage,
};

/** How long a message that could not be read for a transient reason waits for another try. */
const RETRY_UNREADABLE_MS = 5_000;
/** Uploads of one file the relay's file store refused as `unavailable`, in all. */
const UPLOAD_ATTEMPTS = 3;
/** The longest an upload waits before trying again, whatever the relay asks. */
const MAX_UPLOAD_WAIT_MS = 30_000;
/** Read receipts whose refusal is recognised (sendReadReceipt). */
const READ_REFS_KEPT = 64;

/** Frames that reach the app, through one ordered queue. */
type InboundFrame = Exclude<ServerFrame, { type: "sent" | "error" | "pong" }>;

/**
 * One device of one account, talking to the relay: registration, login, contacts and their
 * keys, and end-to-end encrypted text messages over a self-healing WebSocket.
 */
export class MessengerClient extends EventEmitter<MessengerEvents> {
	private readonly store: KeyStore;
	private readonly api: ApiClient;
	private readonly session: SessionKeeper;
	private readonly keys: ContactKeyRing;
	private readonly trust: TrustBook;
	private readonly devicesOf: AccountDevices;
	private readonly backup: KeyBackup;
	private readonly history: HistoryTransfers;
	private readonly receiver: MessageReceiver;
	private readonly numbering: MessageNumbering;
	private readonly connection: RelayConnection;
	private readonly outbox = new Outbox();
	private identityCache: DeviceIdentity | null = null;
	private connectionNumber = 0;
	private isReady = false;
	private closed = false;
	/** Ids of the read receipts sent lately, so that a refusal of one (its budget spent) is not an error to show. */
	private readonly readReceiptRefs = new Set<string>();
	private connectWaiters: Array<{ resolve: () => void; reject: (error: SdkError) => void }> = [];
	private readonly inbound: SerialQueue<InboundFrame>;
	private readonly acks: AckBatcher;
	private outboxTimer: ReturnType<typeof setTimeout> | null = null;
	private readonly uploader: Uploader;
	private readonly persist: ((message: IncomingMessage) => Promise<void>) | undefined;
	private readonly calls: CallSignaling;
	private iceCache: { servers: IceServer[]; refreshAt: number } | null = null;

	constructor(opts: MessengerClientOptions) {
		super();
		const baseUrl = opts.baseUrl.replace(/\/+$/, "");
		const WebSocketImpl = opts.WebSocket ?? globalThis.WebSocket;
		if (!WebSocketImpl) throw new TypeError("No WebSocket implementation: pass one as the WebSocket option.");
		const fetchFn: Fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
		this.store = opts.store;
		this.api = new ApiClient(baseUrl, fetchFn);
		this.persist = opts.persist;
		// Browsers stream request bodies only over HTTP/2; elsewhere the blob streams as sealed.
		this.uploader = opts.uploader ?? ("document" in globalThis ? bufferedUploader(fetchFn) : streamingUploader(fetchFn));
		this.session = new SessionKeeper(this.api, this.store);
		this.trust = new TrustBook({
			store: this.store,
			api: this.api,
			session: this.session,
			identity: () => this.identity(),
			report: (error) => this.emit("error", error),
			adoptOwnReset: (list) => this.devicesOf.adoptOwnReset(list),
			identityChanged: ({ peerId }) => {
				this.emit("trust", { peerId, state: "changed" });
				this.emit("safety_number_changed", { peerId });
			},
		});
		this.keys = new ContactKeyRing({
			store: this.store,
			api: this.api,
			session: this.session,
			trust: this.trust,
			identity: () => this.identity(),
			report: (error) => this.emit("error", error),
			stored: () => this.backupSoon(),
		});
		this.backup = new KeyBackup({
			store: this.store,
			api: this.api,
			session: this.session,
			trust: this.trust,
			identity: () => this.identity(),
			setIdentity: async (identity) => {
				await this.store.setIdentity(identity);
				this.identityCache = identity;
				if (!identity) this.session.invalidate();
			},
			report: (error) => this.emit("error", error),
			identityChanged: ({ peerId }) => {
				this.emit("trust", { peerId, state: "changed" });
				this.emit("safety_number_changed", { peerId });
			},
			...(opts.backupDelayMs !== undefined && { delayMs: opts.backupDelayMs }),
		});
		this.history = new HistoryTransfers({
			api: this.api,
			session: this.session,
			uploader: this.uploader,
			identity: () => this.identity(),
			ownList: async () => (await this.trust.own()).list,
		});
		this.devicesOf = new AccountDevices({
			store: this.store,
			api: this.api,
			session: this.session,
			trust: this.trust,
			keys: this.keys,
			identity: () => this.identity(),
			cachedIdentity: () => this.identityCache,
			setIdentity: async (identity) => {
				await this.store.setIdentity(identity);
				this.identityCache = identity;
			},
			contacts: () => this.contacts(),
			report: (error) => this.emit("error", error),
		});
		this.receiver = new MessageReceiver(this.store, this.keys);
		this.numbering = new MessageNumbering(this.store);
		this.calls = new CallSignaling({
			identity: () => this.identity(),
			keys: this.keys,
			send: (frame) => this.connection.send(frame),
			events: {
				call_incoming: (call) => this.emit("call_incoming", call),
				call_signal: (signal) => this.emit("call_signal", signal),
				call_ended: (ended) => this.emit("call_ended", ended),
				error: (error) => this.emit("error", error),
			},
			ringTimeoutMs: opts.callRingTimeoutMs ?? 45_000,
		});
		const wsBase = baseUrl.replace(/^http/, "ws");
		const promptAcks = opts.promptAcks ?? true;
		this.connection = new RelayConnection(
			{
				WebSocket: WebSocketImpl,
				endpoint: async (fresh) => {
					const session = fresh ? await this.session.login() : await this.session.current();
					return { url: `${wsBase}/api/ws${promptAcks ? "?acks=prompt" : ""}`, protocols: socketProtocols(session.token) };
				},
				backoff: opts.reconnect ?? DEFAULT_BACKOFF,
				heartbeatMs: opts.heartbeatMs ?? 30_000,
				handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 15_000,
			},
			{
				frame: (frame) => this.onFrame(frame),
				// Not acked even if it was a message: a newer SDK may read what this one cannot parse.
				malformed: (_, problem) => this.emit("error", new SdkError("internal", `The relay sent a malformed frame: ${problem}`)),
				disconnected: (info) => {
					this.isReady = false;
					this.emit("disconnected", info);
				},
				reconnecting: (info) => this.emit("reconnecting", info),
				fatal: (error) => this.onFatal(error),
			},
		);
		this.acks = new AckBatcher(
			(frame) => this.connection.send(frame),
			// The identity is loaded by the time a message is acked (it was opened with it).
			(to, key, ids) => (this.identityCache ? sealReceipt(this.identityCache, to, key, ids) : null),
			// Prompt: the sender hears `sent` once this device acks a message the relay held for it.
			promptAcks ? 0 : ACK_DELAY_MS,
		);
		this.inbound = new SerialQueue(
			(frame) => this.handle(frame).catch((err: unknown) => this.emit("error", toSdkError(err))),
			() => this.acks.drained(),
		);
	}

	// ---------------------------------------------------------------- account and session

	/**
	 * Create an account with this device as its first device: the device's key and the
	 * account's identity key are made here, and the first signed device list (this device
	 * alone) is published. Both keys stay in the store.
	 */
	async register(handle: string, deviceName: string): Promise<AccountInfo> {
		if (await this.store.getIdentity()) throw new SdkError("conflict", "This store already holds a device identity.");
		const folded = parseInput(handleSchema, handle, "handle");
		const name = parseInput(registerRequest.shape.deviceName, deviceName, "deviceName");
		const keys = generateDeviceKeys();
		const account = generateAccountIdentity();
		const publicKey = toB64u(keys.publicKey);
		const identityKey = toB64u(account.publicKey);
		const signature = toB64u(signDetached(keys.seed, registrationMessage(folded, publicKey, name, identityKey)));
		const identitySignature = toB64u(signDetached(account.seed, identityProofMessage(folded, identityKey, publicKey)));
		const created = await this.api.register({ handle: folded, deviceName: name, publicKey, signature, identityKey, identitySignature });
		const identity: DeviceIdentity = { ...keys, ...created, account };
		await this.store.setIdentity(identity);
		this.identityCache = identity;
		// If this is cut short, the next look at the device list publishes it (TrustBook.own).
		await this.trust.own().catch((err: unknown) => this.emit("error", toSdkError(err)));
		return created;
	}

	/**
	 * Join an existing account as a new device with the link code an approved device of it
	 * shows (typed or scanned); it waits as `pending` until that device approves it, then
	 * receives the account's identity key (finishLinking, which runs by itself on approval).
	 */
	linkWithCode(code: string, deviceName: string): Promise<AccountInfo> {
		return this.devicesOf.linkWithCode(code, deviceName);
	}

	/** A linked device, once approved: take and check the identity key. False while still pending. */
	finishLinking(): Promise<boolean> {
		return this.devicesOf.finishLinking();
	}

	/** A one-time link code for a new device of this account; approve the device here (approveDevice). */
	createLinkCode(): Promise<{ code: string; linkId: string; expiresAt: number }> {
		return this.devicesOf.createLinkCode();
	}

	/** Withdraw a link code before anyone used it. */
	cancelLinkCode(linkId: string): Promise<void> {
		return this.devicesOf.cancelLinkCode(linkId);
	}

	/** This account's devices, each marked whether the account's signed device list certifies it. */
	devices(): Promise<OwnDevice[]> {
		return this.devicesOf.devices();
	}

	/** Whether a pending device claimed a code this client showed, with a proof made from its secret. */
	checkLinkRequest(device: DeviceInfo): "valid" | "invalid" | "not_here" {
		return this.devicesOf.checkLinkRequest(device);
	}

	/**
	 * Approve a device that claimed a link code this client showed (a claim whose proof fails
	 * is rejected). With `history`, the approval also offers the new device this device's
	 * history: send the archive with sendHistory under the returned `historyTransferId`.
	 */
	async approveDevice(deviceId: string, opts: { history?: boolean } = {}): Promise<DeviceInfo & { historyTransferId?: string }> {
		if (!opts.history) return this.devicesOf.approveDevice(deviceId);
		const me = await this.identity();
		let made: ReturnType<typeof makeHistoryOffer> | undefined;
		const device = await this.devicesOf.approveDevice(deviceId, {
			historyOffer: (target) => {
				made = makeHistoryOffer(me, target);
				return made.offer;
			},
		});
		if (!made) return device;
		this.history.offered(made.offer.transferId, made.key);
		return { ...device, historyTransferId: made.offer.transferId };
	}

	/** The live history transfers this device sends (as the approver) or receives (as the new device). */
	historyTransfers(): Promise<HistoryTransferInfo[]> {
		return this.history.list();
	}

	/**
	 * Seal and upload the history archive for a transfer this device offered (approveDevice
	 * with `history`). The archive is the app's to build; it may be sent again after a failure.
	 */
	sendHistory(
		transferId: string,
		archive: Blob,
		opts: { onProgress?: (sentBytes: number, totalBytes: number) => void } = {},
	): Promise<void> {
		return this.history.send(transferId, archive, opts.onProgress);
	}

	/** On the new device: download and open the history archive once uploaded; returns the plaintext archive. */
	receiveHistory(transferId: string, opts: { onProgress?: (receivedBytes: number, totalBytes: number) => void } = {}): Promise<Blob> {
		return this.history.receive(transferId, opts.onProgress);
	}

	/** End a history transfer: `imported` by the new device once it holds the history, `skipped` by either device. The relay deletes the archive. */
	endHistory(transferId: string, outcome: "imported" | "skipped"): Promise<void> {
		return this.history.end(transferId, outcome);
	}

	/** Replace the account's identity key (after losing a device that held it); every contact sees a change. */
	async resetIdentity(): Promise<void> {
		// The recovery key was signed by the old identity key; it is signed anew, not lost.
		const recoveryKey = await this.backup.registeredKey();
		await this.devicesOf.resetIdentity();
		if (recoveryKey) await this.backup.carryOver(recoveryKey);
	}

	/** Turn a pending device away. */
	rejectDevice(deviceId: string): Promise<DeviceInfo> {
		return this.devicesOf.revokeDevice(deviceId);
	}

	/** Remove a device (also this one), with the next signed list; every contact key is then rotated. */
	revokeDevice(deviceId: string): Promise<DeviceInfo> {
		return this.devicesOf.revokeDevice(deviceId);
	}

	/**
	 * Make this account's recovery key and its first sealed key backup. Returns the 12 words:
	 * show them to the person, once; they never reach the relay. Making a new one replaces
	 * (and so invalidates) the old one.
	 */
	setUpRecovery(): Promise<string> {
		return this.backup.setUp();
	}

	/** Whether the account has a recovery key (one its identity key signed). */
	hasRecoveryKey(): Promise<boolean> {
		return this.backup.isSetUp();
	}

	/** Whether these words are the account's recovery key as registered (to check what the person wrote down). */
	checkRecoveryKey(words: string): Promise<boolean> {
		return this.backup.matches(words);
	}

	/** Write the sealed key backup now (it is also written by itself when keys change); false without a recovery key. */
	backUpKeys(): Promise<boolean> {
		return this.backup.backUpNow();
	}

	/**
	 * On a new browser with no other device: restore the account with its recovery key. This
	 * device becomes an approved device certified by the identity key from the backup, with
	 * every contact key the backup held. Contacts see a new device, not a new identity.
	 */
	async restoreAccount(handle: string, recoveryKey: string, deviceName: string): Promise<AccountInfo> {
		return this.backup.restore(handle, recoveryKey, deviceName);
	}

	private backupSoon(): void {
		if (!this.closed && this.identityCache?.account) this.backup.soon();
	}

	/** Report a contact to the relay's admins, optionally blocking them too. */
	async report(peerId: string, reason: string, block = false): Promise<void> {
		const peer = parseAccountId(peerId);
		const body = parseInput(reportRequest, { reason, block }, "report");
		await this.session.withToken((t) => this.api.report(t, peer, body));
	}

	/** Public prices and limits, to show what an action costs before it is taken. */
	limits(): Promise<LimitsResponse> {
		return this.api.limits();
	}

	/** The relay's VAPID public key for Web Push (the browser's applicationServerKey), or null: this relay sends no pushes. */
	async pushKey(): Promise<string | null> {
		return (await this.api.pushKey()).publicKey;
	}

	/** This device's Web Push subscription, so the relay wakes it while no tab is open (a push names nobody and carries nothing). */
	async setPushSubscription(subscription: PushSubscriptionRequest): Promise<void> {
		const body = parseInput(pushSubscriptionRequest, subscription, "subscription");
		await this.session.withToken((t) => this.api.putPushSubscription(t, body));
	}

	/** No more pushes to this device. */
	async removePushSubscription(): Promise<void> {
		await this.session.withToken((t) => this.api.deletePushSubscription(t));
	}

	/** The credit ledger, newest first (charges reach it a few seconds after they are made). */
	creditHistory(): Promise<CreditHistory> {
		return this.session.withToken((t) => this.api.creditHistory(t));
	}

	/** The packs of credits this relay sells (through Stripe), or `forSale: false` when its operator grants credits instead. */
	creditPacks(): Promise<CreditPacksResponse> {
		return this.api.creditPacks();
	}

	/** A Stripe Checkout page for the pack of `pack` credits; the credits arrive once Stripe reports the payment. */
	async checkoutUrl(pack: number): Promise<string> {
		const credits = parseInput(checkoutRequest, { pack }, "pack").pack;
		return (await this.session.withToken((t) => this.api.checkout(t, credits))).url;
	}

	/** Tell a contact's open devices that this user is typing. Best effort, at most one a second. */
	sendTyping(peerId: string): void {
		const to = parseAccountId(peerId);
		if (this.isReady) this.connection.send({ type: "typing", to });
	}

	/** Sign in now. Not needed before other calls: they sign in, and again before the token runs out. */
	async login(): Promise<AccountInfo & { expiresAt: number }> {
		const { accountId, deviceId, handle, expiresAt } = await this.session.login();
		return { accountId, deviceId, handle, expiresAt };
	}

	/** Balance, trust, quota left and when the next send is allowed. */
	accountStatus(): Promise<AccountStatus> {
		return this.session.withToken((t) => this.api.account(t));
	}

	/** This device's account, or null before register(). */
	async whoami(): Promise<AccountInfo | null> {
		const identity = this.identityCache ?? (await this.store.getIdentity());
		return identity && { accountId: identity.accountId, deviceId: identity.deviceId, handle: identity.handle };
	}

	// ---------------------------------------------------------------- calls (a browser drives them through CallSession)

	/** Whether this account takes calls from a contact. Off until allowed; only this account can change it. */
	async setCallPermission(peerId: string, allow: boolean): Promise<Contact> {
		const peer = parseAccountId(peerId);
		if (typeof allow !== "boolean") throw new SdkError("bad_request", "allow must be true or false.");
		return this.session.withToken((t) => this.api.setCallPermission(t, peer, allow));
	}

	/** "Not now" to a contact's waiting call request (`call_request` event `asked`); they hear it, calmly. Allow with setCallPermission. */
	async dismissCallRequest(peerId: string): Promise<void> {
		const peer = parseAccountId(peerId);
		await this.session.withToken((t) => this.api.dismissCallRequest(t, peer));
	}

	/** STUN, and TURN with a credential of this account's; fetched again shortly before the credential expires. */
	async iceServers(): Promise<IceServer[]> {
		if (this.iceCache && Date.now() < this.iceCache.refreshAt) return this.iceCache.servers;
		const startedAt = Date.now();
		const { iceServers, expiresAt } = await this.session.withToken((t) => this.api.turn(t));
		this.iceCache = { servers: iceServers, refreshAt: startedAt + Math.max(0, expiresAt - startedAt) * 0.8 };
		return iceServers;
	}

	/**
	 * Ring every online device of a contact with an SDP offer. Resolves once the offer is sent;
	 * `call_signal` events follow (ringing, accept, answer, ice), and `call_ended` — also when
	 * the relay refuses the call (`peer_unreachable`, `calls_not_allowed`, `not_a_contact`, …).
	 */
	startCall(peerId: string, opts: { video: boolean; sdp: string }): Promise<OutgoingCall> {
		if (this.closed) return Promise.reject(new SdkError("closed", "This client was closed."));
		if (typeof opts.sdp !== "string" || opts.sdp === "") return Promise.reject(new SdkError("bad_request", "A call needs an SDP offer."));
		const peer = parseAccountId(peerId);
		return this.trust.assertMaySend(peer).then(() => this.calls.start(peer, { video: opts.video === true, sdp: opts.sdp }));
	}

	/** Answer, ICE candidates, accept, decline, busy, hangup — for a call this device is in. */
	sendCallSignal(callId: string, signal: OutgoingSignal): Promise<void> {
		if (this.closed) return Promise.reject(new SdkError("closed", "This client was closed."));
		return this.calls.send(callId, signal);
	}

	/**
	 * The media of a call connected (CallSession says so). From then on only the peer's sealed
	 * hangup ends the call here: the relay's unsealed `timeout`, `…_elsewhere` and refusals of
	 * the call's signals are reported as `error` events, not obeyed.
	 */
	callConnected(callId: string): void {
		this.calls.connected(callId);
	}

	// ---------------------------------------------------------------- connection

	/**
	 * Open the WebSocket; resolves at its `ready` frame. Failed attempts are retried with
	 * backoff (see `reconnecting` events); rejects only when retrying cannot help (revoked or
	 * unknown device, replaced by another connection) or on close().
	 */
	connect(): Promise<void> {
		if (this.closed) return Promise.reject(new SdkError("closed", "This client was closed."));
		if (this.isReady) return Promise.resolve();
		const ready = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
		this.connection.start();
		return ready;
	}

	/** Reconnect now if a reconnect is waiting out its backoff (e.g. the network just came back). */
	reconnectNow(): void {
		if (!this.closed) this.connection.retryNow();
	}

	/** Close for good: no reconnects, and unconfirmed sends are rejected with `closed`. */
	close(): void {
		if (this.closed) return;
		this.closed = true;
		const wasReady = this.isReady;
		this.isReady = false;
		// What this device stored is acked before the socket goes, not delivered again next time.
		this.acks.flush();
		this.connection.stop();
		if (this.outboxTimer !== null) clearTimeout(this.outboxTimer);
		this.backup.stop();
		this.keys.close();
		const error = new SdkError("closed", "The client was closed.");
		this.outbox.failAll(error);
		this.calls.closeAll(error);
		for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
		if (wasReady) this.emit("disconnected", { code: 1000, reason: "client closed" });
	}

	// ---------------------------------------------------------------- contacts

	async requestContact(handle: string): Promise<Contact> {
		const folded = parseInput(handleSchema, handle, "handle");
		return this.session.withToken((t) => this.api.requestContact(t, folded));
	}

	/** Accept a request: makes the contact key, wraps it for every approved device of both accounts, and keeps it. */
	async acceptContact(peerId: string): Promise<Contact> {
		return this.keys.accept(parseAccountId(peerId));
	}

	async declineContact(peerId: string): Promise<Contact> {
		const peer = parseAccountId(peerId);
		return this.session.withToken((t) => this.api.declineContact(t, peer));
	}

	/**
	 * Block silently: the peer is not told, its messages look sent to it but reach none of
	 * this account's devices (nor later), and its requests, typing and calls go nowhere.
	 */
	async blockContact(peerId: string): Promise<Contact> {
		const peer = parseAccountId(peerId);
		return this.session.withToken((t) => this.api.blockContact(t, peer));
	}

	/**
	 * Delete the account for good, with its handle typed again: every contact forgets it, and
	 * the relay deletes everything it held of it. This client closes; its keys are the app's to erase.
	 */
	async deleteAccount(handle: string): Promise<void> {
		const folded = parseInput(handleSchema, handle, "handle");
		await this.session.withToken((t) => this.api.deleteAccount(t, folded));
		this.close();
	}

	/** Lift a block: the contact is again what it was (an accepted one: accepted, under the same key). */
	async unblockContact(peerId: string): Promise<Contact> {
		const peer = parseAccountId(peerId);
		return this.session.withToken((t) => this.api.unblockContact(t, peer));
	}

	contacts(): Promise<Contact[]> {
		return this.session.withToken((t) => this.api.contacts(t));
	}

	/** Fetch and unwrap this device's contact keys for a peer; returns the key versions now held. */
	async loadContactKeys(peerId: string): Promise<number[]> {
		return this.keys.load(parseAccountId(peerId));
	}

	/**
	 * 60 digits over both accounts' identity keys, to compare out of band (or as a QR code):
	 * the same while devices come and go, different after an identity change.
	 */
	async safetyNumber(peerId: string): Promise<string> {
		return (await this.contactTrust(peerId)).safetyNumber;
	}

	/** What this device trusts about a contact: verified, not verified, or an identity change not yet looked at. */
	async contactTrust(peerId: string): Promise<ContactTrust> {
		const peer = parseAccountId(peerId);
		const me = await this.identity();
		if (!me.account) throw new SdkError("device_pending", "This device does not hold the account's identity key yet.");
		const { record } = await this.trust.peer(peer);
		return this.describeTrust(me, record);
	}

	/** After comparing safety numbers (or scanning the other's code): mark the contact verified, or not. */
	async setContactVerified(peerId: string, verified: boolean): Promise<ContactTrust> {
		const peer = parseAccountId(peerId);
		await this.trust.peer(peer);
		const record = await this.trust.markVerified(peer, verified);
		this.backupSoon();
		const trust = this.describeTrust(await this.identity(), record);
		this.emit("trust", { peerId: peer, state: trust.state });
		return trust;
	}

	/** The person saw that a contact's identity key changed: sending works again (not verified until compared anew). */
	async acknowledgeIdentityChange(peerId: string): Promise<ContactTrust> {
		const peer = parseAccountId(peerId);
		const record = await this.trust.acknowledgeChange(peer);
		this.backupSoon();
		const trust = this.describeTrust(await this.identity(), record);
		this.emit("trust", { peerId: peer, state: trust.state });
		return trust;
	}

	private describeTrust(me: DeviceIdentity, record: TrustRecord): ContactTrust {
		const own = me.account?.publicKey as Uint8Array;
		return {
			peerId: record.accountId,
			state: record.changed ? "changed" : record.verified ? "verified" : "unverified",
			blocked: record.changed?.wasVerified === true,
			safetyNumber: safetyNumber(
				{ accountId: me.accountId, identityKey: own },
				{ accountId: record.accountId, identityKey: fromB64u(record.identityKey) },
			),
			identityKey: record.identityKey,
			...(record.changed && { changedAt: record.changed.at }),
		};
	}

	/** 20 digits of a device's key, for comparing a new device by eye before approving it. */
	deviceFingerprint(publicKey: string): string {
		return deviceFingerprint(fromB64u(publicKey));
	}

	// ---------------------------------------------------------------- messages

	/**
	 * Seal and send a text. Resolves when the relay has queued it for the recipient; rejects
	 * with the relay's refusal (`not_a_contact`, `insufficient_credits`, …). The account's rate
	 * limit and daily quota do not refuse it: it waits until the relay says the account may
	 * send again, in order with the other sends (`onWait` tells when it will go; aborting
	 * `signal` meanwhile takes it back, rejecting with `cancelled`). A frame lost with the
	 * connection is sent again, with the same id, once reconnected.
	 * `replyTo` makes it a reply to an earlier message of this conversation, named by its
	 * sender's account id and its id (the quoted text is not sent: the receiver shows its own copy).
	 */
	async sendText(peerId: string, text: string, opts: { id?: string; replyTo?: MessageRef } & SendOptions = {}): Promise<SentReceipt> {
		if (this.closed) throw new SdkError("closed", "This client was closed.");
		const to = parseAccountId(peerId);
		if (typeof text !== "string" || text.length === 0) throw new SdkError("bad_request", "A text message needs some text.");
		const replyTo = opts.replyTo === undefined ? undefined : await this.messageOfConversation(to, opts.replyTo, "replyTo");
		// A key replaced since this device last looked (a device was revoked) is fetched or
		// made, and the message sealed again under it.
		return this.sendSealed(
			to,
			{
				kind: "text",
				body: { text, ...(replyTo && { replyTo }) },
				...(opts.id !== undefined && { id: parseInput(idSchema, opts.id, "id") }),
			},
			opts,
		);
	}

	/**
	 * React to a message of this conversation (`to`: its sender's account id and its id) with
	 * one of REACTION_EMOJIS, or "" to take this account's reaction back. Each account has one
	 * reaction per message: a new one replaces it. Priced apart (PRICE_REACTION, 1 credit by
	 * default), outside the rate limit and the daily quota.
	 */
	async react(peerId: string, to: MessageRef, emoji: ReactionEmoji | ""): Promise<SentReceipt> {
		if (this.closed) throw new SdkError("closed", "This client was closed.");
		const peer = parseAccountId(peerId);
		if (emoji !== "" && !isReactionEmoji(emoji)) throw new SdkError("bad_request", "That is not one of the reactions.");
		const reaction: Reaction = { to: await this.messageOfConversation(peer, to, "to"), emoji };
		return this.sendSealed(peer, { kind: "reaction", body: { reaction } });
	}

	/** `{id, from}` of a message between this account and `peerId`: the receiver refuses any other. */
	private async messageOfConversation(peerId: string, ref: MessageRef, name: string): Promise<MessageRef> {
		const parsed = messageRefOf(ref);
		const me = await this.identity();
		if (!parsed || (parsed.from !== me.accountId && parsed.from !== peerId))
			throw new SdkError("bad_request", `\`${name}\` names a message of this conversation: {id, from}, from one of its two accounts.`);
		return parsed;
	}

	/**
	 * A fresh message id, for an app that records a message before sending it (pass it to
	 * sendText) so that a send still pending when the page closes can be matched up later.
	 */
	newMessageId(): string {
		return toB64u(randomBytes(16));
	}

	/** Whether this device is approved yet (a new device waits as pending). Signs in afresh to ask. */
	async deviceStatus(): Promise<DeviceStatus> {
		const status = (await this.session.login()).deviceStatus;
		if (status === "approved" && !(await this.identity()).account) await this.finishLinking();
		return status;
	}

	/**
	 * The relay refused a send as `stale_key`: load the newest keys; if that brings a newer
	 * version than the one sealed with, the send is simply tried again under it. Otherwise the
	 * relay wants a new version, which this device makes only if a verified device list
	 * removed a device since the newest key was shared.
	 */
	private async catchUpKeys(peerId: string, sealedWith: number | undefined): Promise<void> {
		this.keys.forget(peerId);
		await this.keys.load(peerId);
		const held = await this.store.latestVersion(peerId);
		if (held !== undefined && sealedWith !== undefined && held > sealedWith) return;
		const contact = (await this.contacts()).find((c) => c.accountId === peerId);
		// The contact made a newer version meanwhile (a removal is answered by either side): if it
		// now loads (its envelope checks out), the send is tried under it, rather than a rotation
		// this device cannot justify. One that does not load is judged as before.
		if (contact?.keyVersion !== undefined && held !== undefined && contact.keyVersion > held) {
			this.keys.forget(peerId);
			await this.keys.load(peerId);
			if (((await this.store.latestVersion(peerId)) ?? 0) > held) return;
		}
		if (contact?.keyVersion !== undefined && (held === undefined || held <= contact.keyVersion)) {
			if (!(await this.keys.rotationJustified(peerId))) throw unjustifiedRotation(peerId);
			await this.keys.rotate(peerId, contact.keyVersion + 1);
		}
	}

	/**
	 * Replace the text of a message this account sent (2 credits; counts against the limits).
	 * `seq` numbers this edit among the message's edits (one more than the highest this device
	 * has seen): receivers keep the highest, so an older edit delivered last does not win.
	 */
	async editMessage(peerId: string, messageId: string, text: string, opts: { seq?: number } = {}): Promise<SentReceipt> {
		const to = parseAccountId(peerId);
		const replaces = parseInput(idSchema, messageId, "messageId");
		if (typeof text !== "string" || text.length === 0) throw new SdkError("bad_request", "An edit needs some text.");
		const seq = opts.seq ?? 1;
		if (!Number.isSafeInteger(seq) || seq < 1 || seq > 1_000_000_000)
			throw new SdkError("bad_request", "An edit's number is a whole number from 1.");
		return this.sendSealed(to, { kind: "edit", body: { text, replaces, seq }, replaces });
	}

	/**
	 * Tell `peerId` that the person saw these messages of theirs (1 to 500 ids): a receipt
	 * sealed with the contact key, free of credits; the relay meters read receipts by a daily
	 * budget. Best effort: false when it could not be written now (not connected, no key).
	 * Only call it if the person allows read receipts.
	 */
	async sendReadReceipt(peerId: string, messageIds: string[]): Promise<boolean> {
		if (this.closed) throw new SdkError("closed", "This client was closed.");
		const to = parseAccountId(peerId);
		if (!Array.isArray(messageIds) || messageIds.length === 0 || messageIds.length > ACK_IDS_MAX)
			throw new SdkError("bad_request", `A read receipt names 1 to ${ACK_IDS_MAX} messages.`);
		const ids = messageIds.map((m) => parseInput(idSchema, m, "messageId"));
		const me = await this.identity();
		const key = await this.keys.latest(to);
		if (!key || !this.isReady) return false;
		const receipt = sealReceipt(me, to, key, ids, "read");
		if (!this.connection.send({ type: "read", to, receipt })) return false;
		this.readReceiptRefs.add(receipt.id);
		// Only the latest few are remembered: a refusal comes at once, or the socket went.
		if (this.readReceiptRefs.size > READ_REFS_KEPT) this.readReceiptRefs.delete(this.readReceiptRefs.values().next().value as string);
		return true;
	}

	/** Delete a message this account sent, for everyone (1 credit): undelivered copies are never delivered. */
	async deleteMessage(peerId: string, messageId: string): Promise<SentReceipt> {
		const to = parseAccountId(peerId);
		const replaces = parseInput(idSchema, messageId, "messageId");
		return this.sendSealed(to, { kind: "delete", body: { replaces }, replaces });
	}

	/**
	 * Send a file: reserved (the price is held, and released if it is never sent), sealed in
	 * 64 KiB chunks under a fresh key as it is read, uploaded, then announced in a sealed
	 * message that carries the key, name, type, size and SHA-256. Given `stream` as a function
	 * that opens the file again, an upload the relay's file store could not take
	 * (`unavailable`) is tried again after the wait it asks for, up to UPLOAD_ATTEMPTS times,
	 * under the same reservation (paid once). A send that fails for good cancels the
	 * reservation, so the held price is released at once.
	 */
	async sendFile(
		peerId: string,
		file: { stream: ReadableStream<Uint8Array> | (() => ReadableStream<Uint8Array>); size: number; name: string; type: string },
		opts: { caption?: string; onProgress?: (sentBytes: number, totalBytes: number) => void } & SendOptions = {},
	): Promise<SentReceipt & { attachment: AttachmentInfo }> {
		if (this.closed) throw new SdkError("closed", "This client was closed.");
		const to = parseAccountId(peerId);
		const reserved = await this.session.withToken((t) => this.api.reserveAttachment(t, { to, size: file.size }));
		try {
			const { key, digest } = await this.uploadSealed(reserved, file.stream, opts.onProgress);
			if (digest.size !== file.size) throw new SdkError("bad_request", "The file was not as long as its stated size.");
			const attachment: AttachmentInfo = {
				id: reserved.attachmentId,
				owner: reserved.owner,
				key: toB64u(key),
				size: file.size,
				type: file.type.slice(0, 200),
				name: file.name.slice(0, 500),
				sha256: digest.sha256,
			};
			const body = opts.caption ? { attachment, text: opts.caption } : { attachment };
			const receipt = await this.sendSealed(to, { kind: "attachment", body, attachmentId: attachment.id }, opts);
			return { ...receipt, attachment };
		} catch (err) {
			// Given up for good: the held price comes back now, not when the reservation lapses. A
			// cancel that fails changes nothing (the lapse still refunds), and one for a message the
			// relay did deliver is refused as sent.
			await this.session.withToken((t) => this.api.cancelAttachment(t, reserved.owner, reserved.attachmentId)).catch(() => undefined);
			throw err;
		}
	}

	/** Seal and upload under one reservation, trying again as `sendFile` says. */
	private async uploadSealed(
		reserved: { owner: string; attachmentId: string; sealedSize: number },
		stream: ReadableStream<Uint8Array> | (() => ReadableStream<Uint8Array>),
		onProgress: ((sentBytes: number, totalBytes: number) => void) | undefined,
	): Promise<{ key: Uint8Array; digest: FileDigest }> {
		const reopen = typeof stream === "function" ? stream : null;
		let source = reopen ? reopen() : (stream as ReadableStream<Uint8Array>);
		let key: Uint8Array;
		let sealed: ReturnType<typeof sealFileStream>;
		for (let attempt = 1; ; attempt++) {
			// A fresh key each attempt: the relay may have seen part of an earlier one.
			key = randomBytes(32);
			sealed = sealFileStream(key, source);
			const { token } = await this.session.current();
			try {
				await this.uploader({
					url: this.api.attachmentUrl(reserved.owner, reserved.attachmentId),
					token,
					body: sealed.stream,
					size: reserved.sealedSize,
					...(onProgress && { onProgress: (sent: number) => onProgress(sent, reserved.sealedSize) }),
				});
				break;
			} catch (err) {
				sealed.digest.catch(() => undefined);
				const error = toSdkError(err);
				if (error.code !== "unavailable" || !reopen || attempt >= UPLOAD_ATTEMPTS || this.closed) throw error;
				await new Promise((resolve) => setTimeout(resolve, Math.min(error.retryAfter ?? 5000, MAX_UPLOAD_WAIT_MS)));
				source = reopen();
			}
		}
		return { key, digest: await sealed.digest };
	}

	/**
	 * Fetch and open an attachment of a received (or sent) message. The stream errors if the
	 * blob was changed or cut short, or does not match the size and hash its message sealed.
	 */
	async downloadFile(attachment: AttachmentInfo): Promise<{ stream: ReadableStream<Uint8Array>; digest: Promise<FileDigest> }> {
		const blob = await this.session.withToken((t) => this.api.downloadAttachment(t, attachment.owner, attachment.id));
		return openFileStream(fromB64u(attachment.key), blob, { size: attachment.size, sha256: attachment.sha256 });
	}

	private async sendSealed(to: string, message: Parameters<typeof sealBody>[3], options: SendOptions = {}): Promise<SentReceipt> {
		if (this.closed) throw new SdkError("closed", "This client was closed.");
		await this.trust.assertMaySend(to);
		let sealedWith: number | undefined;
		const attempt = async () => {
			const me = await this.identity();
			const latest = await this.keys.latest(to);
			sealedWith = latest?.version;
			if (!latest) throw new SdkError("not_a_contact", "There is no contact key for this account: is the contact accepted?");
			// Numbered per conversation, so the contact notices a message that never came; an
			// edit or delete names the number of the message it replaces, which the relay may
			// have swapped out of a queue (message-numbers.ts).
			const replaces = message.replaces === undefined ? undefined : await this.store.seenNumber(seenKey(me.accountId, message.replaces));
			const numbered = await this.numbering.take(to);
			const seq = { ...numbered, ...(replaces && { replaces }) };
			let sealed: ReturnType<typeof sealBody>;
			try {
				sealed = sealBody(me, to, latest, { ...message, seq });
			} catch (err) {
				await this.numbering.refused(to, seq.n);
				throw err;
			}
			const { frame, sentAt } = sealed;
			// This device's own id, seen from the start: a frame from this account under it can
			// only be this message again (replayed), never a new one.
			await this.store.markSeen(seenKey(me.accountId, frame.id), { device: me.deviceId, n: seq.n });
			const receipt = this.outbox.add(frame, sentAt, options);
			const cancel = () => this.outbox.cancel(frame.id, this.connectionNumber);
			options.signal?.addEventListener("abort", cancel, { once: true });
			void receipt.finally(() => options.signal?.removeEventListener("abort", cancel)).catch(() => {});
			this.flushOutbox();
			return receipt.then(
				async (r) => {
					await this.numbering.accepted(to, numbered);
					return r;
				},
				async (err: unknown) => {
					// Refused for good: no message carries this number, and the next one says so.
					await this.numbering.refused(to, seq.n);
					throw err;
				},
			);
		};
		try {
			return await attempt();
		} catch (err) {
			if (!(err instanceof SdkError) || err.code !== "stale_key") throw err;
			await this.catchUpKeys(to, sealedWith);
			return attempt();
		}
	}

	// ---------------------------------------------------------------- incoming frames

	private onFrame(frame: ServerFrame): void {
		switch (frame.type) {
			case "ready":
				// Re-sent at once, before anything the app sends after connect() resolves, so order holds.
				this.connectionNumber++;
				this.flushOutbox();
				this.inbound.push(frame);
				return;
			case "sent":
				this.outbox.settle(frame, Date.now());
				// The next send may wait for the window this one opened.
				this.flushOutbox();
				return;
			case "send_window":
				this.outbox.windowFrom(frame, Date.now());
				this.flushOutbox();
				this.emit("sendWindow", { nextSendAt: Date.now() + (frame.nextSendAt - frame.at), quotaLeft: frame.quotaLeft });
				return;
			case "error": {
				const error = new SdkError(frame.code, frame.message, frame.retryAfter === undefined ? {} : { retryAfter: frame.retryAfter });
				// A refused call signal names its call: the call ends (or the error is reported) there.
				if (frame.ref !== undefined && this.calls.refused(frame.ref, error)) return;
				// A read receipt is best effort (sendReadReceipt): its refusal is nobody's to act on.
				if (frame.ref !== undefined && this.readReceiptRefs.delete(frame.ref)) return;
				const pending = frame.ref !== undefined && this.outbox.refuse(frame.ref, error, Date.now());
				if (!pending) this.emit("error", error);
				else this.flushOutbox();
				return;
			}
			case "pong":
				return;
			default:
				this.inbound.push(frame);
		}
	}

	/** Frames that reach the app are handled here one at a time, in arrival order. */
	private async handle(frame: InboundFrame): Promise<void> {
		// Left unacked after close(): the relay delivers them again next time.
		if (this.closed) return;
		switch (frame.type) {
			case "ready":
				// The socket may have dropped while earlier frames were handled.
				if (!this.connection.ready) return;
				this.isReady = true;
				this.emit("ready", { accountId: frame.accountId, deviceId: frame.deviceId, queued: frame.queued });
				for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
				return;
			case "synced":
				this.emit("synced", undefined);
				return;
			case "account":
				this.emit("account", frame.account);
				return;
			case "device":
				return this.onDeviceFrame(frame.event, frame.device);
			case "device_list":
				await this.trust.observeOwn(frame.deviceList);
				return;
			case "history":
				this.history.observe(frame.transferId, frame.state);
				this.emit("history", { transferId: frame.transferId, state: frame.state, ...(frame.size !== undefined && { size: frame.size }) });
				return;
			case "typing":
				this.emit("typing", { peerId: frame.from, fromDevice: frame.fromDevice });
				return;
			case "receipt":
				return this.onReceipt(frame);
			case "missed":
				this.emit("missed", { count: frame.count });
				return;
			case "contact":
				this.keys.forget(frame.contact.accountId);
				this.emit("contact", { event: frame.event, contact: frame.contact });
				// Look at the new list now: an identity change shows at once, not at the next send.
				if (frame.event === "devices_changed") this.refreshPeerInBackground(frame.contact.accountId);
				if (frame.event === "rotation_required") {
					this.rotateInBackground(frame.contact);
					return;
				}
				if (frame.contact.state === "accepted") await this.prefetchKeys(frame.contact);
				return;
			case "message":
				return this.receive(frame);
			case "call":
				return this.calls.receive(frame);
			case "call_request":
				this.emit("call_request", { event: frame.event, peerId: frame.from, at: frame.at });
				return;
		}
	}

	private async receive(frame: MessageFrame): Promise<void> {
		const me = await this.identity();
		const receipt = await this.receiver.receive(me, frame);
		switch (receipt.kind) {
			case "new": {
				const { message: opened, seq } = receipt;
				// What the message shows as: an edit or delete on the message it changes.
				const by = opened.replaces ?? opened.id;
				const plan = seq
					? await this.numbering.observe(opened.peerId, { by, fromDevice: frame.fromDevice, myDevice: me.deviceId }, seq)
					: null;
				const message = plan && plan.missingBefore > 0 ? { ...opened, missingBefore: plan.missingBefore } : opened;
				// Kept by the app before it is acked: if the app dies first, the relay still has it
				// and delivers it again, and it is not yet marked as seen (nor its number).
				if (this.persist) {
					try {
						await this.persist(message);
					} catch (err) {
						this.emit("error", toSdkError(err));
						this.retryLater(frame);
						return;
					}
				}
				// This account's own messages keep their number: an edit or delete of one names it.
				await this.store.markSeen(seenKey(frame.from, frame.id), message.outgoing ? message.number : undefined);
				await plan?.commit();
				this.emit("message", message);
				if (plan && plan.filled.length > 0) this.emit("gaps_filled", { peerId: opened.peerId, from: frame.from, ids: plan.filled });
				break;
			}
			case "undecryptable":
				// Acked all the same: it can never become readable, and the queue must move on.
				this.emit("undecryptable", receipt.message);
				break;
			case "duplicate":
				break;
			case "retry":
				// Not acked, so the relay delivers it again on the next connection; until then it
				// is tried again here now and then.
				this.emit("error", receipt.error);
				this.retryLater(frame);
				return;
		}
		// A contact's message gets a receipt sealed with the key it came under (held locally:
		// it was just opened with it, or it was seen before); this account's own, none.
		const key = frame.from === me.accountId ? undefined : await this.store.getContactKey(frame.from, frame.keyVersion);
		this.acks.add(frame.from, frame.id, key ? { version: frame.keyVersion, key } : null);
	}

	/**
	 * A contact's device says it stored messages of ours. Only a receipt sealed with the
	 * contact key, from that contact to this account, counts: one the relay wrote, moved or
	 * altered is dropped, so the relay cannot make a message look delivered.
	 */
	private async onReceipt(frame: ReceiptFrame): Promise<void> {
		const me = await this.identity();
		let key: Uint8Array | undefined;
		try {
			key = await this.keys.get(frame.from, frame.keyVersion);
		} catch {
			return;
		}
		if (!key) return;
		let opened: ReturnType<typeof openReceipt>;
		try {
			opened = openReceipt(me, key, frame);
		} catch (err) {
			if (err instanceof CryptoError) return;
			throw err;
		}
		this.emit(opened.kind, { ids: opened.ids, peerId: frame.from, deviceId: frame.fromDevice });
	}

	private retryLater(frame: MessageFrame): void {
		const connection = this.connectionNumber;
		setTimeout(() => {
			if (!this.closed && this.connectionNumber === connection) this.inbound.push(frame);
		}, RETRY_UNREADABLE_MS);
	}

	/** A contact newly accepted (or re-keyed): fetch its key now rather than on the first message. */
	private async prefetchKeys(contact: Contact): Promise<void> {
		const held = await this.store.latestVersion(contact.accountId);
		if (contact.keyVersion === undefined || (held !== undefined && held >= contact.keyVersion)) return;
		// In the background: a slow relay must not hold up the frames behind this one.
		this.keys.load(contact.accountId).catch((err: unknown) => this.emit("error", toSdkError(err)));
	}

	/**
	 * The relay says a key must be replaced. Done only if a verified device list removed a
	 * device since the key was shared; otherwise ignored and reported, since a relay that could
	 * make clients re-wrap at will could time a device list of its own to the moment they do.
	 * Every remaining device may try; the relay takes the first and the others fetch it.
	 */
	private rotateInBackground(contact: Contact): void {
		if (contact.keyVersion === undefined || contact.state !== "accepted") return;
		const version = contact.keyVersion;
		(async () => {
			if (!(await this.keys.rotationJustified(contact.accountId))) throw unjustifiedRotation(contact.accountId);
			await this.keys.rotate(contact.accountId, version + 1);
		})().catch((err: unknown) => this.emit("error", toSdkError(err)));
	}

	private refreshPeerInBackground(peerId: string): void {
		if (!this.identityCache?.account) return;
		this.trust.peer(peerId).catch((err: unknown) => this.emit("error", toSdkError(err)));
	}

	private async onDeviceFrame(event: "pending" | "approved" | "revoked", device: DeviceInfo): Promise<void> {
		const me = await this.identity();
		if (device.deviceId === me.deviceId) {
			if (event === "revoked") {
				this.emit("device", { event, device });
				this.connection.stop();
				this.onFatal(new SdkError("device_revoked", "This device was removed from its account."));
				return;
			}
			if (event === "approved") await this.finishLinking().catch((err: unknown) => this.emit("error", toSdkError(err)));
			this.emit("device", { event, device });
			return;
		}
		this.emit("device", { event, device });
		if (event !== "pending") return;
		// A claim of a code shown here: offered for approval if its proof holds, turned away if not.
		const verdict = this.checkLinkRequest(device);
		if (verdict === "valid") this.emit("link_request", { device, fingerprint: deviceFingerprint(fromB64u(device.publicKey)) });
		if (verdict === "invalid") {
			this.emit(
				"error",
				new SdkError("untrusted", `A device (${device.name}) claimed your link code without its secret; it was rejected.`, {
					reason: "link_claim",
				}),
			);
			await this.rejectDevice(device.deviceId).catch((err: unknown) => this.emit("error", toSdkError(err)));
		}
	}

	/** Write what may go now; what waits for the send window is written by a timer when it opens. */
	private flushOutbox(): void {
		if (this.closed) return;
		const waitMs = this.outbox.flush(this.connectionNumber, (frame) => this.connection.send(frame), Date.now());
		if (this.outboxTimer !== null) clearTimeout(this.outboxTimer);
		this.outboxTimer = null;
		if (waitMs === null) return;
		this.outboxTimer = setTimeout(() => {
			this.outboxTimer = null;
			this.flushOutbox();
		}, waitMs);
	}

	private onFatal(error: SdkError): void {
		this.isReady = false;
		for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
		// Sends wait for a connection a replaced client may get back; for a revoked device none comes.
		if (error.code !== "closed") this.outbox.failAll(error);
		this.emit("error", error);
	}

	private async identity(): Promise<DeviceIdentity> {
		this.identityCache ??= await this.store.getIdentity();
		if (!this.identityCache) throw new SdkError("unauthorized", "This device has no identity yet: register first.");
		return this.identityCache;
	}
}

const unjustifiedRotation = (peerId: string): SdkError =>
	new SdkError(
		"untrusted",
		`Ignored the relay's request to replace the key with ${peerId}: no signed device list removed a device since the key was shared.`,
		{ reason: "rotation" },
	);
