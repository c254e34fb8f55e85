import { DAY_MS } from "../abuse/send-limits.ts";
import { pruneActivity } from "./account/activity-log.ts";
import { pruneSentUploads } from "./attachments/attachment-store.ts";
import { sendsFlushedUpTo } from "./credits/credit-journal.ts";
import type { TimedJob } from "./deadline-scheduler.ts";
import { pruneLinks } from "./devices/link-store.ts";
import type { JobName, RelayHost } from "./host.ts";
import { pruneSent } from "./messaging/sent-messages.ts";

/**
 * Rows kept only for a while: the activity log (the limiter and the flags look back a day at
 * most), the record of sent messages (edits and deletes reach back as far as the queue) and
 * used or expired link codes (kept while a device that claimed one may still be waiting).
 * No deadline of its own: it runs with other alarms, at least an hour apart.
 */
export class Housekeeping implements TimedJob<JobName> {
	readonly name = "housekeeping";
	readonly atLeastEveryMs = 3_600_000;

	constructor(private readonly host: RelayHost) {}

	async run(now: number): Promise<null> {
		pruneActivity(this.host.sql, now - DAY_MS);
		const sentBefore = now - this.host.config().queueTtlMs;
		pruneSentUploads(this.host.sql, sentBefore);
		pruneSent(this.host.sql, sentBefore, sendsFlushedUpTo(this.host.sql));
		pruneLinks(this.host.sql, now, this.host.config().deviceJoins.lapseMs);
		return null;
	}
}
