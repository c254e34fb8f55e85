import type { Contact, CreditHistory, CreditPacksResponse, ReactionEmoji } from "../../common/protocol/wire.ts";
import type { AttachmentInfo, MessageRef } from "../core/message-body.ts";
import { MessengerClient } from "../core/sdk.ts";
import { SdkError } from "../core/sdk-error.ts";
import { type BrowserStores, PAGE_STORES } from "./browser-stores.ts";
import type { ErrorContext } from "./error-text.ts";
import { Account } from "./features/account.ts";
import { BrowserStorage } from "./features/browser-storage.ts";
import { CallLog } from "./features/call-log.ts";
import { ConnectionStatus } from "./features/connection-status.ts";
import { Contacts } from "./features/contacts.ts";
import { Conversations } from "./features/conversations.ts";
import { DeviceLifecycle } from "./features/device-lifecycle.ts";
import { DeviceLinks } from "./features/device-links.ts";
import { Devices } from "./features/devices.ts";
import { FileCache } from "./features/file-cache.ts";
import { HistoryMarks, HistoryTransfer } from "./features/history-transfer.ts";
import { IncomingMessages } from "./features/incoming-messages.ts";
import { MessageChanges } from "./features/message-changes.ts";
import { Notices } from "./features/notices.ts";
import { OutgoingMessages } from "./features/outgoing-messages.ts";
import { ReadReceiptSetting, ReadReceipts } from "./features/read-receipts.ts";
import { Receipts } from "./features/receipts.ts";
import { Recovery, RecoveryMarks } from "./features/recovery.ts";
import { SafetyNumbers } from "./features/safety-numbers.ts";
import { StartUpCache } from "./features/start-up-cache.ts";
import { TypingIndicator } from "./features/typing-indicator.ts";
import { type ChatMessage, HistoryStore } from "./history-store.ts";
import { IndexedDbKeyStore } from "./indexed-db-key-store.ts";
import type { SafetyComparison } from "./safety-code.ts";
import { initialState, type MessengerState, type Notice, Store } from "./store.ts";
import { xhrUploader } from "./xhr-uploader.ts";

export { INLINE_IMAGE_TYPES } from "./features/file-cache.ts";
export type {
	Connection,
	HistoryTransferState,
	LinkRequest,
	MessengerState,
	Notice,
	Phase,
	RecoveryState,
	ShownLinkCode,
} from "./store.ts";

export interface ProfileNames {
	/** IndexedDB database of the device's keys. */
	keys: string;
	/** IndexedDB database of the message history. */
	history: string;
}

/** Checked where there is no document too, so that the features also run without one. */
const pageVisible = (): boolean => typeof document === "undefined" || document.visibilityState === "visible";
const browserOffline = (): boolean => typeof navigator !== "undefined" && navigator.onLine === false;

/**
 * The app's model of one device profile: wraps the SDK client, keeps the local history in
 * IndexedDB and turns SDK events into one immutable state object that the views render.
 * The web app and the widget each run one, on their own databases. It composes the features
 * (client/app/features/) over one store and routes the views' calls and the SDK's events to them.
 */
export class MessengerController {
	readonly keys: IndexedDbKeyStore;
	readonly history: HistoryStore;
	readonly client: MessengerClient;
	private readonly store: Store<MessengerState>;
	private readonly notices: Notices;
	private readonly account: Account;
	private readonly contacts: Contacts;
	private readonly devices: Devices;
	private readonly links: DeviceLinks;
	private readonly historyTransfer: HistoryTransfer;
	private readonly safetyNumbers: SafetyNumbers;
	private readonly conversations: Conversations;
	private readonly typingIndicator: TypingIndicator;
	private readonly receipts: Receipts;
	private readonly readReceipts: ReadReceipts;
	private readonly files: FileCache;
	private readonly changes: MessageChanges;
	private readonly outgoing: OutgoingMessages;
	private readonly incoming: IncomingMessages;
	private readonly lifecycle: DeviceLifecycle;
	private readonly connection: ConnectionStatus;
	private readonly recovery: Recovery;
	private readonly browserStorage: BrowserStorage;
	private readonly callLog: CallLog;
	/** Told of each new message from a contact, once kept and shown (the desktop notifications listen). */
	private readonly arrivalListeners = new Set<(message: ChatMessage) => void>();
	/** Told once this device was erased from the browser (signed out, removed, account deleted). */
	private readonly erasedListeners = new Set<() => void>();

