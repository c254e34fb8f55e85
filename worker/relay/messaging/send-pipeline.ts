import { b64uByteLength } from "../../../common/encoding.ts";
import { MAX_SEALED_REACTION_BYTES, type ReceiptFrame, type SendFrame, type ServerFrame } from "../../../common/protocol/wire.ts";
import type { CachedAccount } from "../account/account-cache.ts";
import type { AccountState } from "../account/account-state.ts";
import type { SendAllowance } from "../account/send-allowance.ts";
import type { AttachmentService } from "../attachments/attachment-service.ts";
import { getUpload, type Upload } from "../attachments/attachment-store.ts";
import type { ContactService } from "../contacts/contact-service.ts";
import type { CreditAccount } from "../credits/credit-account.ts";
import type { CreditFlush } from "../credits/credit-flush.ts";
import { chargeSent, settleCharge } from "../credits/credit-journal.ts";
import { approvedDeviceIds } from "../devices/device-cache.ts";
import type { DeviceRegistry } from "../devices/device-registry.ts";
import type { RelayHost } from "../host.ts";
import { Lane } from "../lane.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import { routingHeader } from "../routing-header.ts";
import type { Delivered, Delivery } from "./delivery.ts";
import type { QueueItem } from "./queue-item.ts";
import { markSentDeleted, recordSent, sentMessage } from "./sent-messages.ts";

interface Needs {
	readonly account: AccountState;
	readonly allowance: SendAllowance;
	readonly devices: DeviceRegistry;
	readonly contacts: ContactService;
	readonly credits: CreditAccount;
	readonly flush: CreditFlush;
	readonly attachments: AttachmentService;
	readonly delivery: Delivery;
}

export interface SentReceipt {
	at: number;
	credits: number;
	quotaLeft: number | null;
	/** After a send that reached a limit: when the account may send again (this relay's clock). */
	nextSendAt?: number;
}

/**
 * A send the recipient's object took: the `sent` for the sending device, then the sealed
 * receipts the recipient's devices acked it with while it was held, which go to this
 * account's devices once the sending device has its `sent` (passOnReceipts).
 */
export interface SendOutcome {
	sent: SentReceipt;
	receipts: readonly ReceiptFrame[];
}

interface Plan {
	price: number;
	countsAsSend: boolean;
	upload?: Upload;
}

/**
 * A send, in the sender's object: device → suspension → contact → rate limit and quota →
 * credits → forward to the recipient's object. Every refusal leaves nothing behind: no
 * charge, no delivery, no entry in the limiter; nothing is written before the recipient's
 * object has the message.
 */
export class SendPipeline {
	/** One send at a time per account: a conversation keeps its order, and a re-sent id is seen only after the first attempt. */
	private readonly lane = new Lane();

	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	send(deviceId: string, frame: SendFrame): Promise<RelayResult<SendOutcome>> {
		return this.lane.run(() =>
			this.sendNow(deviceId, frame).catch((err) => {
				console.error(JSON.stringify({ event: "send_failed", name: err instanceof Error ? err.name : typeof err }));
				return refuse<SendOutcome>("internal", "The message could not be sent. It was not charged; try again.");
			}),
		);
	}

	private async sendNow(deviceId: string, frame: SendFrame): Promise<RelayResult<SendOutcome>> {
		const refusal = this.s.devices.refusal(deviceId) ?? this.s.account.suspensionRefusal() ?? this.checkFrame(frame);
		if (refusal) return refusal;
		// A re-sent id (the sender lost our `sent`) is answered again, free: it was delivered.
		const earlier = sentMessage(this.host.sql, frame.id);
		if (earlier !== undefined) return ok({ sent: this.receipt(earlier.at), receipts: [] });
		const account = this.s.account.cached();
		const plan = this.plan(frame, account);
		if (!plan.ok) return plan;
		const { credits } = this.s;
		// The one await before the checks below: afterwards everything up to the hold runs
		// without yielding, so two devices sending at once cannot both pass on the same credit.
		if (credits.available() < plan.value.price) await credits.refresh(this.host.now());
		return this.limitAndForward(deviceId, frame, account, plan.value);
	}

