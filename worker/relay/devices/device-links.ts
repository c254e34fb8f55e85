import type { OpenLinkResponse } from "../../../common/protocol/wire.ts";
import { joinRefusal } from "../../abuse/device-joins.ts";
import { insertPendingDevice } from "../../db/accounts.ts";
import type { AccountState } from "../account/account-state.ts";
import { logActivity, recentTimes } from "../account/activity-log.ts";
import type { RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { LinkClaimant } from "../surfaces.ts";
import { cachedDevices } from "./device-cache.ts";
import type { DeviceRegistry } from "./device-registry.ts";
import { cancelLink, claimLink, INVALID_LINK, insertLink, openLinks, releaseClaim } from "./link-store.ts";

interface Needs {
	readonly account: AccountState;
	readonly devices: DeviceRegistry;
}

/** An account may show at most this many codes at once: each is a door into the account while it is open. */
export const MAX_OPEN_LINKS = 3;
const HOUR_MS = 3_600_000;

/**
 * Link codes: an approved device opens one (the code's secret stays on it; the relay sees
 * the link id derived from it), a new device claims it once and waits as `pending` until the
 * device that showed the code approves it. Expiry is checked when a link is used (and the
 * housekeeping job prunes old rows), so no alarm is set for it.
 */
export class DeviceLinks {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	open(deviceId: string, linkId: string): RelayResult<OpenLinkResponse> {
		const now = this.host.now();
		const open = openLinks(this.host.sql, now);
		if (open.length >= MAX_OPEN_LINKS) {
			const retryAfter = (open[0] as { expiresAt: number }).expiresAt - now;
			return refuse(
				"rate_limited",
				`${MAX_OPEN_LINKS} link codes are open already: use or cancel one, or wait until one expires.`,
				retryAfter,
			);
		}
		const expiresAt = now + this.host.config().linkCodeTtlMs;
		if (!insertLink(this.host.sql, { linkId, openedBy: deviceId, expiresAt })) {
			return refuse("conflict", "This link id was used before. Make a new code.");
		}
		return ok({ linkId, expiresAt });
	}

	cancel(linkId: string): RelayResult<true> {
		return cancelLink(this.host.sql, linkId, this.host.now()) ? ok(true) : refuse("not_found", "There is no open link code with that id.");
	}

	/**
	 * A new device claims a code. Nothing about the account is checked or told before the link
	 * is found open, so a stranger without a live code learns nothing, not even whether the
	 * handle exists (the route answers an unknown handle with the same refusal).
	 */
	claim(c: LinkClaimant): Promise<RelayResult<true>> {
		// Claims are only counted after a D1 write and need no login, so many could arrive at once;
		// they share the lane of restores, which take places too.
		return this.s.devices.joins.run(() => this.claimNow(c));
	}

	private async claimNow(c: LinkClaimant): Promise<RelayResult<true>> {
		await this.s.account.ensure();
		const { sql } = this.host;
		const now = this.host.now();
		const config = this.host.config();
		if (!openLinks(sql, now).some((l) => l.linkId === c.linkId)) return refuse("not_found", INVALID_LINK);
		await this.s.devices.lapseWaiting(now);
		// Before the hourly limit: no wait would make room, so that is what the device is told.
		const full = joinRefusal(cachedDevices(sql), config.maxDevicesPerAccount);
		if (full) return refuse("too_many_devices", full);
		const recent = recentTimes(sql, "device_request", now - HOUR_MS, config.deviceRequestsPerHour);
		if (recent.length >= config.deviceRequestsPerHour) {
			const retryAfter = (recent.at(-1) as number) + HOUR_MS - now;
			return refuse("rate_limited", "Too many new devices joined this account within the hour. Try again later.", retryAfter);
		}
		// Taken before the D1 write, so the link is used once whatever happens while it runs.
		if (!claimLink(sql, c.linkId, { deviceId: c.deviceId, proof: c.proof }, now)) return refuse("not_found", INVALID_LINK);
		let inserted = false;
		try {
			inserted = await insertPendingDevice(this.host.db, {
				deviceId: c.deviceId,
				accountId: this.host.accountId,
				publicKey: c.publicKey,
				name: c.name,
				now,
			});
		} finally {
			if (!inserted) releaseClaim(sql, c.deviceId);
		}
		if (!inserted) return refuse("handle_taken", "This device key is already registered.");
		logActivity(sql, "device_request", now, c.deviceId);
		await this.s.devices.reload();
		return ok(true);
	}
}
