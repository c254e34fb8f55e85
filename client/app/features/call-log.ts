import { callRequestKey, callRequestRecord } from "../call-log.ts";
import type { ChatMessage } from "../chat-message.ts";
import type { MessageHistory } from "../message-history.ts";
import type { MessengerStore } from "../store.ts";
import type { Conversations } from "./conversations.ts";

/**
 * Call log lines and call requests in the local history (see call-log.ts): kept, shown in
 * their conversation, and counted as unread when they ask for attention.
 */
export class CallLog {
	constructor(
		private readonly store: MessengerStore,
		private readonly history: Pick<MessageHistory, "get" | "put" | "delete">,
		private readonly conversations: Pick<Conversations, "show" | "remove" | "markReadIfVisible">,
	) {}

	/** Keep a call's log line (once: a line held already stays as it is). */
	async record(entry: ChatMessage): Promise<void> {
		if (await this.history.get(entry.key)) return;
		await this.history.put(entry);
		this.shown(entry);
	}

	/**
	 * A contact asks to be allowed to call (`asked`, also again when this device connects while
	 * it waits): one record per contact, so the same request is not counted twice.
	 */
	async asked(peerId: string, at: number): Promise<void> {
		const key = callRequestKey(peerId);
		const held = await this.history.get(key);
		if (held?.at === at) return;
		const handle = `@${this.store.state.contacts.find((c) => c.accountId === peerId)?.handle ?? "a contact"}`;
		const record = callRequestRecord(peerId, handle, at);
		if (held) await this.drop(held);
		await this.history.put(record);
		this.shown(record);
	}

	/** The request was answered (here or on another device): it goes. */
	async answered(peerId: string): Promise<void> {
		const held = await this.history.get(callRequestKey(peerId));
		if (held) await this.drop(held);
	}

	private shown(record: ChatMessage): void {
		if (record.unread) {
			const unread = this.store.state.unread;
			this.store.update({ unread: { ...unread, [record.peerId]: (unread[record.peerId] ?? 0) + 1 } });
		}
		this.conversations.show(record);
		// Seen at once in the open conversation of a visible page, like a message.
		if (record.unread) void this.conversations.markReadIfVisible().catch(() => {});
	}

	private async drop(record: ChatMessage): Promise<void> {
		await this.history.delete(record.key);
		if (record.unread) {
			const { [record.peerId]: count = 0, ...rest } = this.store.state.unread;
			this.store.update({ unread: count > 1 ? { ...rest, [record.peerId]: count - 1 } : rest });
		}
		this.conversations.remove(record.peerId, record.key);
	}
}
