import type { PushSubscriptionRequest } from "../../../common/protocol/wire.ts";
import { storageMemo } from "../storage/storage-memo.ts";

/**
 * The Web Push subscription of each device of the account that has one (one row per device,
 * in this object's storage, never in D1): where the device's push service takes a push, and
 * the public key and auth secret its payload is sealed for. The endpoint is a capability URL
 * of the push service, not a secret of the user's; nothing here says who writes to whom.
 */

type Row = { device_id: string; endpoint: string; p256dh: string; auth: string };

/** Every queued message asks which devices have one: a memory copy, kept exact by the writes below. */
const memo = storageMemo<ReadonlyMap<string, PushSubscriptionRequest>>();

export function pushSubscriptions(sql: SqlStorage): ReadonlyMap<string, PushSubscriptionRequest> {
	return memo.get(
		sql,
		() =>
			new Map(
				sql
					.exec<Row>("SELECT device_id, endpoint, p256dh, auth FROM push_subscriptions")
					.toArray()
					.map((r) => [r.device_id, { endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth } }]),
			),
	);
}

/** A device has one subscription: a new one (the browser renewed it) replaces the old. */
export function savePushSubscription(sql: SqlStorage, deviceId: string, sub: PushSubscriptionRequest, now: number): void {
	sql.exec(
		`INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, updated_at = excluded.updated_at`,
		deviceId,
		sub.endpoint,
		sub.keys.p256dh,
		sub.keys.auth,
		now,
	);
	memo.drop(sql);
}

/**
 * The device's subscription goes; with `endpoint`, only if it is still that one (a push
 * service said it is gone, and the device may have subscribed afresh meanwhile). True if one went.
 */
export function dropPushSubscription(sql: SqlStorage, deviceId: string, endpoint?: string): boolean {
	const gone =
		endpoint === undefined
			? sql.exec("DELETE FROM push_subscriptions WHERE device_id = ?", deviceId).rowsWritten
			: sql.exec("DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?", deviceId, endpoint).rowsWritten;
	if (gone > 0) memo.drop(sql);
	return gone > 0;
}
