import { CryptoError } from "../../../common/crypto-error.ts";
import type { AttachmentInfo } from "../../core/message-body.ts";
import type { MessengerClient } from "../../core/sdk.ts";
import { SdkError } from "../../core/sdk-error.ts";
import { streamToBlob } from "../../core/stream-to-blob.ts";
import { keepBounded } from "../keep-bounded.ts";
import type { MessageHistory } from "../message-history.ts";
import type { MessengerStore } from "../store.ts";

/** Images shown inline; any other type is offered for download only, and saved as plain bytes. */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** Blobs of opened files kept in memory (the browser keeps their bytes, mostly out of the JS heap). */
const OPENED_KEPT = 200;

/** The type a file is opened as: the sender chose it, so only the inline image types are taken from it. */
export function openedType(attachment: AttachmentInfo): string {
	return INLINE_IMAGE_TYPES.has(attachment.type) ? attachment.type : "application/octet-stream";
}

/** Whole percent of a file received, for a progress bar that re-renders once per percent, not per chunk. */
export function percentReceived(received: number, size: number): number {
	return size > 0 ? Math.floor((received / size) * 100) : 100;
}

/**
 * The plaintext of attachments. The relay deletes a blob once every recipient device fetched
 * it, so a file is kept in this browser's history once opened (or sent), and the same Blob is
 * handed out each time, so that an image is not reloaded when its message re-renders.
 */
export class FileCache {
	/** Fetches under way, so that two views of one attachment download it once. */
	private readonly opening = new Map<string, Promise<Blob>>();
	private readonly opened = new Map<string, Blob>();

	constructor(
		private readonly store: MessengerStore,
		private readonly client: Pick<MessengerClient, "downloadFile">,
		private readonly history: Pick<MessageHistory, "file" | "putFile" | "deleteFile">,
	) {}

	/**
	 * A file as a Blob, once its size and hash matched: from this browser if it was opened (or
	 * sent) here before, else fetched and opened, with its progress in `downloads`.
	 */
	open(attachment: AttachmentInfo): Promise<Blob> {
		const known = this.opened.get(attachment.id);
		if (known) return Promise.resolve(known);
		let opening = this.opening.get(attachment.id);
		if (!opening) {
			opening = this.fetch(attachment)
				.then((file) => {
					keepBounded(this.opened, attachment.id, file, OPENED_KEPT);
					return file;
				})
				.finally(() => this.opening.delete(attachment.id));
			this.opening.set(attachment.id, opening);
		}
		return opening;
	}

	/** The message of this file was deleted for everyone: its plaintext goes too. */
	async forget(attachmentId: string): Promise<void> {
		this.opened.delete(attachmentId);
		await this.history.deleteFile(attachmentId).catch(() => {});
	}

	private async fetch(attachment: AttachmentInfo): Promise<Blob> {
		const type = openedType(attachment);
		const kept = await this.history.file(attachment.id).catch(() => undefined);
		if (kept) return kept.type === type ? kept : new Blob([kept], { type });
		const setProgress = (share: number) => this.store.update({ downloads: { ...this.store.state.downloads, [attachment.id]: share } });
		setProgress(0);
		let shown = 0;
		try {
			const { stream, digest } = await this.client.downloadFile(attachment);
			// Observed now: when the stream fails, the digest fails too, and is awaited only after it.
			digest.catch(() => {});
			let blob: Blob;
			try {
				blob = await streamToBlob(stream, (received) => {
					const percent = percentReceived(received, attachment.size);
					if (percent !== shown) {
						shown = percent;
						setProgress(percent / 100);
					}
				});
				await digest;
			} catch (err) {
				if (err instanceof CryptoError) throw new SdkError("undecryptable", err.message, { cause: err });
				throw err;
			}
			const file = new Blob([blob], { type });
			// Storage may be full: the file is still shown this time.
			await this.history.putFile(attachment.id, file).catch(() => {});
			return file;
		} finally {
			const { [attachment.id]: _, ...downloads } = this.store.state.downloads;
			this.store.update({ downloads });
		}
	}
}
