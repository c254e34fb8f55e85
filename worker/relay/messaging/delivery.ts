import type { ReceiptFrame, SealedReceipt } from "../../../common/protocol/wire.ts";
import type { AttachmentService } from "../attachments/attachment-service.ts";
import { grantAttachment } from "../attachments/attachment-store.ts";
import { getContact } from "../contacts/contact-book.ts";
import type { TimedJob } from "../deadline-scheduler.ts";
import { approvedDeviceIds, deviceStatus } from "../devices/device-cache.ts";
import type { JobName, RelayHost } from "../host.ts";
import type { PushNotifier } from "../push/push-notifier.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import type { SocketState } from "../sockets/socket-state.ts";
import { readMeta, writeMeta } from "../storage/storage-schema.ts";
import type { HeldMessages } from "./held-messages.ts";
import { ackMessages, earliestExpiry, enqueueAll, expireQueue, queueStats, removeQueued, replaceQueued } from "./message-queue.ts";
import { fitsQueue, type QueueCaps } from "./queue-caps.ts";
import type { QueueItem } from "./queue-item.ts";
import { earliestReceiptExpiry, expireReceipts, queueReceipt } from "./receipt-queue.ts";
import { countReceived } from "./received-counts.ts";

interface Needs {
	readonly hub: SocketHub;
	readonly attachments: AttachmentService;
	readonly push: PushNotifier;
	readonly held: HeldMessages;
}

/**
 * What the recipient's object answers a delivered message with: the sealed receipts its
 * devices acked the message with while it was held (the sender's object passes them on to
 * its devices itself, with no call back).
 */
export interface Delivered {
	receipts: ReceiptFrame[];
}

const NONE: Delivered = { receipts: [] };

/**
 * Messages into per-device queues, all or nothing, pushed where a device is online: the
 * recipient's side of a send, and the sender's own other devices (sent sync). Entries stay
 * until their device acks them or they expire.
 */
export class Delivery implements TimedJob<JobName> {
	readonly name = "queue-expiry";

	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	private caps(): QueueCaps {
		const config = this.host.config();
		return { maxMessages: config.queueMaxMessages, maxBytes: config.queueMaxBytes };
	}

	/**
	 * In the recipient's object: queue for each approved device, push where online. Answers
	 * once every device has the message on disk here or has acked it (a held message).
	 */
	async accept(item: QueueItem): Promise<RelayResult<Delivered>> {
		const contact = getContact(this.host.sql, item.from);
		if (contact?.state === "blocked") return this.dropBlocked(item);
		if (!contact || contact.state !== "accepted") return refuse("not_a_contact", "You can only message accepted contacts.");
		const result = await this.apply(approvedDeviceIds(this.host.sql), item, this.caps(), item.noHold !== true);
		if (result === "full") return refuse("recipient_queue_full", "The recipient has too many undelivered messages. Try later.");
		// A delete carries nothing to read; everything else is something the sender wrote to this account.
		if (item.kind !== "delete") countReceived(this.host.sql, item.from);
		// Devices without an open socket hear of it by Web Push, in the background (push/push-notifier.ts).
		this.s.push.messageQueued(item.kind, approvedDeviceIds(this.host.sql));
		if (item.attachmentId !== undefined) await this.s.attachments.grant(item.attachmentId, item.from, item.msgId);
		// The sender's own message only: an id names a message of one sender, not of the account.
		if (item.kind === "delete" && item.replaces !== undefined) await this.s.attachments.revokeGrantsOf(item.from, item.replaces);
		return ok(result);
	}

	/**
	 * A message from a contact this account blocked. Blocking is silent, so the sender hears
	 * what any delivered message answers (its object charges and counts it as it would) — but
	 * nothing of it is kept here: no queue entry, no received count, no receipt (nothing is
	 * acked), and an unblock later finds nothing to deliver. An attached file is offered to
	 * no device and none waits for it; its blob lives out the time an unfetched one would
	 * (the sender's own devices may still fetch it, as they could otherwise), then goes.
	 */
	private async dropBlocked(item: QueueItem): Promise<RelayResult<Delivered>> {
		if (item.attachmentId !== undefined) {
			const expiresAt = this.host.now() + this.host.config().queueTtlMs;
			grantAttachment(this.host.sql, { attachmentId: item.attachmentId, owner: item.from, msgId: item.msgId, expiresAt, deviceIds: [] });
			await this.host.schedule("grant-expiry", expiresAt);
		}
		return ok(NONE);
	}

