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
}