	constructor(
		private readonly profile: ProfileNames,
		baseUrl = location.origin,
		/** The page's own storage unless the widget was given a Storage Access handle's. */
		stores: BrowserStores = PAGE_STORES,
	) {
		this.keys = new IndexedDbKeyStore(profile.keys, undefined, stores.indexedDB);
		this.history = new HistoryStore(profile.history, stores.indexedDB);
		this.client = new MessengerClient({
			baseUrl,
			store: this.keys,
			uploader: xhrUploader(),
			persist: (message) => this.incoming.persist(message),
		});
		const store = new Store(initialState());
		const cache = new StartUpCache(profile.history, stores.localStorage);
		// Before anything can change the state, so that no new contact list goes unkept.
		cache.followContacts(store);
		this.store = store;
		this.notices = new Notices(store);
		this.account = new Account(store, this.client, this.notices);
		this.contacts = new Contacts(store, this.client, this.notices);
		this.devices = new Devices(store, this.client, this.notices);
		this.safetyNumbers = new SafetyNumbers(store, this.client, this.notices);
		this.readReceipts = new ReadReceipts(store, this.client, new ReadReceiptSetting(profile.history, stores.localStorage), (err) =>
			this.report(err),
		);
		this.conversations = new Conversations(store, this.history, pageVisible, (peerId, ids) => this.readReceipts.seen(peerId, ids));
		this.historyTransfer = new HistoryTransfer(
			store,
			this.client,
			this.history,
			new HistoryMarks(profile.history, stores.localStorage),
			this.notices,
			this.contacts,
			this.conversations,
		);
		this.links = new DeviceLinks(store, this.client, this.devices, this.notices, this.historyTransfer);
		this.typingIndicator = new TypingIndicator(store, this.client);
		this.receipts = new Receipts(this.history, this.conversations);
		this.files = new FileCache(store, this.client, this.history);
		this.changes = new MessageChanges(this.client, this.history, this.conversations, this.receipts, this.account, this.files);
		this.outgoing = new OutgoingMessages(
			store,
			this.client,
			this.history,
			this.conversations,
			this.receipts,
			this.typingIndicator,
			this.account,
		);
		this.incoming = new IncomingMessages(
			store,
			this.history,
			this.conversations,
			this.receipts,
			this.typingIndicator,
			this.changes,
			this.notices,
			pageVisible,
			(record) => {
				for (const listener of this.arrivalListeners) listener(record);
			},
		);
		this.lifecycle = new DeviceLifecycle(
			store,
			this.client,
			this.keys,
			this.history,
			cache,
			this.notices,
			this.account,
			this.contacts,
			this.devices,
			this.conversations,
			this.safetyNumbers,
			() => {
				for (const listener of this.erasedListeners) listener();
			},
		);
		this.connection = new ConnectionStatus(store, this.client, browserOffline);
		this.recovery = new Recovery(store, this.client, new RecoveryMarks(profile.history, stores.localStorage), this.notices);
		this.browserStorage = new BrowserStorage(store, () => (typeof navigator === "undefined" ? undefined : navigator.storage));
		this.callLog = new CallLog(store, this.history, this.conversations);
		this.listen();
	}

	get state(): MessengerState {
		return this.store.state;
	}

	subscribe(listener: (state: MessengerState) => void): () => void {
		return this.store.subscribe(listener);
	}

	/** Total unread messages, for the page title and the widget's host. */
	get unreadTotal(): number {
		return Object.values(this.store.state.unread).reduce((sum, n) => sum + n, 0);
	}

