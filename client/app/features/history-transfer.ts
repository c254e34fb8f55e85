import type { HistoryState } from "../../../common/protocol/wire.ts";
import type { HistoryTransferInfo, MessengerClient } from "../../core/sdk.ts";
import { toSdkError } from "../../core/sdk-error.ts";
import { errorText } from "../error-text.ts";
import { buildHistoryArchive, MAX_SEALED_ARCHIVE_BYTES, readHistoryArchive } from "../history-archive.ts";
import type { MessageHistory } from "../message-history.ts";
import type { HistoryPhase, HistoryTransferState, MessengerStore } from "../store.ts";
import type { Contacts } from "./contacts.ts";
import type { Conversations } from "./conversations.ts";
import type { Notices } from "./notices.ts";
import { perPercent } from "./outgoing-messages.ts";
import type { KeyValueStorage } from "./start-up-cache.ts";

export type HistoryClient = Pick<MessengerClient, "historyTransfers" | "sendHistory" | "receiveHistory" | "endHistory">;

/** The phases after which nothing more happens to a transfer. */
const FINISHED: ReadonlySet<HistoryPhase> = new Set(["imported", "skipped", "expired", "ended"]);
/** The phases in which this device is working on a transfer itself: what the relay lists must not overwrite them. */
const WORKING: ReadonlySet<HistoryPhase> = new Set(["preparing", "sending", "receiving", "importing"]);

export const isFinished = (transfer: HistoryTransferState): boolean => FINISHED.has(transfer.phase);

/** A sending transfer listed by the relay that this page did not offer (or no longer holds the key of). */
export const KEY_LOST =
	"This page was reloaded since it approved the device, so it no longer holds the key to send the history with. Skip it; the new device works without it.";

/**
 * What this browser remembers, per device, about the history a newly linked device was to get:
 * `awaiting` from the moment it waits for approval, `missing` once it is clear it came without
 * (approved without a transfer, or one skipped or expired), `complete` once imported. A device
 * never linked by code (a new account, a restore) has no mark: its empty chats are just empty.
 */
export type HistoryMark = "awaiting" | "missing" | "complete";

const MARKS: ReadonlySet<string> = new Set<HistoryMark>(["awaiting", "missing", "complete"]);

/** Reached inside a try each time, as StartUpCache does: where a browser blocks storage, touching it throws. */
export class HistoryMarks {
	constructor(
		private readonly prefix: string,
		private readonly storage: () => KeyValueStorage,
	) {}

	get(deviceId: string): HistoryMark | null {
		try {
			const mark = this.storage().getItem(this.key(deviceId));
			return mark !== null && MARKS.has(mark) ? (mark as HistoryMark) : null;
		} catch {
			return null;
		}
	}

	set(deviceId: string, mark: HistoryMark): void {
		try {
			this.storage().setItem(this.key(deviceId), mark);
		} catch {
			// Storage may be disabled: the empty chats then say nothing special after a reload.
		}
	}

	private key(deviceId: string): string {
		return `${this.prefix}:history:${deviceId}`;
	}
}

/**
 * The state this device shows for a transfer the relay lists, or null when the listing changes
 * nothing: a transfer this device is working on, or has seen end or fail, stays as it is (a
 * failure waits for the person to retry or skip; a new upload after it comes as an event).
 */
export function listedState(listed: HistoryTransferInfo, known: HistoryTransferState | undefined): HistoryTransferState | null {
	if (known && (WORKING.has(known.phase) || FINISHED.has(known.phase) || known.phase === "failed")) return null;
	const base = { transferId: listed.transferId, role: listed.role, peerDevice: listed.peerDevice };
	if (listed.role === "receiving")
		return { ...base, ...(listed.state === "uploaded" ? { phase: "receiving", share: 0 } : { phase: "waiting" }) };
	if (listed.state === "uploaded") return known?.phase === "uploaded" ? null : { ...base, phase: "uploaded" };
	// Offered, and the archive is still to be sent: only the page that approved holds its key.
	if (listed.canSend) return null;
	return { ...base, phase: "failed", error: KEY_LOST, canRetry: false };
}

/**
 * History for a newly linked device, both ends. The approving device builds an archive of its
 * history (history-archive.ts) and the SDK seals and uploads it under the one-time key that
 * travelled in the approval; the new device downloads, opens and imports it, keeping what it
 * received itself meanwhile. Either may skip; a failed step can be tried again. The new device
 * remembers when it was linked without the history, so that its empty chats say where the
 * earlier messages are.
 */
export class HistoryTransfer {
	/** Transfers this device is receiving right now, so that an event and a listing do not fetch one twice. */
	private readonly receiving = new Set<string>();
	/** A listing under way, and whether another was asked for meanwhile (its answer may predate what prompted it). */
	private loading: Promise<void> | null = null;
	private loadAgain = false;

	constructor(
		private readonly store: MessengerStore,
		private readonly client: HistoryClient,
		private readonly history: Pick<MessageHistory, "allMessages" | "file" | "importHistory">,
		private readonly marks: HistoryMarks,
		private readonly notices: Notices,
		private readonly contacts: Pick<Contacts, "refresh">,
		private readonly conversations: Pick<Conversations, "load" | "loadLast">,
		private readonly maxSealedBytes = MAX_SEALED_ARCHIVE_BYTES,
	) {}

