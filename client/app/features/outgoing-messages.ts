import type { AttachmentInfo, MessageRef } from "../../core/message-body.ts";
import type { SendOptions } from "../../core/outbox.ts";
import type { MessengerClient, SentReceipt } from "../../core/sdk.ts";
import { toSdkError } from "../../core/sdk-error.ts";
import { type ChatMessage, sentKey, skewMark } from "../chat-message.ts";
import { errorText } from "../error-text.ts";
import type { MessageHistory } from "../message-history.ts";
import type { MessengerStore } from "../store.ts";
import { type Account, refusalChangesAccount } from "./account.ts";
import type { Conversations } from "./conversations.ts";
import type { Receipts } from "./receipts.ts";
import type { TypingIndicator } from "./typing-indicator.ts";

type Receipt = SentReceipt & { attachment?: AttachmentInfo };

/** The key of a message until the relay gives it an id. */
export function localKey(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(12));
	return `local:${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A message as it shows before the relay answered, `at` this device's clock. */
export function sendingMessage(
	peerId: string,
	content: { text: string; replyTo?: MessageRef } | { file: { name: string; size: number; type: string } },
	key: string,
	at: number,
): ChatMessage {
	const body =
		"file" in content
			? { text: "", file: content.file }
			: { text: content.text, ...(content.replyTo && { replyTo: { id: content.replyTo.id, from: content.replyTo.from } }) };
	return { key, peerId, outgoing: true, ...body, at, state: "sending", pending: 1 };
}

/**
 * A send once the relay accepted it: under its id, at the time sealed into it (this device's
 * clock), and `delivered` already if devices reported it before this device learned its id (`early`).
 */
export function sentMessage(local: ChatMessage, receipt: Receipt, early: string[] | undefined): ChatMessage {
	const { pending: _, file: __, ...rest } = local;
	return {
		...rest,
		key: sentKey(receipt.id),
		id: receipt.id,
		at: receipt.sentAt,
		...skewMark(receipt.sentAt, receipt.acceptedAt),
		state: early ? "delivered" : "sent",
		...(early && { deliveredTo: early }),
		...(receipt.attachment && { attachment: receipt.attachment }),
	};
}

/** A send the relay refused (or that failed on the way), with the reason as a sentence. */
export function failedMessage(local: ChatMessage, reason: string): ChatMessage {
	const { pending: _, ...rest } = local;
	return { ...rest, state: "failed", error: reason };
}

/** A progress callback that passes on the share done only when its whole percent changes: a re-render per percent, not per chunk. */
export function perPercent(onShare: (share: number) => void): (done: number, total: number) => void {
	let shown = -1;
	return (done, total) => {
		const share = total > 0 ? done / total : 1;
		if (Math.floor(share * 100) === shown) return;
		shown = Math.floor(share * 100);
		onShare(share);
	};
}

/**
 * Texts and files the user sends: each shows at once as `sending` and is kept in the history
 * before it goes, then shows as the relay answered.
 */
export class OutgoingMessages {
	/** Files being sent, by the local key of their message, to show them before the relay knows them. */
	private readonly sendingFiles = new Map<string, File>();
	/** What takes back each send still in the SDK's outbox, by local key. */
	private readonly takeBack = new Map<string, AbortController>();

	constructor(
		private readonly store: MessengerStore,
		private readonly client: Pick<MessengerClient, "sendText" | "sendFile">,
		private readonly history: Pick<MessageHistory, "put" | "replace" | "delete" | "putFile">,
		private readonly conversations: Pick<Conversations, "show" | "remove">,
		private readonly receipts: Pick<Receipts, "delivered" | "takeHeld">,
		private readonly typing: Pick<TypingIndicator, "userSent">,
		private readonly account: Pick<Account, "noteRelayClock" | "charged" | "refresh">,
	) {}

	/** Seal and send a text; `replyTo` makes it a reply to that message of the conversation. */
	send(peerId: string, text: string, replyTo?: MessageRef): Promise<void> {
		const local = sendingMessage(peerId, { text, ...(replyTo && { replyTo }) }, localKey(), Date.now());
		return this.sendAs(local, (options) => this.client.sendText(peerId, text, { ...options, ...(replyTo && { replyTo }) }));
	}

	/** Seal, upload and announce a file, with the upload's progress in `progress`. */
	sendFile(peerId: string, file: File): Promise<void> {
		const local = sendingMessage(peerId, { file: { name: file.name, size: file.size, type: file.type } }, localKey(), Date.now());
		const onProgress = perPercent((share) => this.store.update({ progress: { ...this.store.state.progress, [local.key]: share } }));
		this.sendingFiles.set(local.key, file);
		return this.sendAs(local, async (options) => {
			try {
				const receipt = await this.client.sendFile(
					peerId,
					{ stream: () => file.stream(), size: file.size, name: file.name, type: file.type },
					{ onProgress, ...options },
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

	/** Send a failed text again (as a new message) and drop the failed copy. A file cannot be: it was not kept. */
	async retry(message: ChatMessage): Promise<void> {
		await this.discard(message);
		if (!message.file) await this.send(message.peerId, message.text, message.replyTo);
	}

	/**
	 * Take back a message that waits for the send window: it never reaches the relay, costs
	 * nothing, and goes from the conversation. False once it is on its way (it can then only be deleted).
	 */
	cancel(message: ChatMessage): boolean {
		const controller = this.takeBack.get(message.key);
		if (!controller || message.sendsAt === undefined) return false;
		controller.abort();
		return true;
	}

	/** Drop a failed message from the history. */
	async discard(message: ChatMessage): Promise<void> {
		await this.history.delete(message.key);
		this.conversations.remove(message.peerId, message.key);
	}

	/** The message as the conversation shows it now, with when it goes (or without, once it is on its way). */
	private waiting(local: ChatMessage, sendsAt: number | null): void {
		const shown = this.store.state.conversations[local.peerId]?.find((m) => m.key === local.key);
		if (!shown || shown.state !== "sending") return;
		const { sendsAt: _, ...rest } = shown;
		this.conversations.show(sendsAt === null ? rest : { ...rest, sendsAt });
	}

	private async sendAs(local: ChatMessage, send: (options: SendOptions) => Promise<Receipt>): Promise<void> {
		await this.history.put(local);
		this.conversations.show(local);
		this.typing.userSent(local.peerId);
		const takeBack = new AbortController();
		this.takeBack.set(local.key, takeBack);
		try {
			const receipt = await send({ signal: takeBack.signal, onWait: (sendsAt) => this.waiting(local, sendsAt) });
			this.account.noteRelayClock(receipt);
			const sent = sentMessage(local, receipt, this.receipts.takeHeld(receipt.id));
			await this.history.replace(local.key, sent);
			this.conversations.show(sent, local.key);
			// Deliveries that came while the confirmed message was being stored.
			for (const deviceId of this.receipts.takeHeld(receipt.id) ?? []) await this.receipts.delivered([receipt.id], deviceId);
			this.account.charged(receipt);
		} catch (err) {
			const error = toSdkError(err);
			if (error.code === "cancelled") {
				await this.discard(local);
				return;
			}
			const failed = failedMessage(local, errorText(err, "send"));
			await this.history.put(failed);
			this.conversations.show(failed);
			if (refusalChangesAccount(error)) void this.account.refresh();
		} finally {
			this.takeBack.delete(local.key);
			const { [local.key]: _, ...progress } = this.store.state.progress;
			this.store.update({ progress });
		}
	}
}
