import { ACK_IDS_MAX, type ClientFrame, type SealedReceipt } from "../../common/protocol/wire.ts";

/** The relay pushes the next page of a backlog once half a page (50) is acked. */
const BATCH = 50;

/**
 * How long acks wait once the incoming queue ran dry, for a socket that did not ask for
 * prompt acks, so that messages close together share one ack and one sealed receipt: each
 * is a frame to parse and a call between objects on the relay. A message stays queued that
 * much longer; if the socket drops meanwhile it is delivered again and de-duplicated. The
 * SDK acks at once instead (delay 0): the relay then holds a message for a caught-up device
 * in memory until its ack rather than queuing it, and the sender hears `sent` after the ack.
 */
export const ACK_DELAY_MS = 250;

/** The contact key a receipt to that sender is sealed with. */
export interface ReceiptKey {
	version: number;
	key: Uint8Array;
}

/** Seals a receipt to `to` for `ids`; null when it cannot be sealed (the ack goes without one). */
export type ReceiptSealer = (to: string, key: ReceiptKey, ids: string[]) => SealedReceipt | null;

/**
 * Collects message ids and acks them in few frames: when a batch is full, and a moment after
 * the incoming queue runs dry. Ids are unique per sender only, so each frame names the sender of
 * its ids: a contact's message under the id of another sender's leaves that one queued. An
 * ack of a contact's messages carries a receipt sealed for that contact: the relay passes it
 * on, and that is how the contact learns they were delivered.
 */
export class AckBatcher {
	private bySender = new Map<string, { ids: string[]; key: ReceiptKey | null }>();
	private count = 0;
	private timer: ReturnType<typeof setTimeout> | null = null;

	constructor(
		private readonly write: (frame: ClientFrame) => boolean,
		private readonly seal: ReceiptSealer | null = null,
		private readonly delayMs = ACK_DELAY_MS,
	) {}

	/** The incoming queue ran dry: what waits is acked after the delay, or sooner with a full batch. */
	drained(): void {
		if (this.count === 0 || this.timer !== null) return;
		if (this.delayMs <= 0) this.flush();
		else this.timer = setTimeout(() => this.flush(), this.delayMs);
	}

	/** `key`: for a contact's message, the key to seal its receipt with (the one it was sealed with); null for none. */
	add(from: string, id: string, key: ReceiptKey | null = null): void {
		const entry = this.bySender.get(from) ?? { ids: [], key: null };
		entry.ids.push(id);
		if (key) entry.key = key;
		this.bySender.set(from, entry);
		if (++this.count >= BATCH) this.flush();
	}

	/** Ids that cannot be written are dropped: the relay delivers those messages again, and they are de-duplicated. */
	flush(): void {
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = null;
		for (const [from, { ids, key }] of this.bySender) {
			for (let i = 0; i < ids.length; i += ACK_IDS_MAX) {
				const chunk = ids.slice(i, i + ACK_IDS_MAX);
				const receipt = key && this.seal ? this.seal(from, key, chunk) : null;
				this.write({ type: "ack", ids: chunk, from, ...(receipt && { receipt }) });
			}
		}
		this.bySender = new Map();
		this.count = 0;
	}
}
