import type { ChatMessage } from "../chat-message.ts";
import { lastOf, mergeLast, withoutShown, withShown } from "../contact-activity.ts";
import type { MessageHistory } from "../message-history.ts";
import { SEARCH_LIMIT, searchQuery } from "../message-search.ts";
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

/**
 * Where the unread divider of `peerId`'s conversation goes as its unread messages are read:
 * before the first of them, counting them all; a divider shown already (the chat stayed open
 * while more came on a hidden page) keeps its place and counts the new ones too. Null when
 * nothing there is unread: the divider stays as it is.
 */
export function unreadDividerFor(
	current: MessengerState["unreadDivider"],
	peerId: string,
	messages: readonly ChatMessage[],
): MessengerState["unreadDivider"] | null {
	const unread = messages.filter((m) => m.unread);
	const first = unread[0];
	if (!first) return null;
	if (current?.peerId === peerId && messages.some((m) => m.key === current.key))
		return { ...current, count: current.count + unread.length };
	return { peerId, key: first.key, count: unread.length };
}

/** The open conversation and the ones loaded from the history, as the views show them. */
export class Conversations {
	constructor(
		private readonly store: MessengerStore,
		private readonly history: Pick<MessageHistory, "conversation" | "markRead" | "get" | "lastMessages" | "search">,
		private readonly pageVisible: () => boolean,
		/** The person saw these messages of the contact's (read receipts, if this device sends them). */
		private readonly onSeen: (peerId: string, ids: string[]) => void = () => {},
	) {}

	/** The reading of unread messages under way, if any (settled either way). */
	private reading: Promise<void> = Promise.resolve();

	/** Show a conversation (null: none); its messages count as read while the page is visible. */
	async open(peerId: string | null): Promise<void> {
		// Each opening finds its own unread messages: a divider from before would mark read ones.
		this.store.update({ activePeer: peerId, unreadDivider: null });
		if (peerId === null) return;
		await this.load(peerId);
		await this.markReadIfVisible();
	}

	/**
	 * Read a conversation from the history. A message to bring into view that is older than the
	 * loaded window (a search found it) is loaded beside it, so that it can be shown.
	 */
	async load(peerId: string): Promise<void> {
		let messages = await this.history.conversation(peerId);
		const wanted = this.store.state.highlight;
		if (wanted !== null && !messages.some((m) => m.key === wanted)) {
			const found = await this.history.get(wanted);
			if (found?.peerId === peerId) messages = [...messages, found].sort(byTime);
		}
		const last = lastOf(messages);
		const lastMessages = last ? withShown(this.store.state.lastMessages, last) : null;
		this.store.update({
			conversations: { ...this.store.state.conversations, [peerId]: messages },
			...(lastMessages && { lastMessages }),
		});
	}

	/** The newest message of every conversation, for the contact list (once the account opens, and after an import). */
	async loadLast(): Promise<void> {
		const loaded = await this.history.lastMessages();
		this.store.update({ lastMessages: mergeLast(this.store.state.lastMessages, loaded) });
	}

	/** The newest messages whose text holds `raw` (case and accents aside), across all conversations; none for a query too short. */
	search(raw: string): Promise<ChatMessage[]> {
		const folded = searchQuery(raw);
		return folded === null ? Promise.resolve([]) : this.history.search(folded, SEARCH_LIMIT);
	}

	/** Bring the message under `key` into view when its conversation shows it (null: it was). */
	highlight(key: string | null): void {
		this.store.update({ highlight: key });
	}

	/** Called when the page becomes visible again. */
	markReadIfVisible(): Promise<void> {
		// One at a time: two at once (an opening, the page shown again) would count the same unread messages twice.
		const next = this.reading.then(() => this.readIfVisible());
		this.reading = next.catch(() => {});
		return next;
	}

	private async readIfVisible(): Promise<void> {
		const peerId = this.store.state.activePeer;
		if (peerId === null || !this.pageVisible() || !this.store.state.unread[peerId]) return;
		// Before they are marked read, which takes the marks the divider is placed by.
		const divider = unreadDividerFor(this.store.state.unreadDivider, peerId, this.store.state.conversations[peerId] ?? []);
		if (divider) this.store.update({ unreadDivider: divider });
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
		const lastMessages = withShown(this.store.state.lastMessages, message, replacing);
		if (conversations || lastMessages)
			this.store.update({ ...(conversations && { conversations }), ...(lastMessages && { lastMessages }) });
	}

	/** Take a message off the screen (it is gone from the history already). */
	remove(peerId: string, key: string): void {
		const conversations = withoutMessage(this.store.state.conversations, peerId, key);
		const lastMessages = withoutShown(this.store.state.lastMessages, peerId, key);
		if (conversations || lastMessages)
			this.store.update({ ...(conversations && { conversations }), ...(lastMessages && { lastMessages }) });
		// It was the conversation's last: its preview is gone at once, and the one before it is read
		// back (a history that cannot be read now leaves no preview, until the next message).
		if (lastMessages) void this.loadLast().catch(() => {});
	}
}
