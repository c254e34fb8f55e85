import { CryptoError } from "../../common/crypto-error.ts";
import type { AccountStatus, Contact, CreditHistory, DeviceInfo } from "../../common/protocol/wire.ts";
import type { AttachmentInfo } from "../core/message-body.ts";
import { deviceFingerprint } from "../core/safety-number.ts";
import { type IncomingMessage, MessengerClient, type SentReceipt, type UndecryptableMessage } from "../core/sdk.ts";
import { isTransient, SdkError, toSdkError } from "../core/sdk-error.ts";
import { streamToBlob } from "../core/stream-to-blob.ts";
import { mergeContacts } from "./contact-merge.ts";
import { type ErrorContext, errorText } from "./error-text.ts";
import { StartUpCache } from "./features/start-up-cache.ts";
import { plural } from "./format.ts";
import { type ChatMessage, HistoryStore } from "./history-store.ts";
import { IndexedDbKeyStore } from "./indexed-db-key-store.ts";
import { type Connection, initialState, type MessengerState, type Notice, Store } from "./store.ts";
import { xhrUploader } from "./xhr-uploader.ts";

export type { Connection, MessengerState, Notice, Phase } from "./store.ts";

export interface ProfileNames {
	/** IndexedDB database of the device's keys. */
	keys: string;
	/** IndexedDB database of the message history. */
	history: string;
}

const TYPING_SHOWN_MS = 6_000;
const TYPING_SENT_EVERY_MS = 3_000;
const NOTICES_KEPT = 4;
/** News fades on its own; errors stay until dismissed. */
const INFO_SHOWN_MS = 8_000;
/** Deliveries reported before this device learned the message id (the `sent` was still on its way). */
const EARLY_DELIVERIES_KEPT = 500;

/** Set `key`, forgetting the oldest entry past `max`. */
function keepBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
	map.set(key, value);
	if (map.size <= max) return;
	const oldest = map.keys().next().value;
	if (oldest !== undefined) map.delete(oldest);
}

/** Images shown inline; any other type is offered for download only, and saved as plain bytes. */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** What `persist` kept of an incoming message: a new one (`fresh` unless it was kept before), or a change of an earlier one. */
type Persisted = { kind: "message"; record: ChatMessage; fresh: boolean } | { kind: "change"; updated: ChatMessage | null };

/** Blobs of opened files kept in memory (the browser keeps their bytes, mostly out of the JS heap). */
const OPENED_KEPT = 200;
const byTime = (a: ChatMessage, b: ChatMessage): number => a.at - b.at || a.key.localeCompare(b.key);