	/** Each new message from a contact, once kept in the history and shown. */
	onArrival(listener: (message: ChatMessage) => void): () => void {
		this.arrivalListeners.add(listener);
		return () => this.arrivalListeners.delete(listener);
	}

	/** Once this device's keys and history are deleted here: what the page kept for it outside the profile goes too. */
	onErased(listener: () => void): () => void {
		this.erasedListeners.add(listener);
		return () => this.erasedListeners.delete(listener);
	}

	get names(): ProfileNames {
		return this.profile;
	}

	// ------------------------------------------------------------------ start-up and account

	/** Load the identity and history of this profile and connect if there is an account. */
	start(): Promise<void> {
		return this.lifecycle.start();
	}

	/**
	 * A new account with this browser as its first device. With `recovery` (the web app), its
	 * recovery key is made right after and its words shown; a failure to make it leaves the
	 * reminder, which offers it again.
	 */
	async register(handle: string, deviceName: string, opts: { recovery?: boolean } = {}): Promise<void> {
		await this.lifecycle.register(handle, deviceName);
		void this.browserStorage.keep();
		if (opts.recovery) {
			await this.recovery.setUp().catch((err: unknown) => {
				this.report(err, "recovery");
				void this.recovery.load();
			});
		}
	}

	/** On a browser with no device of the account: sign in with its handle and recovery key; the app opens. */
	async restore(handle: string, words: string, deviceName: string): Promise<void> {
		await this.lifecycle.restore(handle, words, deviceName, (me) => this.recovery.restored(me.accountId));
		void this.browserStorage.keep();
	}

	/** Join an existing account as a new device with the link code another of its devices shows; it then waits for approval. */
	link(code: string, deviceName: string): Promise<void> {
		return this.lifecycle.link(code, deviceName);
	}

	/** Take the connection back after another tab of this profile took it. */
	useHere(): Promise<void> {
		return this.lifecycle.useHere();
	}

	/** Forget this device: it leaves its account if it can, and its keys and history are deleted from this browser. */
	forgetDevice(): Promise<void> {
		return this.lifecycle.forget();
	}

	/** Delete the account for good, confirmed by its handle typed again; this device's data goes too. */
	deleteAccount(handle: string): Promise<void> {
		return this.lifecycle.deleteAccount(handle);
	}

	/** Sign this device out of its account and delete its keys and history here (see signOutRisk for the warning). */
	signOut(): Promise<void> {
		return this.lifecycle.signOut();
	}

	refreshAccount(): Promise<void> {
		return this.account.refresh();
	}

	creditHistory(): Promise<CreditHistory> {
		return this.account.creditHistory();
	}

	creditPacks(): Promise<CreditPacksResponse> {
		return this.client.creditPacks();
	}

	/** Leave for Stripe's payment page for the pack; Stripe sends the browser back to the app. */
	async buyCredits(pack: number): Promise<void> {
		location.assign(await this.client.checkoutUrl(pack));
	}

	// ------------------------------------------------------------------ contacts

	requestContact(handle: string): Promise<Contact> {
		return this.contacts.request(handle);
	}

	/** Accept a request; the new contact's safety number is looked up at once, for the badges. */
	async acceptContact(peerId: string): Promise<void> {
		await this.contacts.accept(peerId);
		void this.safetyNumbers.load(peerId);
	}

	declineContact(peerId: string): Promise<void> {
		return this.contacts.decline(peerId);
	}

	/** Take calls from this contact or not (the contact can call only while it is on). */
	setCallPermission(peerId: string, allow: boolean): Promise<void> {
		return this.contacts.setCallPermission(peerId, allow);
	}

	/** Answer a contact's call request: allow their calls (they are told, and call again at once if still waiting). */
	async allowCallRequest(peerId: string): Promise<void> {
		await this.contacts.setCallPermission(peerId, true);
		await this.callLog.answered(peerId);
	}

