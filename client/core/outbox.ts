import type { MessageKind, SendFrame, ServerFrame } from "../../common/protocol/wire.ts";
import { SdkError } from "./sdk-error.ts";

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
	/** When this send reached a limit: when the account may send again (this device's clock). */
	nextSendAt?: number;
}

/** What a caller of a send may pass: to be told while it waits for the send window, and to take it back. */
export interface SendOptions {
	/**
	 * Called with when the message is expected to go (this device's clock) while it waits for
	 * the account's rate limit or daily quota, and with null once it is on its way.
	 */
	onWait?: (sendsAt: number | null) => void;
	/** Aborting takes back a send that waits (it rejects as `cancelled`); once on the wire it goes on. */
	signal?: AbortSignal;
}

interface PendingSend {
	frame: SendFrame;
	sentAt: number;
	/** The connection this frame was last written on. */
	writtenOn: number;
	/** How many times it was written. */
	writes: number;
	/** The last time told to `onWait` (null: on its way), to tell only changes. */
	told: number | null | undefined;
	onWait: ((sendsAt: number | null) => void) | undefined;
	resolve: (receipt: SentReceipt) => void;
	reject: (error: SdkError) => void;
}

/** Refusals that only say "not yet": the send waits for the time they name instead of failing. */
const WAIT_CODES = new Set(["rate_limited", "quota_exceeded"]);

/**
 * How much longer a device waits than another device of the account that reached the limit:
 * that device may have more to send when the window opens, and its send and this one's would
 * reach the relay together, one of them refused (which counts toward a suspension). Its next
 * `send_window` arrives well within this, and this device holds on; with nothing more there,
 * this one goes. The device that sent last goes first.
 */
export const OTHER_DEVICE_GRACE_MS = 750;

/** The kinds the relay counts against the rate limit and the quota; the others never wait. */
const COUNTED: ReadonlySet<MessageKind> = new Set(["text", "attachment", "edit"]);

/**
 * Sends the relay has not confirmed, in the order they were made. An entry stays until its
 * `sent` frame or a refusal and is written again on every new connection, so a frame lost
 * with a socket is never lost for the user: at-least-once on the wire, and receivers
 * de-duplicate by message id.
 *
 * The account's rate limit and daily quota make sends wait instead of fail. The relay says
 * when the next send may go (`sent.nextSendAt`, `send_window` when another of the account's
 * devices sent, or a refusal's `retryAfter`); until then no counted send is written, and
 * while a limit holds they go one at a time, each after the answer to the one before. So the
 * person keeps writing, messages leave in order by themselves, nothing is charged before it
 * really goes, and the relay sees no send it would refuse: every refusal counts toward a
 * suspension. Reactions and deletes are outside the limits and never wait.
 */
export class Outbox {
	private readonly pending = new Map<string, PendingSend>();
	/** This device's clock: no counted send not yet written is written before. 0: no wait. */
	private holdUntil = 0;
	/**
	 * One counted send on the wire at a time. True from the start, so that messages written
	 * offline do not all reach the relay at once; false once a `sent` says the window is open.
	 */
	private paced = true;
	/** The last wait a `sent` named: the estimate for each message queued behind the first. */
	private gapMs = 0;

	get size(): number {
		return this.pending.size;
	}

	add(frame: SendFrame, sentAt: number, options: SendOptions = {}): Promise<SentReceipt> {
		return new Promise((resolve, reject) => {
			if (options.signal?.aborted) return reject(cancelled());
			this.pending.set(frame.id, { frame, sentAt, writtenOn: -1, writes: 0, told: undefined, onWait: options.onWait, resolve, reject });
		});
	}

	/**
	 * Write, in order, every entry not yet written on `connection`, stopping at the first that
	 * cannot be written; counted sends only once the window is open, and while the limit holds
	 * one after the other. Returns how long until the window opens, when something waits for it.
	 */
	flush(connection: number, write: (frame: SendFrame) => boolean, now: number): number | null {
		let countedOnWire = 0;
		let waiting = 0;
		for (const entry of this.pending.values()) {
			const counted = COUNTED.has(entry.frame.kind);
			if (entry.writtenOn === connection) {
				if (counted) countedOnWire++;
				continue;
			}
			if (counted && (waiting > 0 || now < this.holdUntil || (this.paced && countedOnWire > 0))) {
				this.tell(entry, this.estimate(waiting, countedOnWire, now));
				waiting++;
				continue;
			}
			if (!write(entry.frame)) return null;
			entry.writtenOn = connection;
			entry.writes++;
			this.tell(entry, null);
			if (counted) countedOnWire++;
		}
		return waiting > 0 && now < this.holdUntil ? this.holdUntil - now : null;
	}

