import type { SendFrame, ServerFrame } from "../../common/protocol/wire.ts";
import type { SdkError } from "./sdk-error.ts";

export interface SentReceipt {
	id: string;
	/** The sender's clock, as sealed into the message. */
	sentAt: number;
	/** The relay's clock when it accepted the message. */
	acceptedAt: number;
	/** Credits left after this send, when the relay says. */
	credits?: number;
	/** Sends left today; null for unlimited. */
	quotaLeft?: number | null;
}

interface PendingSend {
	frame: SendFrame;
	sentAt: number;
	/** The connection this frame was last written on. */
	writtenOn: number;
	/** How many connections it was written on. */
	writes: number;
	resolve: (receipt: SentReceipt) => void;
	reject: (error: SdkError) => void;
}

/**
 * Sends the relay has not confirmed, in the order they were made. An entry stays until its
 * `sent` frame or a refusal and is written again on every new connection, so a frame lost
 * with a socket is never lost for the user: at-least-once on the wire, and receivers
 * de-duplicate by message id.
 */
export class Outbox {
	private readonly pending = new Map<string, PendingSend>();

	get size(): number {
		return this.pending.size;
	}

	add(frame: SendFrame, sentAt: number): Promise<SentReceipt> {
		return new Promise((resolve, reject) => {
			this.pending.set(frame.id, { frame, sentAt, writtenOn: -1, writes: 0, resolve, reject });
		});
	}

	/** Write every entry not yet written on `connection`, in order, stopping at the first that cannot be written. */
	flush(connection: number, write: (frame: SendFrame) => boolean): void {
		for (const entry of this.pending.values()) {
			if (entry.writtenOn === connection) continue;
			if (!write(entry.frame)) return;
			entry.writtenOn = connection;
			entry.writes++;
		}
	}

	/** The relay accepted a send; false if it is not (or no longer) pending, e.g. the answer to a re-send. */
	settle(sent: Extract<ServerFrame, { type: "sent" }>): boolean {
		const entry = this.pending.get(sent.id);
		if (!entry) return false;
		this.pending.delete(sent.id);
		const { id, at, credits, quotaLeft } = sent;
		entry.resolve({
			id,
			sentAt: entry.sentAt,
			acceptedAt: at,
			...(credits !== undefined && { credits }),
			...(quotaLeft !== undefined && { quotaLeft }),
		});
		return true;
	}

	/**
	 * The relay refused a send. A frame written more than once may have been accepted the
	 * first time (the `sent` was lost with the socket) and counted against the rate limit, which
	 * would refuse the re-send: such a refusal is waited out and the frame written again instead
	 * of failing a message the recipient may already have. Returns whether `id` was pending,
	 * and after how long to flush again if it stays pending.
	 */
	refuse(id: string, error: SdkError): { pending: boolean; retryInMs?: number } {
		const entry = this.pending.get(id);
		if (!entry) return { pending: false };
		if (entry.writes > 1 && error.code === "rate_limited" && error.retryAfter !== undefined) {
			entry.writtenOn = -1;
			return { pending: true, retryInMs: error.retryAfter };
		}
		this.fail(id, error);
		return { pending: true };
	}

	fail(id: string, error: SdkError): boolean {
		const entry = this.pending.get(id);
		if (!entry) return false;
		this.pending.delete(id);
		entry.reject(error);
		return true;
	}

	failAll(error: SdkError): void {
		for (const id of [...this.pending.keys()]) this.fail(id, error);
	}
}
