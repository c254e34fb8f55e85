import { sealedFileSize } from "../../../common/file-layout.ts";
import type { HistoryTransfer } from "../../../common/protocol/wire.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";

/**
 * The rules of a history transfer to a newly linked device, pure so each is testable without
 * a runtime. The relay holds only the offer box and a sealed archive it cannot open, so what
 * it decides is narrow: which end of a transfer may do what in which state, how long a
 * transfer lives, and which archive length it takes.
 */

/**
 * The one answer for a transfer a device may not touch: one that never existed, one that
 * ended or expired, and one of two other devices all read the same, so a device learns
 * nothing of transfers that are not its own.
 */
export const NO_SUCH_TRANSFER = "No such history transfer.";

/** What a device asks of a transfer: the approving device uploads, the new one downloads and imports, either skips. */
export type HistoryAction = "upload" | "download" | "import" | "skip";

/** When a transfer set at `now` expires: the hour starts at the offer and again at the upload. */
export const expiresFrom = (now: number, ttlMs: number): number => now + ttlMs;

/** Past its expiry a transfer is gone, whether or not the alarm has swept it yet. */
export const isLive = (t: HistoryTransfer, now: number): boolean => t.expiresAt > now;

/**
 * Why `deviceId` may not do `action` with `t` now, or null. Only the approving device
 * (`fromDevice`) uploads, and again after a failed or partial try (the new archive replaces
 * the old); only the new device (`toDevice`) downloads and imports, once the archive is
 * there; either may skip. The wrong end is refused as if the transfer did not exist.
 */
export function historyRefusal(
	t: HistoryTransfer | undefined,
	deviceId: string,
	action: HistoryAction,
	now: number,
): RelayResult<never> | null {
	if (!t || !isLive(t, now)) return refuse("not_found", NO_SUCH_TRANSFER);
	const isFrom = t.fromDevice === deviceId;
	const isTo = t.toDevice === deviceId;
	const mayAct = action === "upload" ? isFrom : action === "skip" ? isFrom || isTo : isTo;
	if (!mayAct) return refuse("not_found", NO_SUCH_TRANSFER);
	if ((action === "download" || action === "import") && t.state !== "uploaded") {
		return refuse("conflict", "The history archive is not uploaded yet.");
	}
	return null;
}

/**
 * The sealed archive's length from its Content-Length, before a byte of it is read: it must
 * be sent (R2 takes a stream only of known length, and the cap is checked on it), at most
 * `maxBytes`, and no shorter than the smallest sealed file (an empty one), which nothing
 * shorter can be.
 */
export function archiveLength(header: string | null, maxBytes: number): RelayResult<number> {
	if (header === null || !/^\d{1,16}$/.test(header)) {
		return refuse("bad_request", "Send the sealed archive with its exact Content-Length.");
	}
	const length = Number(header);
	if (length > maxBytes) {
		return refuse("too_large", `A sealed history archive is at most ${Math.floor((maxBytes / (1024 * 1024)) * 100) / 100} MiB.`);
	}
	if (length < sealedFileSize(0)) return refuse("bad_request", "The archive is shorter than any sealed archive can be.");
	return ok(length);
}