function randomKey(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(12));
	return `local:${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * The app's model of one device profile: wraps the SDK client, keeps the local history in
 * IndexedDB and turns SDK events into one immutable state object that the views render.
 * The web app and the widget each run one, on their own databases.
 */
export class MessengerController {
	readonly keys: IndexedDbKeyStore;
	readonly history: HistoryStore;
	readonly client: MessengerClient;
	private readonly store = new Store(initialState());
	private readonly cache: StartUpCache;
	private noticeCounter = 0;
	/** Contact list loads under way, and the contacts that events changed meanwhile. */
	private contactLoads = 0;
	private readonly contactsChangedDuringLoad = new Map<string, Contact>();
	private typingSentAt = new Map<string, number>();
	private typingTimer: ReturnType<typeof setTimeout> | null = null;
	private readonly earlyDeliveries = new Map<string, string[]>();
	/**
	 * Edits sent from this device, by id, to the message each replaced. Where the original was
	 * still queued the relay swapped the edit in, so a device acks (and `delivered` names) the
	 * edit's id only. Memory only: receipts are live-only anyway.
	 */
	private readonly editedOriginal = new Map<string, string>();
	/** Relay clock minus this device's clock, estimated from `sent` receipts. */
	private clockOffset = 0;
	/** Files being sent, by the local key of their message, to show them before the relay knows them. */
	private readonly sendingFiles = new Map<string, File>();
	/** Fetches under way, so that two views of one attachment download it once. */
	private readonly opening = new Map<string, Promise<Blob>>();
	/** Incoming messages kept by `persist`, until the `message` event that follows shows them. */
	private readonly persisted = new Map<string, Persisted>();
	/** Whether the relay's socket is open and ready (the browser may still say it is offline). */
	private socketUp = false;
	/** Files opened lately, the same Blob each time, so that an image is not reloaded when its message re-renders. */
	private readonly opened = new Map<string, Blob>();

	constructor(
		private readonly profile: ProfileNames,
		baseUrl = location.origin,
	) {
		this.keys = new IndexedDbKeyStore(profile.keys);
		this.history = new HistoryStore(profile.history);
		this.client = new MessengerClient({
			baseUrl,
			store: this.keys,
			uploader: xhrUploader(),
			persist: (message) => this.persist(message),
		});
		this.cache = new StartUpCache(profile.history, () => localStorage);
		// First among the listeners, so that the list is kept before any view renders it.
		this.cache.followContacts(this.store);
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

	// ------------------------------------------------------------------ start-up and account

	/** Load the identity and history of this profile and connect if there is an account. */
	async start(): Promise<void> {
		this.client.limits().then(
			(limits) => this.update({ limits }),
			() => {},
		);
		const me = await this.client.whoami();
		if (!me) {
			this.update({ phase: "welcome" });
			return;
		}
		await this.history.failUnconfirmed("The relay never confirmed this message. It may not have been sent.");
		this.update({
			me,
			fingerprint: await this.ownFingerprint(),
			unread: await this.history.unreadCounts(),
			contacts: this.cache.contacts(),
		});
		// Known to be approved: show the history at once, even before (or without) a connection.
		if (this.cache.approved()) this.update({ phase: "ready" });
		await this.connectAndSettle();
	}

	async register(handle: string, deviceName: string): Promise<void> {
		const me = await this.client.register(handle, deviceName);
		this.update({ me, fingerprint: await this.ownFingerprint(), phase: "ready" });
		await this.connectAndSettle();
	}

	/** Join an existing account as a new device; it then waits for approval. */
	async join(handle: string, deviceName: string): Promise<void> {
		const me = await this.client.joinAccount(handle, deviceName);
		this.update({ me, fingerprint: await this.ownFingerprint(), phase: "pending" });
		await this.connectAndSettle();
	}

	/** Take the connection back after another tab of this profile took it. */
	async useHere(): Promise<void> {
		this.update({ phase: "loading" });
		await this.connectAndSettle();
	}

	/** Forget this device: it leaves its account if it can, and its keys and history are deleted from this browser. */
	async forgetDevice(): Promise<void> {
		const me = this.store.state.me;
		if (me && this.store.state.phase !== "removed") await this.client.revokeDevice(me.deviceId).catch(() => {});
		await this.erase();
	}

	/**
	 * This device was removed from its account: its keys are of no use any more, and its owner
	 * removes a device they let go of (lost, sold, stolen), so its keys and history go at once.
	 * (An `unauthorized` alone does not erase: a misconfigured server must not wipe devices.)
	 */
	private onRemoved(): void {
		this.update({ phase: "removed", connection: "offline" });
		this.erase().catch(() => this.notify("This browser did not let the app delete this device's data. Please clear it yourself."));
	}

	private async erase(): Promise<void> {
		this.client.close();
		this.cache.forget();
		await Promise.all([this.keys.destroy(), this.history.destroy()]);
	}

	/** Connect, then find out whether this device is approved yet (a pending device may connect, nothing more). */
	private async connectAndSettle(): Promise<void> {
		this.update({ connection: "connecting" });
		try {
			await this.client.connect();
		} catch (err) {
			this.onFatal(toSdkError(err));
			return;
		}
		await this.settlePhase();
	}

	private async settlePhase(): Promise<void> {
		try {
			const contacts = await this.loadContacts();
			this.cache.setApproved(true);
			this.update({ phase: "ready", contacts });
			void this.refreshAccount();
			void this.refreshDevices();
			if (this.store.state.activePeer) void this.loadConversation(this.store.state.activePeer);
		} catch (err) {
			const error = toSdkError(err);
			if (error.code === "device_pending") this.update({ phase: "pending" });
			else if (error.code === "device_revoked") this.onRemoved();
			else if (error.code === "unauthorized") this.update({ phase: "removed" });
			else this.notify(errorText(error));
		}
	}

	private async ownFingerprint(): Promise<string | null> {
		const identity = await this.keys.getIdentity();
		return identity && deviceFingerprint(identity.publicKey);
	}

	async refreshAccount(): Promise<void> {
		try {
			this.applyAccount(await this.client.accountStatus());
		} catch (err) {
			this.report(err);
		}
	}

	private applyAccount(account: AccountStatus): void {
		const nextSendAt = account.nextSendAt === undefined ? null : account.nextSendAt - this.clockOffset;
		this.update({ account, nextSendAt: nextSendAt !== null && nextSendAt > Date.now() ? nextSendAt : null });
	}

	creditHistory(): Promise<CreditHistory> {
		return this.client.creditHistory();
	}

	// ------------------------------------------------------------------ contacts

	async requestContact(handle: string): Promise<Contact> {
		const contact = await this.client.requestContact(handle);
		this.putContact(contact);
		return contact;
	}

	async acceptContact(peerId: string): Promise<void> {
		this.putContact(await this.client.acceptContact(peerId));
	}

	async declineContact(peerId: string): Promise<void> {
		this.putContact(await this.client.declineContact(peerId));
	}

	/** Take calls from this contact or not (the contact can call only while it is on). */
	async setCallPermission(peerId: string, allow: boolean): Promise<void> {
		this.putContact(await this.client.setCallPermission(peerId, allow));
	}

	async blockContact(peerId: string): Promise<void> {
		this.putContact(await this.client.blockContact(peerId));
	}

	async reportContact(peerId: string, reason: string, block: boolean): Promise<void> {
		await this.client.report(peerId, reason, block);
		if (block) await this.refreshContacts();
	}

	safetyNumber(peerId: string): Promise<string> {
		return this.client.safetyNumber(peerId);
	}

	async refreshContacts(): Promise<void> {
		try {
			this.update({ contacts: await this.loadContacts() });
		} catch (err) {
			this.report(err);
		}
	}

	contact(peerId: string): Contact | undefined {
		return this.store.state.contacts.find((c) => c.accountId === peerId);
	}

	/** The relay's contact list, with what `contact` events changed while it loaded (see mergeContacts). */
	private async loadContacts(): Promise<Contact[]> {
		this.contactLoads++;
		try {
			return mergeContacts(await this.client.contacts(), this.contactsChangedDuringLoad.values());
		} finally {
			if (--this.contactLoads === 0) this.contactsChangedDuringLoad.clear();
		}
	}

	private putContact(contact: Contact): void {
		if (this.contactLoads > 0) this.contactsChangedDuringLoad.set(contact.accountId, contact);
		const others = this.store.state.contacts.filter((c) => c.accountId !== contact.accountId);
		this.update({ contacts: [...others, contact] });
	}

	// ------------------------------------------------------------------ conversations

	/** Show a conversation (null: none); its messages count as read while the page is visible. */
	async open(peerId: string | null): Promise<void> {
		this.update({ activePeer: peerId });
		if (peerId === null) return;
		await this.loadConversation(peerId);
		await this.markReadIfVisible();
	}

	private async loadConversation(peerId: string): Promise<void> {
		const messages = await this.history.conversation(peerId);
		this.update({ conversations: { ...this.store.state.conversations, [peerId]: messages } });
	}

	/** Called when the page becomes visible again. */
	async markReadIfVisible(): Promise<void> {
		const peerId = this.store.state.activePeer;
		if (peerId === null || document.visibilityState !== "visible" || !this.store.state.unread[peerId]) return;
		await this.history.markRead(peerId);
		const { [peerId]: _, ...unread } = this.store.state.unread;
		const messages = (this.store.state.conversations[peerId] ?? []).map(({ unread: __, ...m }) => m);
		this.update({ unread, conversations: { ...this.store.state.conversations, [peerId]: messages } });
	}

	/** Seal and send a text; the message shows at once as `sending`. */
	send(peerId: string, text: string): Promise<void> {
		const local: ChatMessage = { key: randomKey(), peerId, outgoing: true, text, at: Date.now(), state: "sending", pending: 1 };
		return this.sendAs(local, () => this.client.sendText(peerId, text));
	}

	/** Seal, upload and announce a file; it shows at once, with the upload's progress. */
	sendFile(peerId: string, file: File): Promise<void> {
		const local: ChatMessage = {
			key: randomKey(),
			peerId,
			outgoing: true,
			text: "",
			file: { name: file.name, size: file.size, type: file.type },
			at: Date.now(),
			state: "sending",
			pending: 1,
		};
		let shown = -1;
		const onProgress = (done: number, total: number) => {
			const share = total > 0 ? done / total : 1;
			// A re-render per percent, not per chunk.
			if (Math.floor(share * 100) === shown) return;
			shown = Math.floor(share * 100);
			this.update({ progress: { ...this.store.state.progress, [local.key]: share } });
		};
		this.sendingFiles.set(local.key, file);
		return this.sendAs(local, async () => {
			try {
				const receipt = await this.client.sendFile(
					peerId,
					{ stream: () => file.stream(), size: file.size, name: file.name, type: file.type },
					{ onProgress },
				);
				// Kept here: the relay deletes the blob once the recipient's devices have it.
				await this.history.putFile(receipt.attachment.id, file).catch(() => {});
				return receipt;
			} finally {
				this.sendingFiles.delete(local.key);
			}
		});
	}

	/** The file of a message still being sent, to preview it. */
	sendingFile(key: string): File | undefined {
		return this.sendingFiles.get(key);
	}

	/** Show a send at once as `sending`, then as the relay answered. */
	private async sendAs(local: ChatMessage, send: () => Promise<SentReceipt & { attachment?: AttachmentInfo }>): Promise<void> {
		await this.history.put(local);
		this.upsertMessage(local);
		this.typingSentAt.delete(local.peerId);
		try {
			const receipt = await send();
			this.clockOffset = receipt.acceptedAt - Date.now();
			const early = this.earlyDeliveries.get(receipt.id);
			this.earlyDeliveries.delete(receipt.id);
			const { pending: _, file: __, ...rest } = local;
			const sent: ChatMessage = {
				...rest,
				key: receipt.id,
				id: receipt.id,
				at: receipt.acceptedAt,
				state: early ? "delivered" : "sent",
				...(early && { deliveredTo: early }),
				...(receipt.attachment && { attachment: receipt.attachment }),
			};
			await this.history.replace(local.key, sent);
			this.upsertMessage(sent, local.key);
			// Deliveries that came while the confirmed message was being stored.
			const late = this.earlyDeliveries.get(receipt.id);
			this.earlyDeliveries.delete(receipt.id);
			for (const deviceId of late ?? []) await this.onDelivered([receipt.id], deviceId);
			this.applyReceipt(receipt);
		} catch (err) {
			const error = toSdkError(err);
			if (error.code === "rate_limited" && error.retryAfter !== undefined) this.update({ nextSendAt: Date.now() + error.retryAfter });
			const { pending: _, ...rest } = local;
			const failed: ChatMessage = { ...rest, state: "failed", error: errorText(err, "send") };
			await this.history.put(failed);
			this.upsertMessage(failed);
			if (error.code === "quota_exceeded" || error.code === "insufficient_credits" || error.code === "suspended")
				void this.refreshAccount();
		} finally {
			const { [local.key]: _, ...progress } = this.store.state.progress;
			this.update({ progress });
		}
	}

	private applyReceipt(receipt: SentReceipt): void {
		if (this.store.state.account) {
			const { credits, quotaLeft } = receipt;
			this.update({
				account: {
					...this.store.state.account,
					...(credits !== undefined && { credits }),
					...(quotaLeft !== undefined && { quotaLeft }),
				},
			});
		}
		void this.refreshAccount();
	}

	/** Send a failed text again (as a new message) and drop the failed copy. A file cannot be: it was not kept. */
	async retry(message: ChatMessage): Promise<void> {
		await this.discard(message);
		if (!message.file) await this.send(message.peerId, message.text);
	}

	/** Drop a failed message from the history. */
	async discard(message: ChatMessage): Promise<void> {
		await this.history.delete(message.key);
		this.removeMessage(message.peerId, message.key);
	}

	/** Replace the text of a message this account sent (it costs the edit price); throws the relay's refusal. */
	async editMessage(message: ChatMessage, text: string): Promise<void> {
		if (!message.id) return;
		const receipt = await this.client.editMessage(message.peerId, message.id, text);
		const updated: ChatMessage = { ...message, text, edited: true };
		await this.history.put(updated);
		this.upsertMessage(updated);
		this.applyReceipt(receipt);
		keepBounded(this.editedOriginal, receipt.id, message.id, EARLY_DELIVERIES_KEPT);
		// Acked before its `sent` came back: the receipt waited under the edit's id.
		const early = this.earlyDeliveries.get(receipt.id);
		this.earlyDeliveries.delete(receipt.id);
		for (const deviceId of early ?? []) await this.onDelivered([message.id], deviceId);
	}

	/** Delete a message this account sent, for everyone (it costs the delete price). */
	async deleteMessage(message: ChatMessage): Promise<void> {
		if (!message.id) return;
		const receipt = await this.client.deleteMessage(message.peerId, message.id);
		await this.markDeleted(message);
		this.applyReceipt(receipt);
	}

	private async markDeleted(message: ChatMessage): Promise<void> {
		this.upsertMessage(await this.storeDeleted(message));
	}

	/** A message deleted for everyone keeps its place, without its text or file (also the copy of the file kept here). */
	private async storeDeleted(message: ChatMessage): Promise<ChatMessage> {
		const { attachment: _, edited: __, ...rest } = message;
		const deleted: ChatMessage = { ...rest, text: "", deleted: true };
		await this.history.put(deleted);
		if (message.attachment) {
			this.opened.delete(message.attachment.id);
			await this.history.deleteFile(message.attachment.id).catch(() => {});
		}
		return deleted;
	}

	/**
	 * A file as a Blob, once its size and hash matched: from this browser if it was opened (or
	 * sent) here before, else fetched and opened, with its progress in `downloads`. The relay
	 * deletes the blob once every recipient device fetched it, so the plaintext is kept here.
	 */
	openFile(attachment: AttachmentInfo): Promise<Blob> {
		const known = this.opened.get(attachment.id);
		if (known) return Promise.resolve(known);
		let opening = this.opening.get(attachment.id);
		if (!opening) {
			opening = this.fetchFile(attachment)
				.then((file) => {
					this.opened.set(attachment.id, file);
					if (this.opened.size > OPENED_KEPT) this.opened.delete(this.opened.keys().next().value ?? "");
					return file;
				})
				.finally(() => this.opening.delete(attachment.id));
			this.opening.set(attachment.id, opening);
		}
		return opening;
	}

	private async fetchFile(attachment: AttachmentInfo): Promise<Blob> {
		// The sender chose the type: only the inline image types are taken from it.
		const type = INLINE_IMAGE_TYPES.has(attachment.type) ? attachment.type : "application/octet-stream";
		const kept = await this.history.file(attachment.id).catch(() => undefined);
		if (kept) return kept.type === type ? kept : new Blob([kept], { type });
		const setProgress = (share: number) => this.update({ downloads: { ...this.store.state.downloads, [attachment.id]: share } });
		setProgress(0);
		let shown = 0;
		try {
			const { stream, digest } = await this.client.downloadFile(attachment);
			// Observed now: when the stream fails, the digest fails too, and is awaited only after it.
			digest.catch(() => {});
			let blob: Blob;
			try {
				blob = await streamToBlob(stream, (received) => {
					const percent = attachment.size > 0 ? Math.floor((received / attachment.size) * 100) : 100;
					if (percent !== shown) {
						shown = percent;
						setProgress(percent / 100);
					}
				});
				await digest;
			} catch (err) {
				if (err instanceof CryptoError) throw new SdkError("undecryptable", err.message, { cause: err });
				throw err;
			}
			const file = new Blob([blob], { type });
			// Storage may be full: the file is still shown this time.
			await this.history.putFile(attachment.id, file).catch(() => {});
			return file;
		} finally {
			const { [attachment.id]: _, ...downloads } = this.store.state.downloads;
			this.update({ downloads });
		}
	}
	/** The user is typing to this contact: tell their devices, at most every few seconds. */
	typing(peerId: string): void {
		const last = this.typingSentAt.get(peerId) ?? 0;
		if (Date.now() - last < TYPING_SENT_EVERY_MS) return;
		this.typingSentAt.set(peerId, Date.now());
		try {
			this.client.sendTyping(peerId);
		} catch {
			// Best effort: a typing notice that does not go out is not worth a message.
		}
	}

	// ------------------------------------------------------------------ devices

	async refreshDevices(): Promise<void> {
		try {
			this.update({ devices: await this.client.devices() });
		} catch (err) {
			this.report(err);
		}
	}

	async approveDevice(deviceId: string): Promise<void> {
		await this.client.approveDevice(deviceId);
		await this.refreshDevices();
	}

	async rejectDevice(deviceId: string): Promise<void> {
		await this.client.rejectDevice(deviceId);
		await this.refreshDevices();
	}

	async revokeDevice(deviceId: string): Promise<void> {
		await this.client.revokeDevice(deviceId);
		await this.refreshDevices();
	}

	// ------------------------------------------------------------------ notices

	notify(text: string, tone: Notice["tone"] = "error"): void {
		if (this.store.state.notices.some((n) => n.text === text)) return;
		const notice = { id: ++this.noticeCounter, tone, text };
		this.update({ notices: [...this.store.state.notices, notice].slice(-NOTICES_KEPT) });
		if (tone === "info") setTimeout(() => this.dismiss(notice.id), INFO_SHOWN_MS);
	}

	dismiss(id: number): void {
		this.update({ notices: this.store.state.notices.filter((n) => n.id !== id) });
	}

	/** A failed background call: transient failures show as the connection state, the rest as a notice. */
	report(err: unknown, context: ErrorContext = "general"): void {
		const error = toSdkError(err);
		if (error.code === "device_pending" && this.store.state.phase === "pending") return;
		if (isTransient(error)) return;
		this.notify(errorText(error, context));
	}

	// ------------------------------------------------------------------ SDK events

	private listen(): void {
		const c = this.client;
		// The browser knows the network is gone before a socket does (it may take a heartbeat or two).
		if (typeof window !== "undefined") {
			window.addEventListener("offline", () => this.update({ connection: "offline" }));
			window.addEventListener("online", () => {
				if (this.store.state.connection === "offline" && this.store.state.phase === "ready")
					this.update({ connection: this.socketUp ? "online" : "connecting" });
				// The network is back: catch up now, not when the backoff's timer (up to 30 s) fires.
				c.reconnectNow();
			});
		}
		c.on("ready", () => {
			this.socketUp = true;
			this.update({ connection: "online" });
			// Contacts may have changed while this device was offline; the first connect loads them itself.
			if (this.store.state.phase === "ready") void this.refreshContacts();
		});
		c.on("disconnected", () => {
			this.socketUp = false;
			this.update({ connection: this.offlineOr("connecting") });
		});
		c.on("reconnecting", () => this.update({ connection: this.offlineOr("connecting") }));
		c.on("account", (account) => this.applyAccount(account));
		c.on("message", (message) => void this.onMessage(message).catch((err) => this.report(err)));
		c.on("undecryptable", (message) => void this.onUndecryptable(message).catch((err) => this.report(err)));
		c.on("delivered", ({ ids, deviceId }) => void this.onDelivered(ids, deviceId).catch((err) => this.report(err)));
		c.on("typing", ({ peerId }) => this.onTyping(peerId));
		c.on("contact", ({ event, contact }) => this.onContact(event, contact));
		c.on("device", ({ event, device }) => this.onDevice(event, device));
		c.on("missed", ({ count }) =>
			this.notify(`${plural(count, "message")} expired on the relay before this device could fetch them.`, "info"),
		);
		c.on("safety_number_changed", ({ peerId }) => {
			const who = peerId === null ? "all your contacts" : `@${this.contact(peerId)?.handle ?? "a contact"}`;
			this.notify(`The safety number with ${who} changed because a device was added or removed.`, "info");
		});
		c.on("error", (error) => this.onError(error));
	}

	/**
	 * Keep an incoming message in the history before the SDK acks it (its `persist` option):
	 * if the page dies first, the relay still holds it and delivers it again. What was kept
	 * waits in `persisted` for the `message` event that follows, which shows it.
	 */
	private async persist(message: IncomingMessage): Promise<void> {
		// The relay puts an edit in place of its original while that is still queued, so an edit
		// of a message this device never had is the message itself, already edited.
		const standsIn = message.kind === "edit" && message.replaces !== undefined && !(await this.history.has(message.replaces));
		if ((message.kind === "edit" && !standsIn) || message.kind === "delete") {
			this.persisted.set(message.id, { kind: "change", updated: await this.storeChange(message) });
			return;
		}
		const id = standsIn ? (message.replaces as string) : message.id;
		// Delivered again after a crash between keeping and acking: keep what the user did with it since.
		const fresh = standsIn || !(await this.history.has(id));
		const visible = typeof document === "undefined" || document.visibilityState === "visible";
		const read = message.outgoing || (this.store.state.activePeer === message.peerId && visible);
		const early = message.outgoing ? this.earlyDeliveries.get(message.id) : undefined;
		const record: ChatMessage = {
			key: id,
			id,
			peerId: message.peerId,
			outgoing: message.outgoing,
			text: message.text,
			at: message.receivedAt,
			state: message.outgoing ? (early ? "delivered" : "sent") : "received",
			...(early && { deliveredTo: early }),
			...(message.attachment && { attachment: message.attachment }),
			...(standsIn && { edited: true as const }),
			...(!read && { unread: 1 as const }),
		};
		if (fresh) await this.history.put(record);
		this.persisted.set(message.id, { kind: "message", record, fresh });
	}

	/** A message the SDK has kept (through `persist`) and acked: show it. */
	private async onMessage(message: IncomingMessage): Promise<void> {
		if (!this.persisted.has(message.id)) await this.persist(message);
		const kept = this.persisted.get(message.id);
		this.persisted.delete(message.id);
		if (!kept) return;
		if (kept.kind === "change") {
			if (kept.updated) this.upsertMessage(kept.updated);
			return;
		}
		if (!message.outgoing) {
			const { [message.peerId]: _, ...typing } = this.store.state.typing;
			this.update({ typing });
		}
		if (!kept.fresh) return;
		if (kept.record.unread) {
			this.update({ unread: { ...this.store.state.unread, [message.peerId]: (this.store.state.unread[message.peerId] ?? 0) + 1 } });
		}
		this.upsertMessage(kept.record);
	}

	/** An edit or delete of an earlier message, by its sender (from any of their devices): the changed message, once stored. */
	private async storeChange(message: IncomingMessage): Promise<ChatMessage | null> {
		if (message.replaces === undefined) return null;
		const target = await this.history.byId(message.replaces);
		// Only the sender may change a message: ours from our devices, theirs from theirs.
		if (!target || target.peerId !== message.peerId || target.outgoing !== message.outgoing || target.deleted) return null;
		if (message.kind === "delete") return this.storeDeleted(target);
		const updated: ChatMessage = { ...target, text: message.text, edited: true };
		await this.history.put(updated);
		return updated;
	}

	private async onUndecryptable(message: UndecryptableMessage): Promise<void> {
		const record: ChatMessage = {
			key: message.id,
			id: message.id,
			peerId: message.peerId,
			outgoing: message.from === this.store.state.me?.accountId,
			text: "",
			at: message.receivedAt,
			state: "unreadable",
		};
		await this.history.put(record);
		this.upsertMessage(record);
	}

	private async onDelivered(received: string[], deviceId: string): Promise<void> {
		const ids = received.map((id) => this.editedOriginal.get(id) ?? id);
		const changed = await this.history.markDelivered(ids, deviceId);
		for (const message of changed) this.upsertMessage(message);
		const known = new Set(changed.map((m) => m.id));
		for (const id of ids) {
			if (known.has(id)) continue;
			if (await this.history.has(id)) {
				// Stored just now (a send the relay confirmed meanwhile), or already marked.
				for (const message of await this.history.markDelivered([id], deviceId)) this.upsertMessage(message);
				continue;
			}
			keepBounded(this.earlyDeliveries, id, [...(this.earlyDeliveries.get(id) ?? []), deviceId], EARLY_DELIVERIES_KEPT);
		}
	}

	private onTyping(peerId: string): void {
		this.update({ typing: { ...this.store.state.typing, [peerId]: Date.now() + TYPING_SHOWN_MS } });
		if (this.typingTimer !== null) clearTimeout(this.typingTimer);
		this.typingTimer = setTimeout(() => this.expireTyping(), TYPING_SHOWN_MS + 50);
	}

	private expireTyping(): void {
		this.typingTimer = null;
		const now = Date.now();
		const typing = Object.fromEntries(Object.entries(this.store.state.typing).filter(([, until]) => until > now));
		this.update({ typing });
		const next = Math.min(...Object.values(typing));
		if (Number.isFinite(next)) this.typingTimer = setTimeout(() => this.expireTyping(), next - now + 50);
	}

	private onContact(event: string, contact: Contact): void {
		this.putContact(contact);
		if (event === "requested" && contact.state === "incoming") this.notify(`@${contact.handle} asks to be your contact.`, "info");
		if (event === "accepted") this.notify(`You and @${contact.handle} are now contacts.`, "info");
		if (event === "declined" && contact.state === "declined") this.notify(`@${contact.handle} declined your contact request.`, "info");
	}

	private onDevice(event: "pending" | "approved" | "revoked", device: DeviceInfo): void {
		const mine = device.deviceId === this.store.state.me?.deviceId;
		if (mine && event === "approved" && this.store.state.phase === "pending") {
			void this.settlePhase();
			return;
		}
		if (mine && event === "revoked") {
			this.onRemoved();
			return;
		}
		if (this.store.state.phase !== "ready") return;
		const others = (this.store.state.devices ?? []).filter((d) => d.deviceId !== device.deviceId);
		this.update({ devices: [...others, device] });
		if (event === "pending") this.notify(`A new device, “${device.name}”, asks to join your account. Review it under Devices.`, "info");
	}

	/** "offline" while the browser says there is no network, else `state`. */
	private offlineOr(state: Connection): Connection {
		return typeof navigator !== "undefined" && navigator.onLine === false ? "offline" : state;
	}

	private onError(error: SdkError): void {
		if (error.code === "device_revoked") {
			this.onRemoved();
			return;
		}
		if (error.code === "closed") {
			this.update({ phase: this.store.state.phase === "removed" ? "removed" : "replaced", connection: "offline" });
			return;
		}
		this.report(error);
	}

	private onFatal(error: SdkError): void {
		this.update({ connection: "offline" });
		if (error.code === "closed") this.update({ phase: "replaced" });
		else if (error.code === "device_revoked") this.onRemoved();
		else if (error.code === "unauthorized") this.update({ phase: "removed" });
		else if (error.code === "device_pending") this.update({ phase: "pending" });
		else this.notify(errorText(error));
	}

	// ------------------------------------------------------------------ state

	private upsertMessage(message: ChatMessage, replacing?: string): void {
		const list = this.store.state.conversations[message.peerId];
		if (!list) return;
		const rest = list.filter((m) => m.key !== message.key && m.key !== replacing);
		this.update({ conversations: { ...this.store.state.conversations, [message.peerId]: [...rest, message].sort(byTime) } });
	}

	private removeMessage(peerId: string, key: string): void {
		const list = this.store.state.conversations[peerId];
		if (!list) return;
		this.update({ conversations: { ...this.store.state.conversations, [peerId]: list.filter((m) => m.key !== key) } });
	}

	private update(patch: Partial<MessengerState>): void {
		this.store.update(patch);
	}

	get names(): ProfileNames {
		return this.profile;
	}
}
