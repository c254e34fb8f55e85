import { ACK_IDS_MAX } from "../../../common/protocol/wire.ts";
import type { MessengerClient } from "../../core/sdk.ts";
import type { MessengerStore } from "../store.ts";
import type { KeyValueStorage } from "./start-up-cache.ts";

/**
 * Whether this device sends read receipts: on unless the person turned it off here, as in
 * Signal and WhatsApp. Kept per browser profile (one device), beside the history's other marks.
 */
export class ReadReceiptSetting {
	constructor(
		private readonly prefix: string,
		private readonly storage: () => KeyValueStorage,
	) {}

	enabled(): boolean {
		try {
			return this.storage().getItem(this.key()) !== "off";
		} catch {
			return true;
		}
	}

	set(on: boolean): void {
		try {
			if (on) this.storage().removeItem(this.key());
			else this.storage().setItem(this.key(), "off");
		} catch {
			// Storage may be disabled: the setting then lasts as long as the page.
		}
	}

	private key(): string {
		return `${this.prefix}:read-receipts`;
	}
}

/**
 * The read receipts this device sends when the person sees a contact's messages (a chat open
 * on a visible page): sealed for the contact by the SDK, free, best effort — a receipt that
 * cannot go now (offline) is not kept, because "read" is a courtesy, not a delivery promise.
 */
export class ReadReceipts {
	constructor(
		private readonly store: MessengerStore,
		private readonly client: Pick<MessengerClient, "sendReadReceipt">,
		private readonly setting: ReadReceiptSetting,
		private readonly report: (err: unknown) => void,
	) {
		store.update({ sendReadReceipts: setting.enabled() });
	}

	/** The person saw these messages of `peerId`'s. */
	seen(peerId: string, ids: readonly string[]): void {
		if (!this.store.state.sendReadReceipts) return;
		// Only an accepted contact hears it (the relay refuses the rest): not someone blocked since.
		if (this.store.state.contacts.find((c) => c.accountId === peerId)?.state !== "accepted") return;
		for (let i = 0; i < ids.length; i += ACK_IDS_MAX) {
			this.client.sendReadReceipt(peerId, ids.slice(i, i + ACK_IDS_MAX)).catch(this.report);
		}
	}

	setEnabled(on: boolean): void {
		this.setting.set(on);
		this.store.update({ sendReadReceipts: on });
	}
}