	/**
	 * The relay accepted a send; false if it is not (or no longer) pending, e.g. the answer to a
	 * re-send. `nextSendAt` (the relay's clock, beside its `at`) is when the account may send again.
	 */
	settle(sent: Extract<ServerFrame, { type: "sent" }>, now: number): boolean {
		const entry = this.pending.get(sent.id);
		if (sent.nextSendAt !== undefined) this.limitReached(sent.nextSendAt - sent.at, now);
		// The answer to a re-send was not counted now: it says nothing about the window.
		else if (entry?.writes === 1) this.paced = false;
		if (!entry) return false;
		this.pending.delete(sent.id);
		const { id, at, credits, quotaLeft, nextSendAt } = sent;
		entry.resolve({
			id,
			sentAt: entry.sentAt,
			acceptedAt: at,
			...(credits !== undefined && { credits }),
			...(quotaLeft !== undefined && { quotaLeft }),
			...(nextSendAt !== undefined && { nextSendAt: now + (nextSendAt - at) }),
		});
		return true;
	}

	/** Another device of the account reached a limit: wait as if this one had, and a little longer. */
	windowFrom(frame: Extract<ServerFrame, { type: "send_window" }>, now: number): void {
		this.limitReached(frame.nextSendAt - frame.at + OTHER_DEVICE_GRACE_MS, now);
	}

	/**
	 * The relay refused a send. "Not yet" (the rate limit, the daily quota, with the time they
	 * free: another device may have sent first, or a re-send was counted the first time) keeps
	 * it, to be written again then; anything else fails it. Returns whether `id` was pending.
	 */
	refuse(id: string, error: SdkError, now: number): boolean {
		const entry = this.pending.get(id);
		if (!entry) return false;
		if (WAIT_CODES.has(error.code) && error.retryAfter !== undefined) {
			entry.writtenOn = -1;
			this.holdUntil = Math.max(this.holdUntil, now + Math.max(0, error.retryAfter));
			this.paced = true;
			return true;
		}
		this.fail(id, error);
		return true;
	}

	/** Take back a send that waits: it fails as `cancelled`. False once written (it goes on) or unknown. */
	cancel(id: string, connection: number): boolean {
		const entry = this.pending.get(id);
		if (!entry || entry.writtenOn === connection) return false;
		return this.fail(id, cancelled());
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

	private limitReached(waitMs: number, now: number): void {
		const wait = Math.max(0, waitMs);
		this.holdUntil = Math.max(this.holdUntil, now + wait);
		this.paced = true;
		// A quota's wait is hours; the messages behind the first still go one window apart.
		if (wait > 0 && (this.gapMs === 0 || wait < this.gapMs)) this.gapMs = wait;
	}

	/**
	 * When the `waiting`-th send held back goes: the first when the window opens (or one
	 * window after the send on the wire), each further one a window later. An estimate: the
	 * relay's answer to each send sets the real time.
	 */
	private estimate(waiting: number, onWire: number, now: number): number {
		const start = Math.max(now, this.holdUntil) + (onWire > 0 && now >= this.holdUntil ? this.gapMs : 0);
		return start + waiting * this.gapMs;
	}

	private tell(entry: PendingSend, sendsAt: number | null): void {
		// Within a second is the same time for the person; a new call for every flush would re-render for nothing.
		if (entry.told === sendsAt || (entry.told != null && sendsAt !== null && Math.abs(entry.told - sendsAt) < 1000)) return;
		if (entry.told === undefined && sendsAt === null) {
			entry.told = null;
			return;
		}
		entry.told = sendsAt;
		entry.onWait?.(sendsAt);
	}
}

const cancelled = () => new SdkError("cancelled", "The message was taken back before it was sent.");
