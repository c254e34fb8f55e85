import type { DeviceInfo } from "../../../common/protocol/wire.ts";
import type { MessengerClient } from "../../core/sdk.ts";
import { toSdkError } from "../../core/sdk-error.ts";
import type { LinkRequest, MessengerStore, ShownLinkCode } from "../store.ts";
import type { Devices } from "./devices.ts";
import type { HistoryTransfer } from "./history-transfer.ts";
import type { Notices } from "./notices.ts";

export type DeviceLinksClient = Pick<MessengerClient, "createLinkCode" | "cancelLinkCode" | "approveDevice" | "rejectDevice">;

/** A code whose expiry this device's clock puts further away than this was not made by a relay that agrees with it. */
const LONGEST_LIFETIME_MS = 60 * 60 * 1000;

/**
 * When a code expires by this device's clock, or null when the relay's clock and this one
 * disagree too much to count down (its expiry already past, or implausibly far): the relay
 * states the expiry by its own clock.
 */
export function localExpiry(code: ShownLinkCode, now: number): number | null {
	const left = code.expiresAt - now;
	return left > 0 && left <= LONGEST_LIFETIME_MS ? code.expiresAt : null;
}

/** The requests with `request` in place of an earlier one for the same device, or added. */
export function withRequest(requests: readonly LinkRequest[], request: LinkRequest): LinkRequest[] {
	return [...requests.filter((r) => r.device.deviceId !== request.device.deviceId), request];
}

/**
 * Linking a new device from this one: the one-time code this device shows (its secret stays
 * in this page's memory, so this page must also approve), and the new devices that claimed it,
 * which the person approves after comparing fingerprints, or rejects.
 */
export class DeviceLinks {
	constructor(
		private readonly store: MessengerStore,
		private readonly client: DeviceLinksClient,
		private readonly devices: Pick<Devices, "refresh">,
		private readonly notices: Notices,
		private readonly history: Pick<HistoryTransfer, "offered">,
	) {}

	/** Show a new code; one shown before is withdrawn, so only one is ever open from here. */
	async show(): Promise<void> {
		const before = this.store.state.linkCode;
		if (before) await this.withdraw(before);
		const code = await this.client.createLinkCode();
		this.store.update({ linkCode: code });
	}

	/** The person no longer wants to link a device with the code shown. */
	async cancel(): Promise<void> {
		const shown = this.store.state.linkCode;
		if (shown) await this.withdraw(shown);
	}

	/** A `link_request` event: a new device claimed a code shown here, with a proof that it read it. */
	requested(request: LinkRequest): void {
		const linkCode = this.store.state.linkCode;
		// A code works once: the relay has marked it claimed.
		const used = linkCode !== null && linkCode.linkId === request.device.link?.linkId;
		this.store.update({ linkRequests: withRequest(this.store.state.linkRequests, request), ...(used && { linkCode: null }) });
		this.notices.notify(`“${request.device.name}” wants to join your account. Compare its number under Devices.`, "info");
	}

	/**
	 * Approve a device that claimed the code shown here. With `history`, the approval also
	 * offers it this device's history, which is then built and sent while the person goes on.
	 */
	async approve(deviceId: string, opts: { history?: boolean } = {}): Promise<void> {
		const approved = await this.client.approveDevice(deviceId, { history: opts.history === true });
		this.drop(deviceId);
		if (approved.historyTransferId !== undefined) this.history.offered(approved.historyTransferId, deviceId);
		await this.devices.refresh();
	}

	/** Turn a pending device away: one that claimed a code here, or any other that waits (it may be rejected from every device). */
	async reject(deviceId: string): Promise<void> {
		await this.client.rejectDevice(deviceId);
		this.drop(deviceId);
		await this.devices.refresh();
	}

	/** A `device` event: a device that is no longer pending (approved elsewhere, rejected, lapsed) asks nothing any more. */
	deviceChanged(event: "pending" | "approved" | "revoked", device: DeviceInfo): void {
		if (event !== "pending") this.drop(device.deviceId);
	}

	private drop(deviceId: string): void {
		const requests = this.store.state.linkRequests;
		if (requests.some((r) => r.device.deviceId === deviceId)) {
			this.store.update({ linkRequests: requests.filter((r) => r.device.deviceId !== deviceId) });
		}
	}

	/** Hidden at once; the SDK forgets its secret at once too, so nothing can be approved with it even if the relay did not hear. */
	private async withdraw(shown: ShownLinkCode): Promise<void> {
		this.store.update({ linkCode: null });
		try {
			await this.client.cancelLinkCode(shown.linkId);
		} catch (err) {
			// An expired or claimed code is gone already: there was nothing left to withdraw.
			if (toSdkError(err).code !== "not_found") throw err;
		}
	}
}
