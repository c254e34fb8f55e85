import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, equalBytes, fromB64u, toB64u, utf8Encode } from "../../common/encoding.ts";
import { sealedFileSize } from "../../common/file-layout.ts";
import { randomBytes } from "../../common/nacl.ts";
import type { SignedDeviceList } from "../../common/protocol/device-list.ts";
import { type HistoryOffer, type HistoryState, type HistoryTransfer, id } from "../../common/protocol/wire.ts";
import { type ApiClient, parseInput } from "./api-client.ts";
import type { Uploader } from "./attachment-transfer.ts";
import { openFromDevice, sealForDevice } from "./device-box.ts";
import { openFileStream, sealFileStream } from "./file-seal.ts";
import type { DeviceIdentity } from "./key-store.ts";
import { lists } from "./list-trust.ts";
import { SdkError } from "./sdk-error.ts";
import type { SessionKeeper } from "./session-keeper.ts";
import { streamToBlob } from "./stream-to-blob.ts";

const KEY_BYTES = 32;
const OFFER_LABEL = "sm-history/1";

/** What the offer box holds before the key: binds the key to this account, the new device and this transfer. */
function offerPrefix(accountId: string, toDevice: string, transferId: string): Uint8Array {
	return utf8Encode(`${OFFER_LABEL}\n${accountId}\n${toDevice}\n${transferId}\n`);
}

/**
 * The approving device's half of an offer: the archive's one-time key and the offer that
 * carries it to the new device inside the approval, sealed (crypto_box) from this device's
 * key to the new device's, so the relay that stores the offer cannot open the archive.
 */
export function makeHistoryOffer(
	me: { accountId: string; seed: Uint8Array },
	target: { deviceId: string; publicKey: string },
): { offer: HistoryOffer; key: Uint8Array } {
	const transferId = toB64u(randomBytes(16));
	const key = randomBytes(KEY_BYTES);
	const plaintext = concatBytes(offerPrefix(me.accountId, target.deviceId, transferId), key);
	try {
		return { offer: { transferId, ...sealForDevice(plaintext, me.seed, fromB64u(target.publicKey)) }, key };
	} finally {
		plaintext.fill(0);
	}
}

/**
 * The new device's half: the key, if the offer was sealed for this device by `fromPublicKey`
 * and names this account, this device and this transfer. Throws CryptoError otherwise.
 */
export function openHistoryOffer(
	me: { accountId: string; deviceId: string; seed: Uint8Array },
	offer: { transferId: string; nonce: string; box: string; fromPublicKey: string },
): Uint8Array {
	const plaintext = openFromDevice(offer, fromB64u(offer.fromPublicKey), me.seed);
	const prefix = offerPrefix(me.accountId, me.deviceId, offer.transferId);
	try {
		if (plaintext.length !== prefix.length + KEY_BYTES || !equalBytes(plaintext.subarray(0, prefix.length), prefix)) {
			throw new CryptoError("open_failed", "The history offer names another account, device or transfer.");
		}
		return plaintext.slice(prefix.length);
	} finally {
		plaintext.fill(0);
	}
}

/** A transfer as this device takes part in it. */
export interface HistoryTransferInfo {
	transferId: string;
	/** `sending`: this device approved the other and sends its history; `receiving`: this is the new device. */
	role: "sending" | "receiving";
	/** The other device of the transfer. */
	peerDevice: string;
	state: "offered" | "uploaded";
	/** The sealed archive's size, once uploaded. */
	size?: number;
	expiresAt: number;
	/** Sending only: whether this client still holds the archive's key (it is kept in memory, so a reload loses it). */
	canSend?: boolean;
}

export interface HistoryTransfersDeps {
	api: ApiClient;
	session: SessionKeeper;
	uploader: Uploader;
	identity: () => Promise<DeviceIdentity>;
	/** This account's device list as this device verified it. */
	ownList: () => Promise<SignedDeviceList>;
}

const ENDED: readonly HistoryState[] = ["imported", "skipped", "expired"];

/**
 * History for a newly linked device, both ends. The approving device sealed a one-time key
 * for the new device into the approval (makeHistoryOffer); it seals the archive the app
 * builds under that key, in the attachments' chunked layout, and uploads it. The new device
 * opens the key from the offer (only if the device that made it is in the account's signed
 * list), downloads and opens the archive, and says when it has it, which deletes it.
 * Keys live in memory only: the relay keeps nothing that opens an archive.
 */
export class HistoryTransfers {
	/** One-time keys of the transfers this device offered, by transfer id. */
	private readonly sendingKeys = new Map<string, Uint8Array>();

	constructor(private readonly deps: HistoryTransfersDeps) {}

