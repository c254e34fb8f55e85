import { sentKey } from "../chat-message.ts";
import { keepBounded } from "../keep-bounded.ts";
import type { MessageHistory } from "../message-history.ts";
import type { Conversations } from "./conversations.ts";

/** Ids remembered for receipts, at most: receipts for messages this device never stores must not grow memory without end. */
const IDS_KEPT = 500;

/**
 * Delivery receipts (`delivered`: a device of the recipient stored these messages) and read
 * receipts (`read`: the person saw them there) for the messages this account sent. A receipt can come before this device knows the message under
 * that id (its `sent` was still on its way), so it is held until the message is stored.
 */
export class Receipts {
	/** Deliveries reported before this device knew the message id, by id: the devices. */
	private readonly early = new Map<string, string[]>();
	/**
	 * Edits sent from this device, by id, to the message each replaced. Where the original was
	 * still queued the relay swapped the edit in, so a device acks (and `delivered` names) the
	 * edit's id only. Memory only: receipts are live-only anyway.
	 */
	private readonly editedOriginal = new Map<string, string>();

	constructor(
		private readonly history: Pick<MessageHistory, "markDelivered" | "has">,
		private readonly conversations: Pick<Conversations, "show">,
	) {}

	/** A `read` event: the person on `deviceId` saw these messages (their device sends read receipts). */
	async read(ids: string[], deviceId: string): Promise<void> {
		// Read long after it was sent, so the message is known here by now: nothing is held.
		for (const message of await this.history.markDelivered(ids, deviceId, "read")) this.conversations.show(message);
	}

	/** A `delivered` event: `deviceId` stored these messages. */
	async delivered(received: string[], deviceId: string): Promise<void> {
		const ids = received.map((id) => this.editedOriginal.get(id) ?? id);
		const changed = await this.history.markDelivered(ids, deviceId);
		for (const message of changed) this.conversations.show(message);
		const known = new Set(changed.map((m) => m.id));
		for (const id of ids) {
			if (known.has(id)) continue;
			if (await this.history.has(sentKey(id))) {
				// Stored just now (a send the relay confirmed meanwhile), or already marked.
				for (const message of await this.history.markDelivered([id], deviceId)) this.conversations.show(message);
				continue;
			}
			keepBounded(this.early, id, [...(this.early.get(id) ?? []), deviceId], IDS_KEPT);
		}
	}

	/** The devices that reported the message `id` before it was known here, without forgetting them. */
	heldFor(id: string): string[] | undefined {
		return this.early.get(id);
	}

	/** The devices that reported the message `id` before it was known here; they are then forgotten. */
	takeHeld(id: string): string[] | undefined {
		const held = this.early.get(id);
		this.early.delete(id);
		return held;
	}

	/** This device sent `editId` to replace `originalId`: a receipt for the edit is one for the original. */
	edited(editId: string, originalId: string): void {
		keepBounded(this.editedOriginal, editId, originalId, IDS_KEPT);
	}
}
