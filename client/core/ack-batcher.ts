import type { ClientFrame } from "../../common/protocol/wire.ts";

/** The relay pushes the next page of a backlog once half a page (50) is acked. */
const BATCH = 50;
const MAX_IDS_PER_FRAME = 500;

/** Collects message ids and acks them in few frames: when a batch is full, and when the incoming queue runs dry. */
export class AckBatcher {
	private ids: string[] = [];

	constructor(private readonly write: (frame: ClientFrame) => boolean) {}

	add(id: string): void {
		this.ids.push(id);
		if (this.ids.length >= BATCH) this.flush();
	}

	/** Ids that cannot be written are dropped: the relay delivers those messages again, and they are de-duplicated. */
	flush(): void {
		for (let i = 0; i < this.ids.length; i += MAX_IDS_PER_FRAME) {
			this.write({ type: "ack", ids: this.ids.slice(i, i + MAX_IDS_PER_FRAME) });
		}
		this.ids = [];
	}
}
