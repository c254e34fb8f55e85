import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PushRegistration, PushSubscriptionLike } from "../../client/app/push-subscription.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import type { PushSubscriptionRequest } from "../../common/protocol/wire.ts";
import { TEST_VAPID } from "../support/test-vapid.ts";

/**
 * client/app/push-subscription.ts: when the app subscribes to Web Push, and what it gives the
 * relay. The Push API itself is the browser's, which headless Chromium cannot use (it has no
 * push service to subscribe at), so it stands in here as the spec describes it: one
 * subscription per registration, bound to the key it was made with. The service worker's
 * side runs in real Chromium (test/e2e/web-push.test.ts).
 */

const OTHER_KEY = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";

type SubscribeOptions = { userVisibleOnly: boolean; applicationServerKey: Uint8Array<ArrayBuffer> };

function browserPush() {
	let current: PushSubscriptionLike | null = null;
	let made = 0;
	const subscribeCalls: SubscribeOptions[] = [];
	const make = (key: Uint8Array): PushSubscriptionLike => {
		made++;
		const p256dh = new Uint8Array(65).fill(made);
		const auth = new Uint8Array(16).fill(made);
		const sub = {
			endpoint: `https://push.example/send/${made}`,
			options: { applicationServerKey: key.slice().buffer, userVisibleOnly: true },
			getKey: (name: string) => (name === "p256dh" ? p256dh.slice().buffer : name === "auth" ? auth.slice().buffer : null),
			unsubscribe: async () => {
				if (current === sub) current = null;
				return true;
			},
		} as PushSubscriptionLike;
		return sub;
	};
	const pushManager = {
		getSubscription: async () => current,
		subscribe: async (options: SubscribeOptions) => {
			subscribeCalls.push(options);
			if (current) throw new DOMException("a subscription with another key exists", "InvalidStateError");
			current = make(new Uint8Array(options.applicationServerKey));
			return current;
		},
	};
	return {
		registration: { pushManager } satisfies PushRegistration,
		subscribeCalls,
		current: () => current,
		preset: (key: string) => {
			current = make(fromB64u(key));
		},
	};
}

function relay(key: string | null) {
	const sent: PushSubscriptionRequest[] = [];
	let removed = 0;
	return {
		sent,
		removed: () => removed,
		pushKey: async () => key,
		setPushSubscription: async (s: PushSubscriptionRequest) => {
			sent.push(s);
		},
		removePushSubscription: async () => {
			removed++;
		},
	};
}

let push: typeof import("../../client/app/push-subscription.ts");
const permission = (value: "default" | "denied" | "granted") => vi.stubGlobal("Notification", { permission: value });

beforeEach(async () => {
	vi.resetModules();
	push = await import("../../client/app/push-subscription.ts");
});
afterEach(() => {
	vi.unstubAllGlobals();
});

describe("subscribing to Web Push", () => {
	it("does nothing before notification permission is granted, or when the relay has no VAPID key", async () => {
		for (const state of ["default", "denied"] as const) {
			permission(state);
			const b = browserPush();
			const r = relay(TEST_VAPID.publicKey);
			expect(await push.enablePush(r, b.registration)).toBe("unavailable");
			expect([b.subscribeCalls, r.sent]).toEqual([[], []]);
		}
		permission("granted");
		const b = browserPush();
		const r = relay(null);
		expect(await push.enablePush(r, b.registration)).toBe("unavailable");
		expect([b.subscribeCalls, r.sent]).toEqual([[], []]);
	});

	it("subscribes with userVisibleOnly and the relay's key, gives the relay the endpoint and keys once, and reuses the subscription", async () => {
		permission("granted");
		const b = browserPush();
		const r = relay(TEST_VAPID.publicKey);
		expect(await push.enablePush(r, b.registration)).toBe("subscribed");
		expect(b.subscribeCalls).toHaveLength(1);
		expect(b.subscribeCalls[0]?.userVisibleOnly).toBe(true);
		expect(toB64u(b.subscribeCalls[0]?.applicationServerKey as Uint8Array)).toBe(TEST_VAPID.publicKey);
		expect(r.sent).toEqual([
			{
				endpoint: "https://push.example/send/1",
				keys: { p256dh: toB64u(new Uint8Array(65).fill(1)), auth: toB64u(new Uint8Array(16).fill(1)) },
			},
		]);
		// Every reconnect calls it again: the same subscription, not sent twice.
		expect(await push.enablePush(r, b.registration)).toBe("subscribed");
		expect([b.subscribeCalls.length, r.sent.length]).toEqual([1, 1]);
	});

	it("replaces a subscription made under another key (the operator changed it) instead of failing", async () => {
		permission("granted");
		const b = browserPush();
		b.preset(OTHER_KEY);
		const r = relay(TEST_VAPID.publicKey);
		expect(await push.enablePush(r, b.registration)).toBe("subscribed");
		expect(r.sent.map((s) => s.endpoint)).toEqual(["https://push.example/send/2"]);
		expect(toB64u(new Uint8Array(b.current()?.options.applicationServerKey as ArrayBuffer))).toBe(TEST_VAPID.publicKey);
	});

	it("turning pushes off tells the relay and drops the browser's subscription", async () => {
		permission("granted");
		const b = browserPush();
		const r = relay(TEST_VAPID.publicKey);
		await push.enablePush(r, b.registration);
		await push.disablePush(r, b.registration);
		expect([r.removed(), b.current()]).toEqual([1, null]);
		// Turned on again: subscribed and sent afresh.
		expect(await push.enablePush(r, b.registration)).toBe("subscribed");
		expect(r.sent).toHaveLength(2);
	});

	it("a device erased here drops the browser's subscription without asking the relay, and a new device subscribes afresh", async () => {
		permission("granted");
		const b = browserPush();
		const r = relay(TEST_VAPID.publicKey);
		await push.enablePush(r, b.registration);
		expect(await push.dropBrowserPush(b.registration)).toBe(true);
		// The relay dropped its copy with the device: nothing is asked of it.
		expect([r.removed(), b.current()]).toEqual([0, null]);
		expect(await push.dropBrowserPush(b.registration)).toBe(false);
		// The next device in this browser gives the relay its own subscription.
		expect(await push.enablePush(r, b.registration)).toBe("subscribed");
		expect(r.sent).toHaveLength(2);
	});
});