	/** An approval carrying `key` went through: keep it until the transfer ends. */
	offered(transferId: string, key: Uint8Array): void {
		this.sendingKeys.set(transferId, key);
	}

	/** The live transfers this device sends or receives. */
	async list(): Promise<HistoryTransferInfo[]> {
		const me = await this.deps.identity();
		const transfers = await this.deps.session.withToken((t) => this.deps.api.historyTransfers(t));
		return transfers.flatMap((t): HistoryTransferInfo[] => {
			const sending = t.fromDevice === me.deviceId;
			if (!sending && t.toDevice !== me.deviceId) return [];
			return [
				{
					transferId: t.transferId,
					role: sending ? "sending" : "receiving",
					peerDevice: sending ? t.toDevice : t.fromDevice,
					state: t.state,
					...(t.size !== undefined && { size: t.size }),
					expiresAt: t.expiresAt,
					...(sending && { canSend: this.sendingKeys.has(t.transferId) }),
				},
			];
		});
	}

	/**
	 * Seal `archive` under the transfer's key and upload it. May be called again after a
	 * failure (each seal uses a fresh nonce prefix, so nothing repeats under the key).
	 */
	async send(transferId: string, archive: Blob, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void> {
		const transfer = parseInput(id, transferId, "transferId");
		const key = this.sendingKeys.get(transfer);
		if (!key) {
			throw new SdkError(
				"not_found",
				"This device holds no key for that history transfer (it was not offered here, ended, or the page was reloaded).",
			);
		}
		const size = sealedFileSize(archive.size);
		const sealed = sealFileStream(key, archive.stream() as ReadableStream<Uint8Array>);
		sealed.digest.catch(() => undefined);
		const { token } = await this.deps.session.current();
		await this.deps.uploader({
			url: this.deps.api.historyArchiveUrl(transfer),
			token,
			body: sealed.stream,
			size,
			...(onProgress && { onProgress: (sent: number) => onProgress(sent, size) }),
		});
	}

	/**
	 * The new device: download the archive, open it under the key from the offer, and return
	 * the plaintext archive. Refused (`untrusted`) if the offer came from a device the
	 * account's signed list does not name, or does not open for this device.
	 */
	async receive(transferId: string, onProgress?: (receivedBytes: number, totalBytes: number) => void): Promise<Blob> {
		const transfer = parseInput(id, transferId, "transferId");
		const me = await this.deps.identity();
		const offer = await this.find(transfer);
		if (!offer || offer.toDevice !== me.deviceId) throw new SdkError("not_found", "No such history transfer for this device.");
		if (offer.state !== "uploaded") throw new SdkError("conflict", "The history has not been uploaded yet.");
		const list = await this.deps.ownList();
		if (!lists(list, offer.fromDevice, offer.fromPublicKey)) {
			throw new SdkError("untrusted", "The history offer came from a device this account's signed list does not name.", {
				reason: "device_list",
			});
		}
		let key: Uint8Array;
		try {
			key = openHistoryOffer(me, offer);
		} catch (err) {
			if (err instanceof CryptoError)
				throw new SdkError("untrusted", `The history offer does not open: ${err.message}`, { reason: "device_list" });
			throw err;
		}
		const total = offer.size ?? 0;
		try {
			const sealed = await this.deps.session.withToken((t) => this.deps.api.downloadHistory(t, transfer));
			const opened = openFileStream(key, sealed);
			const plain = await streamToBlob(opened.stream, onProgress && ((n) => onProgress(Math.min(n, total), total)));
			await opened.digest;
			return plain;
		} catch (err) {
			if (err instanceof CryptoError)
				throw new SdkError("untrusted", `The history archive was changed or cut short: ${err.message}`, { reason: "device_list" });
			throw err;
		} finally {
			key.fill(0);
		}
	}

	/** The new device has imported the archive, or either device gives up on it: the relay deletes it. */
	async end(transferId: string, outcome: "imported" | "skipped"): Promise<void> {
		const transfer = parseInput(id, transferId, "transferId");
		await this.deps.session.withToken((t) => this.deps.api.endHistory(t, transfer, outcome));
		this.forget(transfer);
	}

	/** A `history` frame: an ended transfer's key is wiped. */
	observe(transferId: string, state: HistoryState): void {
		if (ENDED.includes(state)) this.forget(transferId);
	}

	private forget(transferId: string): void {
		this.sendingKeys.get(transferId)?.fill(0);
		this.sendingKeys.delete(transferId);
	}

	private async find(transferId: string): Promise<HistoryTransfer | undefined> {
		const transfers = await this.deps.session.withToken((t) => this.deps.api.historyTransfers(t));
		return transfers.find((t) => t.transferId === transferId);
	}
}
