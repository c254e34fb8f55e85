import { fromB64u, toB64u } from "../../common/encoding.ts";
import type { PushSubscriptionRequest } from "../../common/protocol/wire.ts";

/**
 * Web Push for when no tab of the app is open: the browser subscribes with the relay's VAPID
 * key, and the relay keeps the subscription in this device's row of the account. A push then
 * wakes the service worker (client/sw/service-worker.ts), which shows "New message" or
 * "Incoming call" and nothing else: the push names no sender and carries no content.
 *
 * Called once notification permission is granted (the permission flow, or main.tsx when the
 * client is ready and permission was granted before); without permission, without a service
 * worker or Push API, or when the relay has no VAPID key, it does nothing.
 */

/** What this needs of the SDK client (MessengerClient). */
export interface PushRelay {
	pushKey(): Promise<string | null>;
	setPushSubscription(subscription: PushSubscriptionRequest): Promise<void>;
	removePushSubscription(): Promise<void>;
}

export type PushOutcome = "subscribed" | "unavailable";

/**
 * The parts of the Push API this uses, as a ServiceWorkerRegistration has them (typed here,
 * not taken from the DOM library, so that the module runs in Node's tests as well).
 */
export interface PushSubscriptionLike {
	readonly endpoint: string;
	readonly options: { readonly applicationServerKey: ArrayBuffer | null };
	getKey(name: "p256dh" | "auth"): ArrayBuffer | null;
	unsubscribe(): Promise<boolean>;
}
export interface PushRegistration {
	readonly pushManager?: {
		getSubscription(): Promise<PushSubscriptionLike | null>;
		subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array<ArrayBuffer> }): Promise<PushSubscriptionLike>;
	};
}

const sameBytes = (a: ArrayBuffer | null | undefined, b: Uint8Array): boolean =>
	!!a && a.byteLength === b.length && new Uint8Array(a).every((byte, i) => byte === b[i]);

/**
 * This browser's subscription for the relay's key, made with the Push API or, if it has one
 * for that key already, reused (subscribing again would give the same one). A subscription
 * under another key (the operator changed it) is dropped first: the push service would
 * refuse pushes signed with the new one. Null where the browser has no Push API.
 */
export async function subscribeToPush(registration: PushRegistration, vapidPublicKey: string): Promise<PushSubscriptionRequest | null> {
	const manager = registration.pushManager;
	if (!manager) return null;
	const key = fromB64u(vapidPublicKey);
	let subscription = await manager.getSubscription();
	if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
		await subscription.unsubscribe();
		subscription = null;
	}
	subscription ??= await manager.subscribe({ userVisibleOnly: true, applicationServerKey: new Uint8Array(key) });
	const p256dh = subscription.getKey("p256dh");
	const auth = subscription.getKey("auth");
	if (!p256dh || !auth) return null;
	return { endpoint: subscription.endpoint, keys: { p256dh: toB64u(new Uint8Array(p256dh)), auth: toB64u(new Uint8Array(auth)) } };
}

/** Drop this browser's subscription, if it has one; true if one went. */
export async function unsubscribeFromPush(registration: PushRegistration): Promise<boolean> {
	const subscription = await registration.pushManager?.getSubscription();
	return subscription ? subscription.unsubscribe() : false;
}

/** The endpoint last given to the relay by this page: the client is ready again on every reconnect. */
let sentEndpoint: string | null = null;

type Browser = {
	Notification?: { permission: string };
	navigator?: { serviceWorker?: { getRegistration(): Promise<(PushRegistration & { active: unknown }) | undefined> } };
};
const browser = globalThis as Browser;

/** The app's service worker registration once it is active, or null (none, or no service workers here). */
async function serviceWorker(): Promise<PushRegistration | null> {
	const registration = await browser.navigator?.serviceWorker?.getRegistration().catch(() => undefined);
	return registration?.active ? registration : null;
}

/**
 * Once notifications are allowed: subscribe this browser and give the subscription to the
 * relay. Safe to call again (on every connect): the same subscription is not sent twice.
 */
export async function enablePush(relay: PushRelay, registration?: PushRegistration): Promise<PushOutcome> {
	if (browser.Notification?.permission !== "granted") return "unavailable";
	const worker = registration ?? (await serviceWorker());
	if (!worker) return "unavailable";
	const key = await relay.pushKey();
	if (key === null) return "unavailable";
	const subscription = await subscribeToPush(worker, key);
	if (!subscription) return "unavailable";
	if (subscription.endpoint !== sentEndpoint) {
		await relay.setPushSubscription(subscription);
		sentEndpoint = subscription.endpoint;
	}
	return "subscribed";
}

/**
 * This device was erased (signed out, removed from its account, the account deleted): the
 * relay dropped its subscription with the device, and the browser's own goes too, so that the
 * push service holds no endpoint for a device that is gone. Never throws: erasing goes on.
 */
export async function dropBrowserPush(registration?: PushRegistration): Promise<boolean> {
	sentEndpoint = null;
	const worker = registration ?? (await serviceWorker());
	return worker ? unsubscribeFromPush(worker).catch(() => false) : false;
}

/** Notifications turned off: no more pushes, at the relay and in the browser. */
export async function disablePush(relay: PushRelay, registration?: PushRegistration): Promise<void> {
	sentEndpoint = null;
	await relay.removePushSubscription();
	const worker = registration ?? (await serviceWorker());
	if (worker) await unsubscribeFromPush(worker);
}
