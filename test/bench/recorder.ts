/**
 * Send and arrival times by message id, taken on the wire: a send when its frame is handed to
 * the socket, an arrival when the recipient's socket delivers the frame, before any parsing,
 * decryption or acking. Times come from process.hrtime, which all threads of the process share.
 */

/** Milliseconds on the process-wide monotonic clock. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Samples {
	/** [id, ms] of the first write of each message. */
	sends: Array<[string, number]>;
	/** [id, ms] of the first arrival of each message. */
	arrivals: Array<[string, number]>;
	/** Frames of a message written again (the SDK re-sends unconfirmed frames after a reconnect). */
	rewrites: number;
	/** Arrivals of a message already seen. */
	duplicates: number;
	/** First arrivals of messages sent in an earlier run of this thread (late beyond that run's drain). */
	late: number;
}

export class Recorder {
	private sendTimes = new Map<string, number>();
	private arrivalTimes = new Map<string, number>();
	private rewrites = 0;
	private duplicates = 0;
	private late = 0;
	/** Every id this thread ever sent, to tell a late arrival from an unknown one. */
	private readonly everSent = new Set<string>();

	sent(id: string, at = now()): void {
		if (this.sendTimes.has(id)) this.rewrites++;
		else this.sendTimes.set(id, at);
		this.everSent.add(id);
	}

	/** True for the first arrival of `id`. */
	arrived(id: string, at = now()): boolean {
		if (this.arrivalTimes.has(id)) {
			this.duplicates++;
			return false;
		}
		if (!this.sendTimes.has(id) && this.everSent.has(id)) {
			this.late++;
			return false;
		}
		this.arrivalTimes.set(id, at);
		return true;
	}

	hasArrived(id: string): boolean {
		return this.arrivalTimes.has(id);
	}

	counts(): { sent: number; arrived: number } {
		return { sent: this.sendTimes.size, arrived: this.arrivalTimes.size };
	}

	/** Hand over everything recorded so far and start afresh. */
	take(): Samples {
		const samples: Samples = {
			sends: [...this.sendTimes],
			arrivals: [...this.arrivalTimes],
			rewrites: this.rewrites,
			duplicates: this.duplicates,
			late: this.late,
		};
		this.sendTimes = new Map();
		this.arrivalTimes = new Map();
		this.rewrites = 0;
		this.duplicates = 0;
		this.late = 0;
		return samples;
	}
}

const SEND_PREFIX = '{"type":"send","id":"';
const MESSAGE_PREFIX = '{"type":"message","id":"';
const ID_CHARS = 22;
/** Characters of a frame that hold its type and id. */
export const FRAME_HEAD = MESSAGE_PREFIX.length + ID_CHARS;

/** The id of a client `send` frame as the SDK writes it (`type` first, then `id`), or null. */
export function sendFrameId(text: string): string | null {
	return text.startsWith(SEND_PREFIX) ? text.slice(SEND_PREFIX.length, SEND_PREFIX.length + ID_CHARS) : null;
}

/** The id of a relay `message` frame as the relay writes it, or null. */
export function messageFrameId(text: string): string | null {
	return text.startsWith(MESSAGE_PREFIX) ? text.slice(MESSAGE_PREFIX.length, MESSAGE_PREFIX.length + ID_CHARS) : null;
}
