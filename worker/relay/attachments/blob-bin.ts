import type { TimedJob } from "../deadline-scheduler.ts";
import type { JobName, RelayHost } from "../host.ts";
import { blobDeleted, deferBlobDeletion, deferredBlobDeletions } from "./attachment-store.ts";

/** How soon R2 deletes that failed are tried again. */
const R2_RETRY_MS = 60_000;

/**
 * Deleting blobs from R2. An R2 outage must not fail what asked for it (a delete message, a
 * download, an expiry): the key is kept and retried until R2 answers, so no blob is orphaned.
 */
export class BlobBin implements TimedJob<JobName> {
	readonly name = "blob-retry";

	constructor(private readonly host: RelayHost) {}

	async remove(key: string): Promise<void> {
		if (await this.tryDelete(key)) return;
		const now = this.host.now();
		deferBlobDeletion(this.host.sql, key, now);
		await this.host.schedule("blob-retry", now + R2_RETRY_MS);
	}

	async run(now: number): Promise<number | null> {
		for (const key of deferredBlobDeletions(this.host.sql)) {
			if (!(await this.tryDelete(key))) break;
			blobDeleted(this.host.sql, key);
		}
		// Read after the awaits: a delete that failed meanwhile is in the table too, and its retry must not be skipped.
		return deferredBlobDeletions(this.host.sql).length > 0 ? now + R2_RETRY_MS : null;
	}

	private async tryDelete(key: string): Promise<boolean> {
		try {
			await this.host.blobs.delete(key);
			return true;
		} catch (err) {
			console.error(JSON.stringify({ event: "r2_delete_failed", name: err instanceof Error ? err.name : typeof err }));
			return false;
		}
	}
}
