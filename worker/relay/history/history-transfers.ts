import type { EndHistoryRequest, HistoryOffer, HistoryState, HistoryTransfer, ServerFrame } from "../../../common/protocol/wire.ts";
import type { BlobBin } from "../attachments/blob-bin.ts";
import type { TimedJob } from "../deadline-scheduler.ts";
import type { JobName, RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { expiresFrom, historyRefusal, NO_SUCH_TRANSFER } from "./history-rules.ts";
import {
	deleteTransfer,
	earliestTransferExpiry,
	expiredTransfers,
	getTransfer,
	historyBlobKey,
	insertTransfer,
	liveTransfersOf,
	markOffered,
	markUploaded,
	transfersWith,
} from "./history-store.ts";

interface Needs {
	readonly hub: SocketHub;
	readonly bin: BlobBin;
}

/**
 * History for a newly linked device: the approving device offers it inside the approval (the
 * archive's one-time key sealed for the new device), uploads the sealed archive, and the new
 * device downloads it and says it imported it, or either gives up. The relay keeps the offer
 * and the archive as ciphertext only, for an hour at most, and deletes both when the transfer
 * ends, expires, or either device is removed. Free of credits and quotas: it is one person's
 * data moving between their own devices. The rules are in history-rules.ts.
 */
export class HistoryTransfers implements TimedJob<JobName> {
	readonly name = "history-expiry";

	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	/** Checked with the rest of the approval, before anything is written: an id is used once. */
	offerRefusal(offer: HistoryOffer): RelayResult<never> | null {
		if (getTransfer(this.host.sql, offer.transferId)) return refuse("conflict", "This history transfer id is in use. Make a new one.");
		return null;
	}

	/** The approval went through (inside its change, so nothing comes between): the transfer is `offered`. */
	async offer(from: { deviceId: string; publicKey: string }, toDevice: string, offer: HistoryOffer): Promise<void> {
		const now = this.host.now();
		const expiresAt = expiresFrom(now, this.host.config().historyTransferTtlMs);
		const { transferId, nonce, box } = offer;
		insertTransfer(this.host.sql, {
			transferId,
			fromDevice: from.deviceId,
			fromPublicKey: from.publicKey,
			toDevice,
			nonce,
			box,
			createdAt: now,
			expiresAt,
		});
		await this.host.schedule("history-expiry", expiresAt);
	}

	/** GET /api/devices/history: the live transfers this device sends or receives. */
	list(deviceId: string): RelayResult<{ transfers: HistoryTransfer[] }> {
		return ok({ transfers: liveTransfersOf(this.host.sql, deviceId, this.host.now()) });
	}

	/** May `deviceId` upload the archive now? Returns the largest one it may send. */
	beginUpload(deviceId: string, transferId: string): RelayResult<number> {
		const refusal = historyRefusal(getTransfer(this.host.sql, transferId), deviceId, "upload", this.host.now());
		return refusal ?? ok(this.host.config().historyArchiveMaxBytes);
	}

	/**
	 * The archive is in R2 (`size` bytes; null: the put landed short and what is under the key
	 * is no archive). A put can outlast its transfer: if it ended, expired or its device was
	 * removed meanwhile, the archive has no row to be found by and is deleted here, not orphaned.
	 */
	async finishUpload(deviceId: string, transferId: string, size: number | null): Promise<RelayResult<true>> {
		const now = this.host.now();
		const key = historyBlobKey(this.host.accountId, transferId);
		const found = getTransfer(this.host.sql, transferId);
		if (historyRefusal(found, deviceId, "upload", now)) {
			await this.s.bin.remove(key);
			return refuse("not_found", `${NO_SUCH_TRANSFER} It ended before the upload finished; nothing was kept.`);
		}
		const t = found as HistoryTransfer;
		if (size === null) {
			// The new device may have heard of an earlier upload: it waits for the next one now.
			markOffered(this.host.sql, transferId);
			this.tell(t, { type: "history", transferId, state: "offered" });
			await this.s.bin.remove(key);
			return ok(true);
		}
		const expiresAt = expiresFrom(now, this.host.config().historyTransferTtlMs);
		markUploaded(this.host.sql, transferId, size, expiresAt);
		await this.host.schedule("history-expiry", expiresAt);
		this.tell(t, { type: "history", transferId, state: "uploaded", size });
		return ok(true);
	}

	/** May `deviceId` fetch the archive? Only the new device, once it is uploaded; a fetch deletes nothing, so a broken one can be retried. */
	mayDownload(deviceId: string, transferId: string): RelayResult<true> {
		return historyRefusal(getTransfer(this.host.sql, transferId), deviceId, "download", this.host.now()) ?? ok(true);
	}

	/** POST /api/devices/history/:transferId/end: the new device imported the archive, or either device gives up on it. */
	async end(deviceId: string, transferId: string, outcome: EndHistoryRequest["outcome"]): Promise<RelayResult<true>> {
		const t = getTransfer(this.host.sql, transferId);
		const refusal = historyRefusal(t, deviceId, outcome === "imported" ? "import" : "skip", this.host.now());
		if (refusal) return refusal;
		await this.drop(t as HistoryTransfer, outcome);
		return ok(true);
	}

	/**
	 * A removed device sends and receives nothing any more: its transfers go with their
	 * archives, and the other device hears `skipped` (the removed one is no longer approved,
	 * so it hears nothing). Called for every revoked device at every reload of the devices, so
	 * it costs one read when there is nothing to do.
	 */
	async forgetDevice(deviceId: string): Promise<void> {
		for (const t of transfersWith(this.host.sql, deviceId)) await this.drop(t, "skipped");
	}

	/** Transfers past their hour: the archive goes, fetched or not, and both devices hear `expired`. */
	async run(now: number): Promise<number | null> {
		for (const t of expiredTransfers(this.host.sql, now)) await this.drop(t, "expired");
		return earliestTransferExpiry(this.host.sql);
	}

	/**
	 * The row goes first, before anything is awaited: an upload that lands while R2 deletes the
	 * archive then finds no transfer and deletes its own archive (finishUpload), and a second
	 * end or the expiry finds nothing left to end. The bin retries a delete R2 fails.
	 */
	private async drop(t: HistoryTransfer, state: HistoryState): Promise<void> {
		// A sweep reads its rows before it awaits R2 for the first: one may have ended meanwhile.
		if (!getTransfer(this.host.sql, t.transferId)) return;
		deleteTransfer(this.host.sql, t.transferId);
		this.tell(t, { type: "history", transferId: t.transferId, state });
		await this.s.bin.remove(historyBlobKey(this.host.accountId, t.transferId));
	}

	/** Both devices of the transfer, while they are approved: nobody else hears of it. */
	private tell(t: HistoryTransfer, frame: ServerFrame): void {
		const { hub } = this.s;
		hub.push([...hub.socketsOfApproved(t.fromDevice), ...hub.socketsOfApproved(t.toDevice)], frame);
	}
}
