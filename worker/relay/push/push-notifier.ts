import { fromB64u, utf8Encode } from "../../../common/encoding.ts";
import type { MessageKind, PushPayload, PushSubscriptionRequest } from "../../../common/protocol/wire.ts";
import type { PushConfig } from "../../config.ts";
import type { RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import { coalescePush, type PushKind, type PushWindow } from "./push-rules.ts";
import { dropPushSubscription, pushSubscriptions, savePushSubscription } from "./push-store.ts";
import { importVapidKeys, isP256Point, sealPushPayload, type VapidKeys, vapidAuthorization } from "./web-push-crypto.ts";

/** How long a push service keeps a message push for a device that is off: past a day the app says it all anyway. */
const MESSAGE_TTL_SECONDS = 24 * 60 * 60;

const NOT_CONFIGURED = refuse("not_configured", "This server sends no push notifications: its operator set up no VAPID keys.");

/** One import per configuration (per isolate), shared by the key route and every object. */
const imported = new WeakMap<PushConfig, Promise<VapidKeys | null>>();

/**
 * The deployment's VAPID keys, or null when they cannot be used (the private key is not the
 * public key's): then no push goes and GET /api/push/key says there are none, rather than
 * having browsers subscribe to pushes that every push service would refuse.
 */
export function vapidKeysOf(config: PushConfig): Promise<VapidKeys | null> {
	let keys = imported.get(config);
	if (!keys) {
		keys = importVapidKeys(config.publicKey, config.privateKey).catch((err: unknown) => {
			const problem = err instanceof Error ? err.message : "unusable VAPID keys";
			console.error(JSON.stringify({ event: "config_error", problem: `${problem}; no pushes are sent` }));
			return null;
		});
		imported.set(config, keys);
	}
	return keys;
}

/**
 * Web Push for devices of this account that have no open socket: when a message or a call is
 * queued or rings for them, their browser is woken with a push that says only that there is
 * something (`{"v":1,"kind","count"}`, sealed for the device all the same), never what or from
 * whom, so the push service learns nothing but the timing it sees anyway. Sent in the
 * background: the message path never waits for a push service, and a failed push changes
 * nothing about delivery. A push service's 404 or 410 (the subscription is gone) drops it.
 *
 * The coalescing windows (push-rules.ts) are kept in memory, not storage: a queued message
 * writes no row for them, and an object evicted between two messages at worst pushes once early.
 */
export class PushNotifier {
	private readonly windows = new Map<string, PushWindow>();

	constructor(private readonly host: RelayHost) {}

	/** PUT /api/devices/push: the device's subscription, replacing any it had. */
	async subscribe(deviceId: string, sub: PushSubscriptionRequest): Promise<RelayResult<true>> {
		if (this.host.config().push === null) return NOT_CONFIGURED;
		const refusal = await subscriptionRefusal(sub);
		if (refusal) return refuse("bad_request", refusal);
		savePushSubscription(this.host.sql, deviceId, sub, this.host.now());
		this.windows.delete(deviceId);
		return ok(true);
	}

	/** DELETE /api/devices/push: idempotent, and possible even after the operator turned pushes off. */
	unsubscribe(deviceId: string): RelayResult<true> {
		this.forget(deviceId);
		return ok(true);
	}

	/** A removed device's subscription goes with it. */
	forget(deviceId: string): void {
		dropPushSubscription(this.host.sql, deviceId);
		this.windows.delete(deviceId);
	}

	/**
	 * A message from a contact was queued for these devices. Only something new to read wakes
	 * a device: an edit, a delete or a reaction waits for the app to open.
	 */
	messageQueued(kind: MessageKind, deviceIds: readonly string[]): void {
		if (kind === "text" || kind === "attachment") this.alert("message", deviceIds);
	}

	/**
	 * Something of `kind` was queued for (or rings on) these devices of the account: push to
	 * each one that has a subscription and no open socket, unless its window holds it back.
	 */
	alert(kind: PushKind, deviceIds: readonly string[]): void {
		const config = this.host.config().push;
		if (config === null) return;
		const subscriptions = pushSubscriptions(this.host.sql);
		if (subscriptions.size === 0) return;
		const now = this.host.now();
		for (const deviceId of deviceIds) {
			const sub = subscriptions.get(deviceId);
			if (!sub) continue;
			// The open socket has it already; a later push after the tab closed starts afresh.
			if (this.host.sockets.of(deviceId).length > 0) {
				this.windows.delete(deviceId);
				continue;
			}
			const decision = coalescePush(this.windows.get(deviceId), kind, now, config.coalesceMs);
			this.windows.set(deviceId, decision.window);
			if (decision.send) this.host.waitUntil(this.send(config, deviceId, sub, { v: 1, kind, count: decision.send.count }, now));
		}
	}

	private async send(config: PushConfig, deviceId: string, sub: PushSubscriptionRequest, payload: PushPayload, now: number): Promise<void> {
		try {
			const keys = await vapidKeysOf(config);
			if (!keys) return;
			const body = await sealPushPayload(utf8Encode(JSON.stringify(payload)), sub.keys);
			const call = payload.kind === "call";
			const response = await fetch(sub.endpoint, {
				method: "POST",
				headers: {
					authorization: await vapidAuthorization(sub.endpoint, config.subject, keys, now),
					"content-encoding": "aes128gcm",
					"content-type": "application/octet-stream",
					// A call push later than the ring is no use; a message push may wait for a day.
					ttl: String(call ? Math.ceil(this.host.config().calls.ringTimeoutMs / 1000) : MESSAGE_TTL_SECONDS),
					urgency: call ? "high" : "normal",
					// An undelivered push of the same topic is replaced, not stacked, at the push service.
					topic: payload.kind,
				},
				body,
			});
			await response.body?.cancel();
			if (response.status === 404 || response.status === 410) {
				if (dropPushSubscription(this.host.sql, deviceId, sub.endpoint)) this.windows.delete(deviceId);
				console.log(JSON.stringify({ event: "push_subscription_gone", status: response.status }));
			} else if (!response.ok) {
				console.error(JSON.stringify({ event: "push_failed", status: response.status }));
			}
		} catch (err) {
			// No content to leak: the name of the failure only.
			console.error(JSON.stringify({ event: "push_failed", name: err instanceof Error ? err.name : typeof err }));
		}
	}
}

/** Why a subscription cannot be pushed to, or null: the schema checked its shape, this its meaning. */
async function subscriptionRefusal(sub: PushSubscriptionRequest): Promise<string | null> {
	let url: URL;
	try {
		url = new URL(sub.endpoint);
	} catch {
		return "endpoint is not a URL.";
	}
	if (url.protocol !== "https:" || url.username !== "" || url.password !== "" || url.hash !== "") {
		return "endpoint must be an https URL without credentials or fragment.";
	}
	if (!(await isP256Point(fromB64u(sub.keys.p256dh)))) return "keys.p256dh is not a P-256 public key.";
	return null;
}
