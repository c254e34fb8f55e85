import type { ChatMessage } from "../chat-message.ts";
import type { MessageHistory } from "../message-history.ts";
import type { MessengerState, MessengerStore } from "../store.ts";

type LoadedConversations = MessengerState["conversations"];

/** Oldest first; the key settles messages of one instant, so that the order never flickers. */
export const byTime = (a: ChatMessage, b: ChatMessage): number => a.at - b.at || a.key.localeCompare(b.key);

/**
 * The loaded conversations with `message` shown in its place (instead of the one under
 * `replacing`, a send the relay just confirmed), or null when its conversation is not loaded:
 * it is then read from the history when opened.
 */
export function withMessage(conversations: LoadedConversations, message: ChatMessage, replacing?: string): LoadedConversations | null {
	const list = conversations[message.peerId];
	if (!list) return null;
	const rest = list.filter((m) => m.key !== message.key && m.key !== replacing);
	return { ...conversations, [message.peerId]: [...rest, message].sort(byTime) };
}

/** The loaded conversations without the message under `key`, or null when its conversation is not loaded. */
export function withoutMessage(conversations: LoadedConversations, peerId: string, key: string): LoadedConversations | null {
	const list = conversations[peerId];
	if (!list) return null;
	return { ...conversations, [peerId]: list.filter((m) => m.key !== key) };
}

/** The unread counts and conversations once the user read the conversation with `peerId`. */
export function readConversation(
	{ unread, conversations }: Pick<MessengerState, "unread" | "conversations">,
	peerId: string,
): Pick<MessengerState, "unread" | "conversations"> {
	const { [peerId]: _, ...rest } = unread;
	const messages = (conversations[peerId] ?? []).map(({ unread: __, ...m }) => m);
	return { unread: rest, conversations: { ...conversations, [peerId]: messages } };
}

/** The open conversation and the ones loaded from the history, as the views show them. */
export class Conversations {
	constructor(
		private readonly store: MessengerStore,
		private readonly history: Pick<MessageHistory, "conversation" | "markRead">,
		private readonly pageVisible: () => boolean,
		/** The person saw these messages of the contact's (read receipts, if this device sends them). */
		private readonly onSeen: (peerId: string, ids: string[]) => void = () => {},
	) {}

	/** Show a conversation (null: none); its messages count as read while the page is visible. */
	async open(peerId: string | null): Promise<void> {
		this.store.update({ activePeer: peerId });
		if (peerId === null) return;
		await this.load(peerId);
		await this.markReadIfVisible();
	}

	async load(peerId: string): Promise<void> {
		const messages = await this.history.conversation(peerId);
		this.store.update({ conversations: { ...this.store.state.conversations, [peerId]: messages } });
	}

	/** Called when the page becomes visible again. */
	async markReadIfVisible(): Promise<void> {
		const peerId = this.store.state.activePeer;
		if (peerId === null || !this.pageVisible() || !this.store.state.unread[peerId]) return;
		const read = await this.history.markRead(peerId);
		this.store.update(readConversation(this.store.state, peerId));
		if (read.length > 0) this.onSeen(peerId, read);
	}

	/** A contact's message came into the open conversation on a visible page: seen as it came. */
	seenOnArrival(peerId: string, id: string): void {
		this.onSeen(peerId, [id]);
	}

	/** Show a new or changed message, if its conversation is loaded. */
	show(message: ChatMessage, replacing?: string): void {
		const conversations = withMessage(this.store.state.conversations, message, replacing);
		if (conversations) this.store.update({ conversations });
	}

	remove(peerId: string, key: string): void {
		const conversations = withoutMessage(this.store.state.conversations, peerId, key);
		if (conversations) this.store.update({ conversations });
	}
}