	/** This device waits for approval: it was linked by code, so it is to get the account's history (or to say it has none). */
	linking(): void {
		const deviceId = this.store.state.me?.deviceId;
		if (deviceId && this.marks.get(deviceId) === null) this.marks.set(deviceId, "awaiting");
	}

	/** The account opened on this device: what its empty chats say, and the transfers it takes part in. */
	opened(): Promise<void> {
		const deviceId = this.store.state.me?.deviceId;
		this.store.update({ historyMissing: deviceId !== undefined && this.marks.get(deviceId) === "missing" });
		return this.load();
	}

	/** Ask the relay which transfers this device sends or receives, and take up each. */
	load(): Promise<void> {
		if (this.loading) {
			this.loadAgain = true;
			return this.loading;
		}
		const loading = (async () => {
			try {
				do {
					this.loadAgain = false;
					await this.loadOnce();
				} while (this.loadAgain);
			} finally {
				this.loading = null;
			}
		})();
		this.loading = loading;
		return loading;
	}

	/** This device approved another with a transfer: build and send the archive at once. */
	offered(transferId: string, deviceId: string): void {
		this.put({ transferId, role: "sending", peerDevice: deviceId, phase: "preparing" });
		void this.send(transferId);
	}

	/** A failed transfer, once more: a fresh archive sent, or the archive fetched again. */
	async retry(transferId: string): Promise<void> {
		const transfer = this.find(transferId);
		if (!transfer || transfer.phase !== "failed" || transfer.canRetry === false) return;
		if (transfer.role === "sending") return this.send(transferId);
		this.patch(transferId, { phase: "receiving", share: 0, error: undefined });
		return this.receive(transferId);
	}

	/** Give up on a transfer, from either end: the relay deletes the archive. Throws the relay's refusal. */
	async skip(transferId: string): Promise<void> {
		const transfer = this.find(transferId);
		if (!transfer || isFinished(transfer)) return;
		try {
			await this.client.endHistory(transferId, "skipped");
		} catch (err) {
			// Gone already (ended from the other side, or expired): there is nothing left to skip.
			if (toSdkError(err).code !== "not_found") throw err;
		}
		this.finish(transferId, "skipped");
	}

	/** The person read how a transfer ended: it leaves the screen. */
	dismiss(transferId: string): void {
		const transfer = this.find(transferId);
		if (transfer && isFinished(transfer)) {
			this.store.update({ historyTransfers: this.store.state.historyTransfers.filter((t) => t.transferId !== transferId) });
		}
	}

	/** A `history` event: a transfer of this device changed state on the relay. */
	changed({ transferId, state }: { transferId: string; state: HistoryState; size?: number }): void {
		const transfer = this.find(transferId);
		if (!transfer) {
			// Not known here yet (uploaded before this page listed it, or ended while this new device
			// had not looked): the listing says what it is. An offer this page made is known already.
			const deviceId = this.store.state.me?.deviceId;
			const awaiting = deviceId !== undefined && this.marks.get(deviceId) === "awaiting";
			if (this.store.state.phase === "ready" && (state === "uploaded" || awaiting)) void this.load();
			return;
		}
		if (isFinished(transfer)) return;
		switch (state) {
			case "offered":
				return;
			case "uploaded":
				if (transfer.role === "sending") {
					this.patch(transferId, { phase: "uploaded", share: undefined, error: undefined });
				} else if (transfer.phase === "waiting" || transfer.phase === "failed") {
					this.patch(transferId, { phase: "receiving", share: 0, error: undefined });
					void this.receive(transferId);
				}
				return;
			case "imported":
				// On the new device, its own import said so already.
				if (transfer.role === "sending") this.finish(transferId, "imported");
				return;
			default:
				this.finish(transferId, state);
		}
	}

	private async loadOnce(): Promise<void> {
		const deviceId = this.store.state.me?.deviceId;
		if (!deviceId) return;
		let listed: HistoryTransferInfo[];
		try {
			listed = await this.client.historyTransfers();
		} catch (err) {
			this.notices.report(err);
			return;
		}
		const live = new Set(listed.map((t) => t.transferId));
		for (const transfer of listed) {
			const next = listedState(transfer, this.find(transfer.transferId));
			if (!next) continue;
			this.put(next);
			if (next.phase === "receiving") void this.receive(next.transferId);
		}
		// Ended while this device was not listening: the frame that said how is gone.
		for (const transfer of this.store.state.historyTransfers) {
			if (!live.has(transfer.transferId) && !isFinished(transfer) && !WORKING.has(transfer.phase))
				this.finish(transfer.transferId, "ended");
		}
		if (this.marks.get(deviceId) === "awaiting" && !listed.some((t) => t.role === "receiving")) this.missing();
	}