	/** Size, contact and key version: what the frame itself must get right. */
	private checkFrame(frame: SendFrame): RelayResult<never> | null {
		const { maxSealedTextBytes } = this.host.config();
		// The whole box, tag included: the limit as the protocol states it.
		if (b64uByteLength(frame.box) > maxSealedTextBytes)
			return refuse("too_large", `A sealed message may be at most ${maxSealedTextBytes} bytes.`);
		// Outside the rate limit and the quota, so a reaction may carry no more than a reaction needs.
		if (frame.kind === "reaction" && b64uByteLength(frame.box) > MAX_SEALED_REACTION_BYTES)
			return refuse("too_large", `A sealed reaction may be at most ${MAX_SEALED_REACTION_BYTES} bytes.`);
		const contact = this.s.contacts.get(frame.to);
		// Whether they blocked this account is for their object to handle, silently (delivery.ts).
		if (!contact || contact.state !== "accepted") return refuse("not_a_contact", "You can only message accepted contacts.");
		if (contact.rotateTo !== null) {
			return refuse("stale_key", "A device was removed: replace this contact's key before sending (POST /api/contacts/:id/rotate).");
		}
		if (frame.keyVersion !== contact.keyVersion)
			return refuse("stale_key", `Seal with contact key version ${contact.keyVersion}; fetch the keys again.`);
		return null;
	}

	private async limitAndForward(deviceId: string, frame: SendFrame, account: CachedAccount, plan: Plan): Promise<RelayResult<SendOutcome>> {
		const now = this.host.now();
		const { allowance, credits } = this.s;
		const rules = allowance.rules(account);
		const counts = allowance.counts(now, rules);
		if (plan.countsAsSend) {
			const verdict = allowance.verdict(counts, now, rules);
			if (!verdict.ok) {
				await this.s.account.noteRefusedSend(now);
				const what = verdict.code === "rate_limited" ? "You are sending too fast." : "You reached today's message quota.";
				return refuse(verdict.code, `${what} Try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s.`, verdict.retryAfterMs);
			}
		}
		if (credits.available() < plan.price)
			return refuse("insufficient_credits", `This costs ${plan.price} credits; you have ${credits.available()}.`);
		const syncTargets = approvedDeviceIds(this.host.sql).filter((d) => d !== deviceId);
		const bytes = b64uByteLength(frame.box);
		if (!this.s.delivery.fits(syncTargets, bytes))
			return refuse("recipient_queue_full", "One of your own devices has too many undelivered messages.");
		// Sends waiting behind this one would each wait out a hold: this one is queued instead.
		const item = { ...this.queueItem(deviceId, frame, bytes, now), ...(this.lane.pending > 1 && { noHold: true as const }) };
		const delivered = await this.forward(frame, item, plan);
		if (!delivered.ok) return delivered;
		await this.commit(frame, item, plan, syncTargets, now);
		const { receipts } = delivered.value;
		if (!plan.countsAsSend) return ok({ sent: this.receipt(now, counts.inDay), receipts });
		const after = { inRateWindow: counts.inRateWindow + 1, inDay: counts.inDay + 1 };
		const nextSendAt = allowance.nextSendAt(after, now, rules);
		return ok({ sent: { ...this.receipt(now, after.inDay), ...(nextSendAt !== null && { nextSendAt }) }, receipts });
	}

	/**
	 * Hand the message to the recipient's object. Nothing is written before: the price is set
	 * aside in memory (an attachment was paid for when its upload was reserved).
	 */
	private async forward(frame: SendFrame, item: QueueItem, plan: Plan): Promise<RelayResult<Delivered>> {
		const release = this.s.credits.reserve(plan.price);
		try {
			return await this.s.attachments.whileInFlight(
				plan.upload,
				async (): Promise<RelayResult<Delivered>> => await this.host.peer(frame.to).deliver(item),
			);
		} catch (err) {
			console.error(JSON.stringify({ event: "deliver_failed", name: err instanceof Error ? err.name : typeof err }));
			return refuse("internal", "The message could not be delivered. It was not charged; try again.");
		} finally {
			release();
		}
	}

	/**
	 * The recipient has it: charge, record (which the limiter counts), and sync to the sender's other
	 * devices. Sends are serialized per account, so the next one sees this one's record.
	 */
	private async commit(frame: SendFrame, item: QueueItem, plan: Plan, syncTargets: string[], now: number): Promise<void> {
		const { sql } = this.host;
		if (plan.upload) settleCharge(sql, plan.upload.holdId);
		// A free frame (a reaction) is journaled nowhere: there is nothing for D1 to take.
		const charge = !plan.upload && plan.price > 0 ? { amount: plan.price, seq: chargeSent(sql, plan.price, now) } : undefined;
		recordSent(sql, { id: frame.id, to: frame.to, kind: frame.kind, at: now, counted: plan.countsAsSend, ...(charge && { charge }) });
		if (plan.upload) this.s.attachments.sent(plan.upload, frame.id);
		if (frame.kind === "delete" && frame.replaces !== undefined) {
			markSentDeleted(sql, frame.replaces);
			await this.s.attachments.messageDeleted(frame.replaces);
		}
		// Past the room check before forwarding these writes are not refused, so a message the
		// recipient has is never missing on the sender's other devices.
		await this.s.delivery.syncToOwnDevices(syncTargets, item);
		await this.s.flush.charged(now);
		if (plan.countsAsSend) await this.s.account.afterSend(now);
	}

