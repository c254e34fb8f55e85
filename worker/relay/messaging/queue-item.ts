import type { MessageKind } from "../../../common/protocol/wire.ts";

/** A message on its way into queues: the exact frame text plus what the relay must know about it. */
export interface QueueItem {
	msgId: string;
	from: string;
	kind: MessageKind;
	text: string;
	bytes: number;
	replaces?: string;
	attachmentId?: string;
	/**
	 * The sender has more sends waiting behind this one: queue it rather than hold it for the
	 * device's ack (held-messages.ts), so a burst waits out at most one round trip to a device.
	 */
	noHold?: true;
}
