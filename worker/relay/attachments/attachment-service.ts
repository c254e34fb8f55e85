import { toB64u } from "../../../common/encoding.ts";
import { sealedFileSize } from "../../../common/file-layout.ts";
import { randomBytes } from "../../../common/nacl.ts";
import { priceOf } from "../../../common/pricing.ts";
import type { ReserveAttachmentResponse } from "../../../common/protocol/wire.ts";
import type { AccountState } from "../account/account-state.ts";
import type { ContactService } from "../contacts/contact-service.ts";
import type { CreditAccount } from "../credits/credit-account.ts";
import { dropCharge, holdCharge } from "../credits/credit-journal.ts";
import type { TimedJob } from "../deadline-scheduler.ts";
import { approvedDeviceIds } from "../devices/device-cache.ts";
import type { DeviceRegistry } from "../devices/device-registry.ts";
import type { JobName, RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import {
	blobKey,
	deleteUpload,
	dropGrant,
	earliestGrantExpiry,
	earliestUploadExpiry,
	expiredGrants,
	forgetDeviceWaits,
	getUpload,
	grantAttachment,
	grantFor,
	grantsForMessage,
	lapsedUploads,
	markFetched,
	saveUpload,
	setUploadStatus,
	type Upload,
	uploadByMessage,
} from "./attachment-store.ts";
import type { BlobBin } from "./blob-bin.ts";

interface Needs {
	readonly account: AccountState;
	readonly devices: DeviceRegistry;
	readonly contacts: ContactService;
	readonly credits: CreditAccount;
	readonly bin: BlobBin;
}

/** How soon a sweep looks again at a lapsed upload it skipped because its message was on its way. */
const IN_FLIGHT_RECHECK_MS = 1_000;

/**
 * Attachments, both sides. As sender: reservations (size tier and price checked, the price
 * held) and their blobs. As recipient: grants that let the devices a message went to fetch
 * its blob, which goes once every one of them has it or the grant expires.
 */
export class AttachmentService {
	/**
	 * Attachments whose message is being delivered right now. Neither a cancel nor the lapse may
	 * release one meanwhile: the send settles its held price (or leaves it) itself. Memory only:
	 * a restart ends every send in flight anyway.
	 */
	private readonly inFlight = new Set<string>();

	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	/**
	 * Reserve an upload to a contact, priced before a byte is sent, the price held against the
	 * balance: settled when its message is delivered, dropped (a refund) if that never happens.
	 */
	async reserve(to: string, size: number): Promise<RelayResult<ReserveAttachmentResponse>> {
		const suspended = this.s.account.suspensionRefusal();
		if (suspended) return suspended;
		const contact = this.s.contacts.get(to);
		if (!contact || contact.state !== "accepted" || contact.peerBlocked)
			return refuse("not_a_contact", "You can only send files to accepted contacts.");
		const config = this.host.config();
		const price = priceOf({ kind: "attachment", bytes: size }, this.s.account.cached().trust, config.prices, config.attachmentTiers);
		if (!price.ok) return refuse(price.code, price.message);
		const { credits } = this.s;
		if (credits.available() < price.price) await credits.refresh(this.host.now());
		if (credits.available() < price.price) {
			return refuse("insufficient_credits", `This file costs ${price.price} credits; you have ${credits.available()}.`);
		}
		const now = this.host.now();
		const attachmentId = toB64u(randomBytes(16));
		const expiresAt = now + config.uploadTtlMs;
		const holdId = holdCharge(this.host.sql, { amount: price.price, reason: "attachment", ref: attachmentId, at: now });
		saveUpload(this.host.sql, { id: attachmentId, to, size, sealedSize: sealedFileSize(size), holdId, expiresAt });
		await this.host.schedule("upload-lapse", expiresAt);
		return ok({ attachmentId, owner: this.host.accountId, sealedSize: sealedFileSize(size), price: price.price, expiresAt });
	}

	/** May the blob be uploaded now? Returns the exact byte count it must have. */
	begin(attachmentId: string): RelayResult<number> {
		const upload = getUpload(this.host.sql, attachmentId);
		if (!upload || upload.expiresAt <= this.host.now()) return refuse("not_found", "No such attachment reservation.");
		if (upload.status !== "reserved") return refuse("conflict", "This attachment was already uploaded.");
		return ok(upload.sealedSize);
	}

	/**
	 * The blob is in R2. A put can outlast its reservation: if it lapsed meanwhile (or was
	 * cancelled), the blob has no row to be found by and is deleted here, not orphaned.
	 */
	async finish(attachmentId: string): Promise<RelayResult<true>> {
		const upload = getUpload(this.host.sql, attachmentId);
		// Only a reservation still waiting for this put: once uploaded (by an earlier put), sent or
		// on its way, the blob under this key is that attachment's, and the lapse takes the rest.
		if (!upload || (upload.status === "reserved" && upload.expiresAt <= this.host.now())) {
			await this.s.bin.remove(blobKey(this.host.accountId, attachmentId));
			return refuse("not_found", "The reservation lapsed or was cancelled before the upload finished; nothing was kept.");
		}
		if (upload.status === "reserved") setUploadStatus(this.host.sql, attachmentId, "uploaded");
		return ok(true);
	}

	/** Give up a reservation not yet sent: its held price is released at once and any blob deleted. */
	async cancel(attachmentId: string): Promise<RelayResult<true>> {
		const upload = getUpload(this.host.sql, attachmentId);
		if (!upload) return refuse("not_found", "No such attachment reservation.");
		if (upload.status === "sent") return refuse("conflict", "This attachment was sent: delete its message instead.");
		if (this.inFlight.has(upload.id)) return refuse("conflict", "This attachment's message is being sent right now.");
		await this.release(upload);
		return ok(true);
	}

	private async release(upload: Upload): Promise<void> {
		dropCharge(this.host.sql, upload.holdId);
		deleteUpload(this.host.sql, upload.id);
		await this.s.bin.remove(blobKey(this.host.accountId, upload.id));
	}

	/** Whether the upload is being delivered right now (for tests of the lapse and cancel rules). */
	isInFlight(attachmentId: string): boolean {
		return this.inFlight.has(attachmentId);
	}

	/** Run the delivery of an attachment's message with its reservation held against cancel and lapse. */
	async whileInFlight<T>(upload: Upload | undefined, work: () => Promise<T>): Promise<T> {
		if (!upload) return work();
		this.inFlight.add(upload.id);
		try {
			return await work();
		} finally {
			this.inFlight.delete(upload.id);
		}
	}

	/** Its message was delivered: the upload is sent, and no longer lapses. */
	sent(upload: Upload, msgId: string): void {
		setUploadStatus(this.host.sql, upload.id, "sent", msgId);
	}

	/** A message of ours was deleted: its attachment goes. */
	async messageDeleted(msgId: string): Promise<void> {
		const upload = uploadByMessage(this.host.sql, msgId);
		if (!upload) return;
		await this.s.bin.remove(blobKey(this.host.accountId, upload.id));
		deleteUpload(this.host.sql, upload.id);
	}

	/**
	 * Who may fetch a blob: the sender's approved devices, and the recipient's approved
	 * devices it was delivered to. Anyone else learns nothing, not even whether it exists.
	 */
	async mayDownload(deviceId: string, owner: string, attachmentId: string): Promise<RelayResult<true>> {
		const missing = refuse<true>("not_found", "No such attachment.");
		const refusal = await this.s.devices.authorize(deviceId);
		if (refusal && !refusal.ok) return refusal.code === "unauthorized" ? missing : refusal;
		if (owner === this.host.accountId) {
			const upload = getUpload(this.host.sql, attachmentId);
			return upload && upload.status !== "reserved" ? ok(true) : missing;
		}
		return grantFor(this.host.sql, owner, attachmentId) ? ok(true) : missing;
	}

	/** A recipient device has the blob; once every device that was sent it has, it goes. */
	async downloaded(deviceId: string, owner: string, attachmentId: string): Promise<void> {
		if (owner === this.host.accountId || !grantFor(this.host.sql, owner, attachmentId)) return;
		if (markFetched(this.host.sql, attachmentId, deviceId)) await this.deleteGranted(owner, attachmentId);
	}

	/** A message with an attachment reached this account: its approved devices may fetch the blob. */
	async grant(attachmentId: string, owner: string, msgId: string): Promise<void> {
		const expiresAt = this.host.now() + this.host.config().queueTtlMs;
		grantAttachment(this.host.sql, { attachmentId, owner, msgId, expiresAt, deviceIds: approvedDeviceIds(this.host.sql) });
		await this.host.schedule("grant-expiry", expiresAt);
	}

	/**
	 * The sender deleted a message this account received: its blob goes at once. Only grants
	 * of `owner`'s own message: another sender's message under the same id is not that one.
	 */
	async revokeGrantsOf(owner: string, msgId: string): Promise<void> {
		for (const g of grantsForMessage(this.host.sql, owner, msgId)) await this.deleteGranted(g.owner, g.attachmentId);
	}

	/** A revoked device waits for no blob any more. */
	async forgetDevice(deviceId: string): Promise<void> {
		for (const g of forgetDeviceWaits(this.host.sql, deviceId)) await this.deleteGranted(g.owner, g.attachmentId);
	}

	private async deleteGranted(owner: string, attachmentId: string): Promise<void> {
		await this.s.bin.remove(blobKey(owner, attachmentId));
		dropGrant(this.host.sql, attachmentId);
	}

	/** Reservations never sent in time: the held price is released and the blob removed. */
	readonly lapse: TimedJob<JobName> = {
		name: "upload-lapse",
		run: async (now) => {
			for (const upload of lapsedUploads(this.host.sql, now)) {
				// Its message is on its way (sent just before the reservation lapsed): the send settles it, or a later run releases it.
				if (this.inFlight.has(upload.id)) continue;
				dropCharge(this.host.sql, upload.holdId);
				await this.s.bin.remove(blobKey(this.host.accountId, upload.id));
				deleteUpload(this.host.sql, upload.id);
			}
			// Past only for an upload skipped above while its message is on its way: look again shortly.
			const next = earliestUploadExpiry(this.host.sql);
			return next === null ? null : Math.max(next, now + IN_FLIGHT_RECHECK_MS);
		},
	};

	/** Grants past the queue lifetime: the blob goes, fetched or not. */
	readonly expiry: TimedJob<JobName> = {
		name: "grant-expiry",
		run: async (now) => {
			for (const g of expiredGrants(this.host.sql, now)) await this.deleteGranted(g.owner, g.attachmentId);
			return earliestGrantExpiry(this.host.sql);
		},
	};
}
