import type { ClientFrame } from "../../common/protocol/wire.ts";

/** The relay pushes the next page of a backlog once half a page (50) is acked. */
const BATCH = 50;
const MAX_IDS_PER_FRAME = 500;

/**
 * Collects message ids and acks them in few frames: when a batch is full, and when the
 * incoming queue runs dry. Ids are unique per sender only, so each frame names the sender of
 * its ids: a contact's message under the id of another sender's leaves that one queued.
 */
export class AckBatcher {
	private bySender = new Map<string, string[]>();
	private count = 0;

	constructor(private readonly write: (frame: ClientFrame) => boolean) {}

	add(from: string, id: string): void {
		const ids = this.bySender.get(from) ?? [];
		ids.push(id);
		this.bySender.set(from, ids);
		if (++this.count >= BATCH) this.flush();
	}

	/** Ids that cannot be written are dropped: the relay delivers those messages again, and they are de-duplicated. */
	flush(): void {
		for (const [from, ids] of this.bySender) {
			for (let i = 0; i < ids.length; i += MAX_IDS_PER_FRAME) {
				this.write({ type: "ack", ids: ids.slice(i, i + MAX_IDS_PER_FRAME), from });
			}
		}
		this.bySender = new Map();
		this.count = 0;
	}
}