	/**
	 * Receipts the recipient's devices sealed while the message was held came back with the
	 * answer to `deliver`: they go to this account's devices as one from a `receipt` call
	 * would. The caller passes them on right after the sending device's `sent`, in the same
	 * turn, so a client hears "sent" before "delivered" (a timer's turn did that until
	 * 2026-12-07, one more entry into the object per message).
	 */
	passOnReceipts(receipts: readonly ReceiptFrame[]): void {
		if (receipts.length === 0) return;
		this.host.waitUntil(
			Promise.all(receipts.map((r) => this.s.delivery.receipt(r))).catch((err) =>
				console.error(JSON.stringify({ event: "receipt_failed", name: err instanceof Error ? err.name : typeof err })),
			),
		);
	}

	private queueItem(deviceId: string, frame: SendFrame, bytes: number, now: number): QueueItem {
		const { accountId } = this.host;
		const message = {
			type: "message",
			...routingHeader(frame, accountId, deviceId),
			...(frame.attachmentId !== undefined && { attachmentId: frame.attachmentId }),
			...(frame.replaces !== undefined && { replaces: frame.replaces }),
			sentAt: now,
		} satisfies ServerFrame;
		return {
			msgId: frame.id,
			from: accountId,
			kind: frame.kind,
			bytes,
			...(frame.replaces !== undefined && { replaces: frame.replaces }),
			...(frame.attachmentId !== undefined && { attachmentId: frame.attachmentId }),
			text: JSON.stringify(message),
		};
	}

	/** `inDay`: the sends in the rolling day, if the caller has just counted them. */
	private receipt(at: number, inDay?: number): SentReceipt {
		return { at, credits: this.s.credits.available(), quotaLeft: this.s.allowance.quotaLeft(this.s.account.cached(), inDay) };
	}

	/**
	 * What a send costs and whether it counts against the limits: text and edit are counted,
	 * a delete and a reaction are not; an attachment was priced at reservation. Edits and
	 * deletes name a message this account sent to the same contact. A reaction names its
	 * message only inside the sealed body (no `replaces`: that would swap or drop the queued
	 * original), so the relay cannot tell what it reacts to, and need not.
	 */
	private plan(frame: SendFrame, account: CachedAccount): RelayResult<Plan> {
		const { prices } = this.host.config();
		const needsReplaces = frame.kind === "edit" || frame.kind === "delete";
		if (needsReplaces !== (frame.replaces !== undefined))
			return refuse("bad_request", "`replaces` goes with edit and delete, and only with them.");
		if ((frame.kind === "attachment") !== (frame.attachmentId !== undefined)) {
			return refuse("bad_request", "`attachmentId` goes with an attachment message, and only with it.");
		}
		switch (frame.kind) {
			case "text":
				return ok({ price: prices.text, countsAsSend: true });
			case "attachment":
				return this.planAttachment(frame);
			case "edit":
			case "delete":
				return this.planChange(frame, prices);
			case "reaction":
				return ok({ price: prices.reaction, countsAsSend: false });
		}
		return refuse("bad_request", `Unknown message kind; this account's trust (${account.trust}) has no price for it.`);
	}

	private planAttachment(frame: SendFrame): RelayResult<Plan> {
		const upload = getUpload(this.host.sql, frame.attachmentId as string);
		if (!upload || upload.to !== frame.to) return refuse("not_found", "No such attachment upload for this contact.");
		// Lapsed but not yet swept: the lapse is about to release it and delete the blob.
		if (upload.expiresAt <= this.host.now()) return refuse("not_found", "This attachment's reservation lapsed; send the file again.");
		if (upload.status === "reserved") return refuse("bad_request", "Upload the attachment before sending its message.");
		if (upload.status === "sent") return refuse("conflict", "This attachment was already sent.");
		return ok({ price: 0, countsAsSend: true, upload });
	}

	private planChange(frame: SendFrame, prices: { edit: number; delete: number }): RelayResult<Plan> {
		const original = sentMessage(this.host.sql, frame.replaces as string);
		// A reaction is taken back by another reaction (""), not deleted.
		if (!original || original.to !== frame.to || ["deleted", "delete", "reaction"].includes(original.kind)) {
			return refuse("not_found", "You can only change messages you sent to this contact.");
		}
		if (frame.kind === "edit" && original.kind !== "text" && original.kind !== "edit")
			return refuse("bad_request", "Only text messages can be edited.");
		return frame.kind === "edit" ? ok({ price: prices.edit, countsAsSend: true }) : ok({ price: prices.delete, countsAsSend: false });
	}
}