	/** Whether every one of these devices has room for `bytes` more. */
	fits(deviceIds: readonly string[], bytes: number): boolean {
		const caps = this.caps();
		return deviceIds.every((d) => fitsQueue(queueStats(this.host.sql, d), bytes, caps));
	}

	/** In the sender's object, once the recipient has it: the sender's other devices, checked for room beforehand. */
	async syncToOwnDevices(deviceIds: string[], item: QueueItem): Promise<void> {
		// Never held: the sender's record is already written, so a copy held when the object
		// died would be missing from its other devices for good.
		await this.apply(deviceIds, item, null, false);
	}

	/**
	 * Queue one message for these devices, all or nothing under the caps. An edit takes the
	 * place of its original where that is still queued (the queue holds only the latest
	 * version); a delete removes its original from every queue, so it is never delivered, and
	 * is itself queued so that devices that already have the original remove it. Either one
	 * touches only its own sender's rows: ids are unique per sender, so another sender's
	 * message under the same id (a contact reusing it) is a different message.
	 */
	private async apply(deviceIds: string[], item: QueueItem, caps: QueueCaps | null, mayHold: boolean): Promise<Delivered | "full"> {
		const { sql } = this.host;
		if (caps && deviceIds.some((d) => !fitsQueue(queueStats(sql, d), item.bytes, caps))) return "full";
		const expiresAt = this.host.now() + this.host.config().queueTtlMs;
		let targets = deviceIds;
		if (item.replaces !== undefined && item.kind === "edit") targets = this.replaceQueued(deviceIds, item, item.replaces, expiresAt);
		if (item.replaces !== undefined && item.kind === "delete") {
			for (const deviceId of deviceIds) removeQueued(sql, deviceId, item.from, item.replaces);
		}
		return this.enqueue(targets, item, expiresAt, mayHold);
	}

	/** Devices whose queue still holds the original get the edit in its place; returns the rest. */
	private replaceQueued(deviceIds: string[], item: QueueItem, original: string, expiresAt: number): string[] {
		const rest: string[] = [];
		for (const deviceId of deviceIds) {
			const entry = { deviceId, msgId: item.msgId, fromAccount: item.from, frame: item.text, bytes: item.bytes, expiresAt };
			const seq = replaceQueued(this.host.sql, deviceId, original, entry);
			if (seq === null) rest.push(deviceId);
			else this.s.hub.pushReplaced(deviceId, seq, item.text);
		}
		return rest;
	}

	/**
	 * Queue the message for these devices and push it where they are caught up; a device
	 * whose socket acks at once is instead pushed it and held (held-messages.ts), and queued
	 * only if the hold ends without its ack. An attachment is never held: its grant is written
	 * after the message is accepted, and a device could ask for the file before that.
	 */
	private async enqueue(deviceIds: string[], item: QueueItem, expiresAt: number, mayHold: boolean): Promise<Delivered | "full"> {
		const { sql } = this.host;
		const holdMs = this.host.config().deliveryHoldMs;
		const entry = (deviceId: string) => ({
			deviceId,
			msgId: item.msgId,
			fromAccount: item.from,
			frame: item.text,
			bytes: item.bytes,
			expiresAt,
			...(item.replaces !== undefined && { replaces: item.replaces }),
		});
		const seqFloor = () => this.s.hub.highestSentUpTo();
		const holds: Array<Promise<ReceiptFrame | undefined | "queued">> = [];
		const queued: string[] = [];
		for (const deviceId of deviceIds) {
			const ws = mayHold && holdMs > 0 && item.attachmentId === undefined ? this.s.hub.holdableSocket(deviceId) : null;
			if (!ws) {
				queued.push(deviceId);
				continue;
			}
			// Pushed before anything is written, and held until the device acks it or the hold ends.
			this.s.hub.sendText(ws, item.text);
			holds.push(
				this.s.held.hold(ws, item.from, item.msgId, holdMs).then((end) => {
					if (end.acked) return end.receipt;
					// A device removed meanwhile (its socket was closed for it) gets nothing more.
					if (deviceStatus(sql, deviceId) !== "approved") return undefined;
					const written = enqueueAll(sql, [entry(deviceId)], null, seqFloor);
					if (written !== "full") for (const [d, seq] of written) this.s.hub.pushWritten(d, seq, item.text, ws);
					return "queued";
				}),
			);
		}
		const seqs = enqueueAll(sql, queued.map(entry), null, seqFloor);
		if (seqs === "full") return "full";
		this.s.hub.pushQueued(seqs, item.text);
		if (seqs.size > 0) await this.host.schedule("queue-expiry", expiresAt);
		if (holds.length === 0) return NONE;
		const ends = await Promise.all(holds);
		if (ends.includes("queued")) await this.host.schedule("queue-expiry", expiresAt);
		return { receipts: ends.filter((e): e is ReceiptFrame => e !== undefined && e !== "queued") };
	}

