import type { IncomingMessage, UndecryptableMessage } from "../../core/sdk.ts";
import { type ChatMessage, messageKey, skewMark } from "../chat-message.ts";
import { plural } from "../format.ts";
import type { MessageHistory } from "../message-history.ts";
import type { MessengerStore } from "../store.ts";
import type { Conversations } from "./conversations.ts";
import type { MessageChanges } from "./message-changes.ts";
import type { Notices } from "./notices.ts";
import type { Receipts } from "./receipts.ts";
import type { TypingIndicator } from "./typing-indicator.ts";

/** What `persist` kept of an incoming message: a new one (`fresh` unless it was kept before), or a change of an earlier one. */
type Persisted = { kind: "message"; record: ChatMessage; fresh: boolean } | { kind: "change"; updated: ChatMessage | null };

/**
 * The history record of an incoming message (or of one this account sent from another device),
 * under its sender and id (messageKey).
 * `id`: the message's id, or the original's where the message is an edit standing in for it;
 * `read`: whether it counts as read already; `early`: devices that reported it delivered.
 */
export function receivedMessage(
	message: IncomingMessage,
	{ id, standsIn, read, early }: { id: string; standsIn: boolean; read: boolean; early: string[] | undefined },
): ChatMessage {
	return {
		key: messageKey({ peerId: message.peerId, outgoing: message.outgoing, id }),
		id,
		peerId: message.peerId,
		outgoing: message.outgoing,
		text: message.text,
		at: message.sentAt,
		...skewMark(message.sentAt, message.receivedAt),
		state: message.outgoing ? (early ? "delivered" : "sent") : "received",
		...(early && { deliveredTo: early }),
		...(message.attachment && { attachment: message.attachment }),
		...(message.replyTo && { replyTo: message.replyTo }),
		...(standsIn && { edited: true as const, editSeq: message.editSeq ?? 1, editId: message.id }),
		...(!read && { unread: 1 as const }),
		...(message.missingBefore !== undefined && { missingBefore: message.missingBefore }),
	};
}

/** The record of a message no key of this device opens, under its sender and id. */
export function unreadableMessage(message: UndecryptableMessage, myAccountId: string | undefined): ChatMessage {
	const outgoing = message.from === myAccountId;
	return {
		key: messageKey({ peerId: message.peerId, outgoing, id: message.id }),
		id: message.id,
		peerId: message.peerId,
		outgoing,
		text: "",
		at: message.receivedAt,
		state: "unreadable",
	};
}

/** Messages from the relay: kept in the history before the SDK acks them, then shown. */
export class IncomingMessages {
	/** Incoming messages kept by `persist`, by their history key, until the `message` event that follows shows them. */
	private readonly persisted = new Map<string, Persisted>();

	constructor(
		private readonly store: MessengerStore,
		private readonly history: Pick<MessageHistory, "get" | "known" | "put">,
		private readonly conversations: Pick<Conversations, "show" | "seenOnArrival">,
		private readonly receipts: Pick<Receipts, "heldFor">,
		private readonly typing: Pick<TypingIndicator, "peerSent">,
		private readonly changes: Pick<MessageChanges, "storeIncoming" | "storeReaction">,
		private readonly notices: Pick<Notices, "notify">,
		private readonly pageVisible: () => boolean,
		/** A new message from a contact was kept and shown: for the desktop notifications (features/desktop-notifications.ts). */
		private readonly arrived: (record: ChatMessage) => void = () => {},
	) {}

