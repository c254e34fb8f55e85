import { type NotificationPlatform, openChatMessage } from "./features/desktop-notifications.ts";
import type { NotificationPermissionState } from "./notification-rules.ts";

/**
 * The browser's notifications. They go through the service worker's registration where there
 * is an active one (Chrome on Android allows no other kind, and a click then reaches the app
 * even after a reload: the worker focuses the window and posts the chat to open), else through
 * the page's own `new Notification` (desktop browsers allow it), whose click the page handles.
 */
export function browserNotifications(): NotificationPlatform {
	const supported = typeof Notification !== "undefined";
	const permission = (): NotificationPermissionState => (supported ? Notification.permission : "unsupported");
	const pageNotices = new Map<string, Notification>();
	const registration = async (): Promise<ServiceWorkerRegistration | undefined> => {
		if (!("serviceWorker" in navigator)) return undefined;
		const found = await navigator.serviceWorker.getRegistration().catch(() => undefined);
		return found?.active ? found : undefined;
	};
	return {
		permission,
		requestPermission: async () => (supported ? await Notification.requestPermission() : "unsupported"),
		watchPermission(listener) {
			// Not every browser tells (or knows the name): then the app sees the change on its next ask.
			navigator.permissions
				?.query({ name: "notifications" })
				.then((status) => status.addEventListener("change", listener))
				.catch(() => {});
		},
		attention: () => ({ visible: document.visibilityState === "visible", focused: document.hasFocus() }),
		async show(notice, clicked) {
			if (!supported) return;
			const options = { body: notice.body, tag: notice.tag, data: { peerId: notice.peerId }, icon: "/icons/icon-192.png" };
			const worker = await registration();
			if (worker) {
				await worker.showNotification(notice.title, options);
				return;
			}
			const shown = new Notification(notice.title, options);
			shown.onclick = () => {
				shown.close();
				clicked();
			};
			pageNotices.set(notice.tag, shown);
		},
		async close(tag) {
			pageNotices.get(tag)?.close();
			pageNotices.delete(tag);
			const worker = await registration();
			for (const shown of (await worker?.getNotifications({ tag })) ?? []) shown.close();
		},
		watchClicks(listener) {
			if (!("serviceWorker" in navigator)) return;
			navigator.serviceWorker.addEventListener("message", (event) => {
				const open = openChatMessage(event.data);
				if (open) listener(open.peerId);
			});
			// A listener added this way starts no delivery by itself, unlike `onmessage`.
			navigator.serviceWorker.startMessages();
		},
		focusWindow: () => window.focus(),
	};
}
