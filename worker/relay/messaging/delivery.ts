import type { AttachmentService } from "../attachments/attachment-service.ts";
import { getContact } from "../contacts/contact-book.ts";
import type { TimedJob } from "../deadline-scheduler.ts";
import { approvedDeviceIds } from "../devices/device-cache.ts";
import type { JobName, RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import type { SocketState } from "../sockets/socket-state.ts";
import { readMeta, writeMeta } from "../storage/storage-schema.ts";
import { ackMessages, earliestExpiry, enqueueAll, expireQueue, queueStats, removeQueued, replaceQueued } from "./message-queue.ts";
import { fitsQueue, type QueueCaps } from "./queue-caps.ts";
import type { QueueItem } from "./queue-item.ts";
import { countReceived } from "./received-counts.ts";

interface Needs {
	readonly hub: SocketHub;
	readonly attachments: AttachmentService;
}

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

	/** In the recipient's object: queue for each approved device, push where online. */
	async accept(item: QueueItem): Promise<RelayResult<true>> {
		const contact = getContact(this.host.sql, item.from);
		if (!contact || contact.state !== "accepted") return refuse("not_a_contact", "You can only message accepted contacts.");
		const result = await this.apply(approvedDeviceIds(this.host.sql), item, this.caps());
		if (result === "full") return refuse("recipient_queue_full", "The recipient has too many undelivered messages. Try later.");
		// A delete carries nothing to read; everything else is something the sender wrote to this account.
		if (item.kind !== "delete") countReceived(this.host.sql, item.from);
		if (item.attachmentId !== undefined) await this.s.attachments.grant(item.attachmentId, item.from, item.msgId);
		// The sender's own message only: an id names a message of one sender, not of the account.
		if (item.kind === "delete" && item.replaces !== undefined) await this.s.attachments.revokeGrantsOf(item.from, item.replaces);
		return ok(true);
	}

	/** Whether every one of these devices has room for `bytes` more. */
	fits(deviceIds: readonly string[], bytes: number): boolean {
		const caps = this.caps();
		return deviceIds.every((d) => fitsQueue(queueStats(this.host.sql, d), bytes, caps));
	}

	/** In the sender's object, once the recipient has it: the sender's other devices, checked for room beforehand. */
	async syncToOwnDevices(deviceIds: string[], item: QueueItem): Promise<void> {
		await this.apply(deviceIds, item, null);
	}

	/**
	 * Queue one message for these devices, all or nothing under the caps. An edit takes the
	 * place of its original where that is still queued (the queue holds only the latest
	 * version); a delete removes its original from every queue, so it is never delivered, and
	 * is itself queued so that devices that already have the original remove it. Either one
	 * touches only its own sender's rows: ids are unique per sender, so another sender's
	 * message under the same id (a contact reusing it) is a different message.
	 */
	private async apply(deviceIds: string[], item: QueueItem, caps: QueueCaps | null): Promise<"ok" | "full"> {
		const { sql } = this.host;
		if (caps && deviceIds.some((d) => !fitsQueue(queueStats(sql, d), item.bytes, caps))) return "full";
		const expiresAt = this.host.now() + this.host.config().queueTtlMs;
		let targets = deviceIds;
		if (item.replaces !== undefined && item.kind === "edit") targets = this.replaceQueued(deviceIds, item, item.replaces, expiresAt);
		if (item.replaces !== undefined && item.kind === "delete") {
			for (const deviceId of deviceIds) removeQueued(sql, deviceId, item.from, item.replaces);
		}
		return this.enqueue(targets, item, expiresAt);
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

	private async enqueue(deviceIds: string[], item: QueueItem, expiresAt: number): Promise<"ok" | "full"> {
		const entries = deviceIds.map((deviceId) => ({
			deviceId,
			msgId: item.msgId,
			fromAccount: item.from,
			frame: item.text,
			bytes: item.bytes,
			expiresAt,
			...(item.replaces !== undefined && { replaces: item.replaces }),
		}));
		const seqs = enqueueAll(this.host.sql, entries, null);
		if (seqs === "full") return "full";
		this.s.hub.pushQueued(seqs, item.text);
		if (seqs.size > 0) await this.host.schedule("queue-expiry", expiresAt);
		return "ok";
	}

	/** A device stored these messages (of sender `from`, if named): they leave its queue, and each sender hears it (best effort). */
	ack(ws: WebSocket, state: SocketState, ids: readonly string[], from?: string): void {
		const bySender = ackMessages(this.host.sql, state.deviceId, ids, from);
		this.s.hub.acked(ws, state);
		for (const [sender, acked] of bySender) {
			if (sender === state.accountId) continue;
			// Receipts must not hold up the ack.
			this.host.waitUntil(
				this.host
					.peer(sender)
					.receipt(state.accountId, state.deviceId, acked)
					.catch(() => undefined),
			);
		}
	}

	/** A recipient device stored messages of ours: this account's devices are told. */
	receipt(to: string, deviceId: string, ids: string[]): void {
		this.s.hub.broadcast({ type: "delivered", ids, to, deviceId });
	}

	/** Entries past their lifetime go; each device is told on its next connect how many it missed. */
	async run(now: number): Promise<number | null> {
		const { sql } = this.host;
		for (const [deviceId, lost] of expireQueue(sql, now)) {
			writeMeta(sql, `missed:${deviceId}`, String(Number(readMeta(sql, `missed:${deviceId}`) ?? 0) + lost));
		}
		return earliestExpiry(sql);
	}
}