	/**
	 * Keep an incoming message in the history before the SDK acks it (its `persist` option):
	 * if the page dies first, the relay still holds it and delivers it again. What was kept
	 * waits in `persisted` for the `message` event that follows, which shows it.
	 */
	async persist(message: IncomingMessage): Promise<void> {
		// The relay puts an edit in place of its original while that is still queued, so an edit
		// of a message this device never had is the message itself, already edited. Only a
		// message of the edit's own sender is its original.
		const keyOf = (id: string) => messageKey({ peerId: message.peerId, outgoing: message.outgoing, id });
		if (message.kind === "reaction") {
			// Not a message of its own: it lands on the record of the message it names, if held.
			const me = message.outgoing ? message.from : this.store.state.me?.accountId;
			const updated = me === undefined ? null : await this.changes.storeReaction(message, me);
			// A gap before a reaction belongs to no message shown: said as a notice.
			if (message.missingBefore !== undefined) this.missingNotice(message.missingBefore);
			this.persisted.set(keyOf(message.id), { kind: "change", updated });
			return;
		}
		// A message deleted here (for me) is known too: its edit changes nothing rather than bringing it back.
		const standsIn = message.kind === "edit" && message.replaces !== undefined && !(await this.history.known(keyOf(message.replaces)));
		if ((message.kind === "edit" && !standsIn) || message.kind === "delete") {
			let updated = await this.changes.storeIncoming(message);
			// A gap noticed by a change is shown on the message it changes.
			if (message.missingBefore !== undefined && message.replaces !== undefined) {
				updated = (await this.markMissing(keyOf(message.replaces), message.missingBefore)) ?? updated;
			}
			this.persisted.set(keyOf(message.id), { kind: "change", updated });
			return;
		}
		const id = standsIn ? (message.replaces as string) : message.id;
		// Delivered again after a crash between keeping and acking: keep what the user did with it since.
		const fresh = standsIn || !(await this.history.known(keyOf(id)));
		const read = message.outgoing || (this.store.state.activePeer === message.peerId && this.pageVisible());
		const early = message.outgoing ? this.receipts.heldFor(message.id) : undefined;
		const record = receivedMessage(message, { id, standsIn, read, early });
		if (fresh) await this.history.put(record);
		this.persisted.set(keyOf(message.id), { kind: "message", record, fresh });
	}

	/** A `message` event: a message the SDK has kept (through `persist`) and acked. */
	async received(message: IncomingMessage): Promise<void> {
		const key = messageKey(message);
		if (!this.persisted.has(key)) await this.persist(message);
		const kept = this.persisted.get(key);
		this.persisted.delete(key);
		if (!kept) return;
		if (kept.kind === "change") {
			if (kept.updated) this.conversations.show(kept.updated);
			return;
		}
		if (!message.outgoing) this.typing.peerSent(message.peerId);
		if (!kept.fresh) return;
		if (kept.record.unread) {
			const unread = this.store.state.unread;
			this.store.update({ unread: { ...unread, [message.peerId]: (unread[message.peerId] ?? 0) + 1 } });
		}
		this.conversations.show(kept.record);
		if (!message.outgoing) this.arrived(kept.record);
		if (!message.outgoing && !kept.record.unread && kept.record.id !== undefined)
			this.conversations.seenOnArrival(message.peerId, kept.record.id);
	}

	/** Add `count` messages that may be missing before the message under `key`; null if it is not held. */
	private async markMissing(key: string, count: number): Promise<ChatMessage | null> {
		const held = await this.history.get(key);
		if (!held) {
			this.missingNotice(count);
			return null;
		}
		const marked = { ...held, missingBefore: (held.missingBefore ?? 0) + count };
		await this.history.put(marked);
		return marked;
	}

	private missingNotice(count: number): void {
		this.notices.notify(
			`${plural(count, "message")} from this conversation may be missing: this device never received ${count === 1 ? "it" : "them"}.`,
			"info",
		);
	}

	/** A `gaps_filled` event: the messages missing before these came after all (or never existed). */
	async gapsFilled(peerId: string, outgoing: boolean, ids: string[]): Promise<void> {
		for (const id of ids) {
			const held = await this.history.get(messageKey({ peerId, outgoing, id }));
			if (held?.missingBefore === undefined) continue;
			const { missingBefore: _, ...filled } = held;
			await this.history.put(filled);
			this.conversations.show(filled);
		}
	}

	/** A `missed` event: the relay let `count` messages for this device expire before it fetched them. */
	expired(count: number): void {
		this.notices.notify(`${plural(count, "message")} expired on the relay before this device could fetch them.`, "info");
	}

	/**
	 * An `undecryptable` event: the message is shown as one that cannot be read here, under its
	 * own sender and id, so a contact's frame under the id of another sender's message is an
	 * entry of its own. It never replaces a message held under its key: only the relay can send
	 * a frame as that sender, so it is a replay or a forgery, and the message held is kept (and
	 * the user told, unless what is held is this same unreadable frame, delivered again).
	 */
	async unreadable(message: UndecryptableMessage): Promise<void> {
		const record = unreadableMessage(message, this.store.state.me?.accountId);
		const held = await this.history.get(record.key);
		if (held) {
			if (held.state !== "unreadable") {
				this.notices.notify("A message that could not be decrypted came under the id of one this device has; the one here was kept.");
			}
			return;
		}
		await this.history.put(record);
		this.conversations.show(record);
	}
}