	/**
	 * A device stored these messages (of sender `from`, if named): they end their holds or
	 * leave its queue. Its sealed receipt goes to that sender only if the ack ended a hold or
	 * removed one of the sender's messages, so a receipt is never more than one per delivered
	 * message: with the answer to a `deliver` call still waiting on a hold, or else in a call of
	 * its own (best effort: it must not hold up the ack). The relay no longer says "delivered"
	 * itself: it cannot seal a receipt.
	 */
	ack(ws: WebSocket, state: SocketState, ids: readonly string[], from?: string, receipt?: SealedReceipt): void {
		const { ended, rest } = this.s.held.take(ws, ids, from);
		const bySender = rest.length > 0 ? ackMessages(this.host.sql, state.deviceId, rest, from) : new Map<string, string[]>();
		this.s.hub.acked(ws, state);
		const frame: ReceiptFrame | undefined =
			receipt !== undefined && from !== undefined && from !== state.accountId
				? { type: "receipt", from: state.accountId, fromDevice: state.deviceId, ...receipt }
				: undefined;
		// A sender still waiting on one of these messages takes the receipt back with its answer.
		const carrier = frame ? ended.findLast((e) => e.from === from) : undefined;
		for (const e of ended) e.end(e === carrier && frame ? { acked: true, receipt: frame } : { acked: true });
		if (!frame || carrier || from === undefined || !bySender.has(from)) return;
		this.host.waitUntil(
			this.host
				.peer(from)
				.receipt(frame)
				.catch(() => undefined),
		);
	}

	/**
	 * A contact's device sealed a receipt for messages of ours: pushed to this account's
	 * connected devices, and kept for the others until they connect.
	 */
	async receipt(frame: ReceiptFrame): Promise<void> {
		const { sql } = this.host;
		// Receipts come from accepted contacts only: a blocked one's are dropped, as its messages are.
		if (getContact(sql, frame.from)?.state !== "accepted") return;
		const text = JSON.stringify(frame);
		const offline: string[] = [];
		for (const deviceId of approvedDeviceIds(sql)) {
			const sockets = this.host.sockets.of(deviceId);
			if (sockets.length === 0) offline.push(deviceId);
			for (const ws of sockets) this.s.hub.sendText(ws, text);
		}
		if (offline.length === 0) return;
		const expiresAt = this.host.now() + this.host.config().queueTtlMs;
		queueReceipt(sql, offline, text, expiresAt);
		await this.host.schedule("queue-expiry", expiresAt);
	}

	/** Entries past their lifetime go; each device is told on its next connect how many it missed. */
	async run(now: number): Promise<number | null> {
		const { sql } = this.host;
		for (const [deviceId, lost] of expireQueue(sql, now)) {
			writeMeta(sql, `missed:${deviceId}`, String(Number(readMeta(sql, `missed:${deviceId}`) ?? 0) + lost));
		}
		expireReceipts(sql, now);
		const next = [earliestExpiry(sql), earliestReceiptExpiry(sql)].filter((at): at is number => at !== null);
		return next.length > 0 ? Math.min(...next) : null;
	}
}
