/**
 * The web app's features that receive and change messages, wired as the controller wires
 * them, over a store, the in-memory history and a fake client: for tests of what a device
 * shows when messages, edits and reactions arrive.
 */
import { Account } from "../../client/app/features/account.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { FileCache } from "../../client/app/features/file-cache.ts";
import { IncomingMessages } from "../../client/app/features/incoming-messages.ts";
import { MessageChanges } from "../../client/app/features/message-changes.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { Receipts } from "../../client/app/features/receipts.ts";
import { TypingIndicator } from "../../client/app/features/typing-indicator.ts";
import type { MessengerState, Store } from "../../client/app/store.ts";
import type { MemoryHistory } from "./client-fakes.ts";

export type ReceivingClient = ConstructorParameters<typeof MessageChanges>[0] &
	ConstructorParameters<typeof TypingIndicator>[1] &
	ConstructorParameters<typeof FileCache>[1] &
	ConstructorParameters<typeof Account>[1];

export function receivingApp(
	store: Store<MessengerState>,
	history: MemoryHistory,
	client: ReceivingClient,
	visible: () => boolean,
	arrived?: ConstructorParameters<typeof IncomingMessages>[8],
) {
	const notices = new Notices(store);
	const conversations = new Conversations(store, history, visible);
	const receipts = new Receipts(history, conversations);
	const typing = new TypingIndicator(store, client);
	const files = new FileCache(store, client, history);
	const account = new Account(store, client, notices);
	const changes = new MessageChanges(client, history, conversations, receipts, account, files);
	const messages = new IncomingMessages(store, history, conversations, receipts, typing, changes, notices, visible, arrived);
	/** The SDK's order: `persist` before the ack, then the `message` event. */
	const arrive = async (message: Parameters<IncomingMessages["persist"]>[0]) => {
		await messages.persist(message);
		await messages.received(message);
	};
	return { notices, conversations, receipts, typing, account, changes, messages, arrive };
}
