import type { ReceiptFrame } from "../../../common/protocol/wire.ts";

/** How a hold ended: the device acked the message (and maybe sealed a receipt for it), or it must be queued after all. */
export type HoldEnd = { acked: true; receipt?: ReceiptFrame } | { acked: false };

/** A hold an ack ended: whose message it was, and how to tell its waiting sender. */
export interface EndedHold {
	readonly from: string;
	readonly end: (end: HoldEnd) => void;
}

interface Hold extends EndedHold {
	readonly msgId: string;
	readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * Messages pushed to a caught-up device that acks at once, kept in memory only until it
 * does: a message acked within the hold is never written to the queue (its row and the
 * ack's delete were two of a text message's three rows written). One that is not acked in
 * time, or whose socket goes or is replaced, is queued as any other, so what the device has
 * not confirmed is on disk before the sender hears `sent`. If the object dies while holding,
 * the sender's `deliver` call fails: the send is refused as `internal`, nothing is recorded
 * or charged, and it can be sent again (a device that got it the first time drops the
 * repeated id).
 *
 * A socket whose hold ran out is lagging (a frozen tab, a slow link): it gets no holds until
 * it acks something, so a sender is never held up more than once by a device that is not
 * answering.
 */
export class HeldMessages {
	readonly #bySocket = new Map<WebSocket, Hold[]>();
	readonly #lagging = new WeakSet<WebSocket>();

	/** Whether a message for this socket may be held instead of queued. */
	mayHold(ws: WebSocket): boolean {
		return !this.#lagging.has(ws);
	}

	/** Wait up to `ms` for the socket's device to ack `from`'s message `msgId`, already pushed to it. */
	hold(ws: WebSocket, from: string, msgId: string, ms: number): Promise<HoldEnd> {
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.#lagging.add(ws);
				this.#remove(ws, hold);
				resolve({ acked: false });
			}, ms);
			const hold: Hold = { from, msgId, timer, end: resolve };
			const holds = this.#bySocket.get(ws) ?? [];
			holds.push(hold);
			this.#bySocket.set(ws, holds);
		});
	}

	/**
	 * The socket acked these ids (of sender `from`; of any sender for an ack that names none):
	 * the holds they end, removed but not yet told, so the caller can hand a receipt to one.
	 * Returns them with the ids they did not cover, which are the queue's to look up.
	 */
	take(ws: WebSocket, ids: readonly string[], from?: string): { ended: EndedHold[]; rest: string[] } {
		this.#lagging.delete(ws);
		const holds = this.#bySocket.get(ws);
		if (!holds) return { ended: [], rest: [...ids] };
		const ended: EndedHold[] = [];
		const rest: string[] = [];
		for (const id of ids) {
			const matched = holds.filter((h) => h.msgId === id && (from === undefined || h.from === from));
			if (matched.length === 0) rest.push(id);
			for (const hold of matched) {
				clearTimeout(hold.timer);
				this.#remove(ws, hold);
				ended.push(hold);
			}
		}
		return { ended, rest };
	}

	/** The socket closed or was replaced: everything held for it is queued now. */
	release(ws: WebSocket): void {
		const holds = this.#bySocket.get(ws);
		if (!holds) return;
		this.#bySocket.delete(ws);
		for (const hold of holds) {
			clearTimeout(hold.timer);
			hold.end({ acked: false });
		}
	}

	/** Messages held right now (tests check that no hold outlives its end). */
	get size(): number {
		let n = 0;
		for (const holds of this.#bySocket.values()) n += holds.length;
		return n;
	}

	#remove(ws: WebSocket, hold: Hold): void {
		const holds = this.#bySocket.get(ws);
		if (!holds) return;
		const at = holds.indexOf(hold);
		if (at >= 0) holds.splice(at, 1);
		if (holds.length === 0) this.#bySocket.delete(ws);
	}
}