	/** "Not now" to a contact's call request: it goes, and they are told calmly. */
	async dismissCallRequest(peerId: string): Promise<void> {
		await this.client.dismissCallRequest(peerId).catch((err: unknown) => {
			// Lapsed, or answered on another device meanwhile: nothing waits, so it goes all the same.
			if (!(err instanceof SdkError && err.code === "not_found")) throw err;
		});
		await this.callLog.answered(peerId);
	}

	/** Keep a call's log line in its conversation (call-log.ts): this device's own record, sent nowhere. */
	recordCall(entry: ChatMessage): Promise<void> {
		return this.callLog.record(entry);
	}

	blockContact(peerId: string): Promise<void> {
		return this.contacts.block(peerId);
	}

	unblockContact(peerId: string): Promise<void> {
		return this.contacts.unblock(peerId);
	}

	reportContact(peerId: string, reason: string, block: boolean): Promise<void> {
		return this.contacts.report(peerId, reason, block);
	}

	refreshContacts(): Promise<void> {
		return this.contacts.refresh();
	}

	contact(peerId: string): Contact | undefined {
		return this.contacts.find(peerId);
	}

	// ------------------------------------------------------------------ safety numbers

	/** Fetch what this device trusts about a contact's identity key again (into `trust`). */
	loadTrust(peerId: string): Promise<void> {
		return this.safetyNumbers.load(peerId);
	}

	/** After comparing safety numbers by eye: mark the contact verified, or not. */
	setVerified(peerId: string, verified: boolean): Promise<void> {
		return this.safetyNumbers.setVerified(peerId, verified);
	}

	/** The text of the contact's scanned safety number code against ours; a match marks them verified. */
	compareSafetyCode(peerId: string, scanned: string): Promise<SafetyComparison> {
		return this.safetyNumbers.compareScanned(peerId, scanned);
	}

	/** The person saw the contact's new safety number: sending works again. */
	acknowledgeIdentityChange(peerId: string): Promise<void> {
		return this.safetyNumbers.acknowledge(peerId);
	}

	// ------------------------------------------------------------------ conversations

	/** Show a conversation (null: none); its messages count as read while the page is visible. */
	open(peerId: string | null): Promise<void> {
		return this.conversations.open(peerId);
	}

	/** Whether this device tells contacts that their messages were seen. */
	setReadReceipts(on: boolean): void {
		this.readReceipts.setEnabled(on);
	}

	/** Called when the page becomes visible again. */
	markReadIfVisible(): Promise<void> {
		return this.conversations.markReadIfVisible();
	}

	/** Messages of every conversation whose text holds `query` (case and accents aside), newest first; searched on this device only. */
	searchMessages(query: string): Promise<ChatMessage[]> {
		return this.conversations.search(query);
	}

	/** Bring this message into view (briefly marked) once its conversation shows it; null once it was. */
	highlight(key: string | null): void {
		this.conversations.highlight(key);
	}

	/** Seal and send a text (a reply to `replyTo`, if given); the message shows at once as `sending`. */
	send(peerId: string, text: string, replyTo?: MessageRef): Promise<void> {
		return this.outgoing.send(peerId, text, replyTo);
	}

	/** Seal, upload and announce a file; it shows at once, with the upload's progress. */
	sendFile(peerId: string, file: File): Promise<void> {
		return this.outgoing.sendFile(peerId, file);
	}

	/** The file of a message still being sent, to preview it. */
	sendingFile(key: string): File | undefined {
		return this.outgoing.sendingFile(key);
	}

	/** Send a failed text again (as a new message) and drop the failed copy. A file cannot be: it was not kept. */
	/** Take back a message waiting for the send window; false once it is on its way. */
	cancelSend(message: ChatMessage): boolean {
		return this.outgoing.cancel(message);
	}

	retry(message: ChatMessage): Promise<void> {
		return this.outgoing.retry(message);
	}

	/** Drop a failed message from the history. */
	discard(message: ChatMessage): Promise<void> {
		return this.outgoing.discard(message);
	}