	/** Build the archive of this device's history and send it; a failure is shown, to retry or skip. */
	private async send(transferId: string): Promise<void> {
		this.patch(transferId, { phase: "preparing", share: undefined, error: undefined });
		try {
			const me = this.store.state.me;
			if (!me) throw new Error("no account is open");
			const { archive } = await buildHistoryArchive({
				accountId: me.accountId,
				fromDevice: me.deviceId,
				createdAt: Date.now(),
				messages: await this.history.allMessages(),
				// A file the browser no longer gives out is left out: its message keeps the key to fetch it.
				file: (attachmentId) => this.history.file(attachmentId).catch(() => undefined),
				// The relay's own cap when it has said it, so an operator's lower one is met, not refused.
				maxSealedBytes: this.store.state.limits?.historyArchiveMaxBytes ?? this.maxSealedBytes,
			});
			if (this.find(transferId)?.phase !== "preparing") return;
			this.patch(transferId, { phase: "sending", share: 0 });
			await this.client.sendHistory(transferId, archive, {
				onProgress: perPercent((share) => {
					if (this.find(transferId)?.phase === "sending") this.patch(transferId, { share });
				}),
			});
			// The `uploaded` event (or even `imported`) may have come first.
			if (this.find(transferId)?.phase === "sending") this.patch(transferId, { phase: "uploaded", share: undefined });
		} catch (err) {
			const transfer = this.find(transferId);
			if (!transfer || isFinished(transfer) || transfer.phase === "uploaded") return;
			const ended = toSdkError(err).code === "not_found";
			this.patch(transferId, { phase: "failed", share: undefined, error: errorText(err, "history"), canRetry: !ended });
		}
	}

	/**
	 * Fetch, open and read the archive, import it (what this device holds already stays), then
	 * tell the relay, which deletes it. The conversations and contacts shown are read again.
	 */
	private async receive(transferId: string): Promise<void> {
		if (this.receiving.has(transferId)) return;
		this.receiving.add(transferId);
		let imported = false;
		try {
			const me = this.store.state.me;
			if (!me) throw new Error("no account is open");
			const plain = await this.client.receiveHistory(transferId, {
				onProgress: perPercent((share) => {
					if (this.find(transferId)?.phase === "receiving") this.patch(transferId, { share });
				}),
			});
			this.patch(transferId, { phase: "importing", share: undefined });
			const archive = await readHistoryArchive(plain, { accountId: me.accountId });
			const result = await this.history.importHistory(archive.messages, archive.files);
			imported = true;
			try {
				await this.client.endHistory(transferId, "imported");
			} catch (err) {
				// Expired or skipped at the last moment: the history is here all the same.
				if (toSdkError(err).code !== "not_found") throw err;
			}
			this.marks.set(me.deviceId, "complete");
			this.store.update({ historyMissing: false });
			this.patch(transferId, { phase: "imported", share: undefined, error: undefined, imported: result });
			await this.refresh();
		} catch (err) {
			if (imported) await this.refresh();
			const transfer = this.find(transferId);
			if (!transfer || isFinished(transfer)) return;
			this.patch(transferId, { phase: "failed", share: undefined, error: errorText(err, "history"), canRetry: true });
		} finally {
			this.receiving.delete(transferId);
		}
	}

	/** What is on screen, read again from the history: the open conversation, those loaded before, and the contact list's previews. */
	private async refresh(): Promise<void> {
		const loaded = Object.keys(this.store.state.conversations);
		const active = this.store.state.activePeer;
		const peers = active !== null && !loaded.includes(active) ? [...loaded, active] : loaded;
		await Promise.all([this.contacts.refresh(), this.conversations.loadLast(), ...peers.map((peerId) => this.conversations.load(peerId))]);
	}

	private finish(transferId: string, phase: "imported" | "skipped" | "expired" | "ended"): void {
		const transfer = this.find(transferId);
		if (!transfer) return;
		this.patch(transferId, { phase, share: undefined, error: undefined });
		if (transfer.role === "receiving" && phase !== "imported") this.missing();
	}

	/** This device goes on without the earlier messages; its empty chats say where they are. */
	private missing(): void {
		const deviceId = this.store.state.me?.deviceId;
		if (!deviceId || this.marks.get(deviceId) === "complete") return;
		this.marks.set(deviceId, "missing");
		this.store.update({ historyMissing: true });
	}

	private find(transferId: string): HistoryTransferState | undefined {
		return this.store.state.historyTransfers.find((t) => t.transferId === transferId);
	}

	/** Add a transfer, or replace it in its place. */
	private put(transfer: HistoryTransferState): void {
		const list = this.store.state.historyTransfers;
		const known = list.some((t) => t.transferId === transfer.transferId);
		this.store.update({
			historyTransfers: known ? list.map((t) => (t.transferId === transfer.transferId ? transfer : t)) : [...list, transfer],
		});
	}

	/** Change a transfer's fields; one set to undefined is removed. */
	private patch(transferId: string, patch: Partial<HistoryTransferState>): void {
		this.store.update({
			historyTransfers: this.store.state.historyTransfers.map((t) => {
				if (t.transferId !== transferId) return t;
				const next: Record<string, unknown> = { ...t, ...patch };
				for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
				return next as unknown as HistoryTransferState;
			}),
		});
	}
}
