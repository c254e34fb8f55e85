import { b64uByteLength } from "../../../common/encoding.ts";
import type { ReadFrame, ReceiptFrame } from "../../../common/protocol/wire.ts";
import { getContact } from "../contacts/contact-book.ts";
import type { RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketState } from "../sockets/socket-state.ts";

/**
 * Sealed bytes of read receipts an account may send a day. A read receipt is free, and
 * unlike a delivery receipt it cannot be tied to an ack (people read later), so this budget
 * is what keeps it from being a free channel: a receipt for a handful of messages is about
 * 300 bytes, so a day's budget is thousands of them.
 */
export const READ_RECEIPT_BYTES_PER_DAY = 1024 * 1024;
const DAY_MS = 86_400_000;

/** Read receipts from this account's devices to a contact's: checked, metered, passed on as sealed. */
export class ReadReceipts {
	constructor(private readonly host: RelayHost) {}

	send(state: SocketState, frame: ReadFrame): RelayResult<true> {
		const { sql } = this.host;
		const contact = getContact(sql, frame.to);
		if (!contact || contact.state !== "accepted") return refuse("not_a_contact", "Read receipts go to accepted contacts only.");
		const now = this.host.now();
		const day = Math.floor(now / DAY_MS);
		const bytes = b64uByteLength(frame.receipt.box);
		const used = sql.exec<{ bytes: number }>("SELECT bytes FROM read_receipt_budget WHERE day = ?", day).toArray()[0]?.bytes ?? 0;
		if (used + bytes > READ_RECEIPT_BYTES_PER_DAY) {
			return refuse("quota_exceeded", "Too many read receipts today.", (day + 1) * DAY_MS - now);
		}
		sql.exec(
			"INSERT INTO read_receipt_budget (day, bytes) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET bytes = bytes + excluded.bytes",
			day,
			bytes,
		);
		// The day's first receipt (nothing used yet) clears the days before; the others need not look.
		if (used === 0) sql.exec("DELETE FROM read_receipt_budget WHERE day < ?", day);
		const passed: ReceiptFrame = { type: "receipt", from: state.accountId, fromDevice: state.deviceId, ...frame.receipt };
		this.host.waitUntil(
			this.host
				.peer(frame.to)
				.receipt(passed)
				.catch(() => undefined),
		);
		return ok(true);
	}
}