	/** Replace the text of a message this account sent (it costs the edit price); throws the relay's refusal. */
	editMessage(message: ChatMessage, text: string): Promise<void> {
		return this.changes.edit(message, text);
	}

	/** Delete a message this account sent, for everyone (it costs the delete price). */
	deleteMessage(message: ChatMessage): Promise<void> {
		return this.changes.delete(message);
	}

	/** React to a message with one of the set, or "" to take the reaction back (it costs the reaction price). */
	async react(message: ChatMessage, emoji: ReactionEmoji | ""): Promise<void> {
		const me = this.store.state.me?.accountId;
		if (me !== undefined) await this.changes.react(message, emoji, me);
	}

	/** Remove a message from this device's history only: free, and nobody else's copy changes. */
	deleteForMe(message: ChatMessage): Promise<void> {
		return this.changes.deleteForMe(message);
	}

	/** A file as a Blob, once its size and hash matched, with its progress in `downloads` while it is fetched. */
	openFile(attachment: AttachmentInfo): Promise<Blob> {
		return this.files.open(attachment);
	}

	/** The user is typing to this contact: tell their devices, at most every few seconds. */
	typing(peerId: string): void {
		this.typingIndicator.userTyping(peerId);
	}

	// ------------------------------------------------------------------ devices

	refreshDevices(): Promise<void> {
		return this.devices.refresh();
	}

	/** Show a one-time link code for a new device (a code shown before is withdrawn). */
	showLinkCode(): Promise<void> {
		return this.links.show();
	}

	cancelLinkCode(): Promise<void> {
		return this.links.cancel();
	}

	/** Approve a device that claimed the code shown here; with `history`, this device's history is sent to it. */
	approveDevice(deviceId: string, opts: { history?: boolean } = {}): Promise<void> {
		return this.links.approve(deviceId, opts);
	}

	rejectDevice(deviceId: string): Promise<void> {
		return this.links.reject(deviceId);
	}

	revokeDevice(deviceId: string, opts: { resetIdentity?: boolean } = {}): Promise<void> {
		return this.devices.revoke(deviceId, opts);
	}

	// ------------------------------------------------------------------ history for a new device

	/** A failed history transfer, once more (a fresh archive from the sending end; a new fetch on the new device). */
	retryHistory(transferId: string): Promise<void> {
		return this.historyTransfer.retry(transferId);
	}

	/** Go on without sending, or without receiving, the history; throws the relay's refusal. */
	skipHistory(transferId: string): Promise<void> {
		return this.historyTransfer.skip(transferId);
	}

	/** Put away how a history transfer ended. */
	dismissHistory(transferId: string): void {
		this.historyTransfer.dismiss(transferId);
	}

	// ------------------------------------------------------------------ recovery key and storage

	/** Whether the account has a recovery key, and whether it was confirmed here; and whether the browser keeps this site's data. */
	loadRecovery(): Promise<void> {
		return Promise.all([this.recovery.load(), this.browserStorage.load()]).then(() => {});
	}

	/** Make a (new) recovery key and show its words; an earlier key stops working. */
	makeRecoveryKey(): Promise<void> {
		return this.recovery.setUp();
	}

	/** Show again the words of the key made on this page. */
	showRecoveryKey(): void {
		this.recovery.show();
	}

	/** Put the words away for now; the reminder stays. */
	recoveryKeyLater(): void {
		this.recovery.later();
	}

	/** The words typed back at `positions`: those typed wrong, none when the key now counts as saved. */
	confirmRecoveryKey(positions: readonly number[], answers: readonly string[]): number[] {
		return this.recovery.confirm(positions, answers);
	}

	/** The words the person saved: whether they are the account's recovery key (then it counts as saved here). */
	checkSavedRecoveryKey(words: string): Promise<boolean> {
		return this.recovery.checkSaved(words);
	}

	/** Ask the browser (again) to keep this site's data. */
	keepStorage(): Promise<void> {
		return this.browserStorage.keep();
	}

	// ------------------------------------------------------------------ notices

	notify(text: string, tone: Notice["tone"] = "error"): void {
		this.notices.notify(text, tone);
	}

	dismiss(id: number): void {
		this.notices.dismiss(id);
	}

	/** A failed background call: transient failures show as the connection state, the rest as a notice. */
	report(err: unknown, context: ErrorContext = "general"): void {
		this.notices.report(err, context);
	}

	// ------------------------------------------------------------------ SDK and browser events

	private listen(): void {
		const c = this.client;
		// Once per opening of the account (a start, a registration, a restore): what the reminder
		// needs, and the history transfers this device takes part in.
		let opened = false;
		let waited = false;
		this.store.subscribe(({ phase }) => {
			if (phase === "ready" && !opened) {
				opened = true;
				void this.loadRecovery();
				void this.historyTransfer.opened();
				void this.conversations.loadLast().catch((err) => this.report(err));
			} else if (phase !== "ready") opened = false;
			// Only a device linked by code waits for approval: it is the one to get the history.
			if (phase === "pending" && !waited) {
				waited = true;
				this.historyTransfer.linking();
			}
		});
		if (typeof window !== "undefined") {
			window.addEventListener("offline", () => this.connection.networkLost());
			window.addEventListener("online", () => this.connection.networkBack());
		}
		c.on("ready", () => {
			this.connection.socketReady();
			this.lifecycle.reconnected();
			// A transfer may have moved on while the socket was down, and its frame is gone.
			if (this.store.state.phase === "ready") void this.historyTransfer.load();
			void this.contacts.reconnected().then(async (reloaded) => {
				if (reloaded) await this.safetyNumbers.loadAll();
			});
		});
		c.on("disconnected", () => this.connection.socketLost());
		c.on("reconnecting", () => this.connection.reconnecting());
		c.on("account", (account) => this.account.apply(account));
		c.on("message", (message) => void this.incoming.received(message).catch((err) => this.report(err)));
		c.on("undecryptable", (message) => void this.incoming.unreadable(message).catch((err) => this.report(err)));
		c.on("delivered", ({ ids, deviceId }) => void this.receipts.delivered(ids, deviceId).catch((err) => this.report(err)));
		c.on("read", ({ ids, deviceId }) => void this.receipts.read(ids, deviceId).catch((err) => this.report(err)));
		c.on("typing", ({ peerId }) => this.typingIndicator.peerTyping(peerId));
		c.on("call_request", ({ event, peerId, at }) => {
			if (event === "asked") void this.callLog.asked(peerId, at).catch((err) => this.report(err));
			else if (event === "answered") void this.callLog.answered(peerId).catch((err) => this.report(err));
		});
		c.on("contact", ({ event, contact }) => {
			this.contacts.changed(event, contact);
			if (event === "accepted" && this.store.state.phase === "ready") void this.safetyNumbers.load(contact.accountId);
		});
		c.on("device", ({ event, device }) => {
			if (this.lifecycle.ownDeviceChanged(event, device)) return;
			this.devices.changed(event, device);
			this.links.deviceChanged(event, device);
		});
		c.on("link_request", (request) => this.links.requested(request));
		c.on("history", (change) => this.historyTransfer.changed(change));
		c.on("trust", ({ peerId }) => this.safetyNumbers.changed(peerId));
		c.on("missed", ({ count }) => this.incoming.expired(count));
		c.on("sendWindow", (window) => this.account.sendWindow(window));
		c.on("gaps_filled", ({ peerId, from, ids }) => {
			const outgoing = from === this.store.state.me?.accountId;
			void this.incoming.gapsFilled(peerId, outgoing, ids).catch((err) => this.report(err));
		});
		c.on("safety_number_changed", ({ peerId }) => this.contacts.safetyNumberChanged(peerId));
		c.on("error", (error) => this.lifecycle.failed(error));
	}
}
