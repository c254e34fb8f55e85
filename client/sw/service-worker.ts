/**
 * The web app's service worker: it keeps the app shell (the page, its scripts, styles and
 * icons) so that the app opens, and can be installed, without the network, and it never
 * touches anything else: the API, the socket and the widget go to the network as before.
 *
 * The build writes the shell's file list and a version (a hash of those files) into this
 * script, so a new deployment is a new service worker: the browser installs it in the
 * background, it takes over at once, and the next load is the new version (the page then
 * says so). Messages, keys and history are not here: they live in IndexedDB, sealed or not,
 * exactly as without a service worker.
 *
 * It also shows the relay's Web Push while no tab is open (client/app/push-subscription.ts):
 * a push says only that a message or a call came, never from whom or what.
 */

import { pushPayload } from "../../common/protocol/push-payload.ts";

declare const SHELL_FILES: string[];
declare const SHELL_VERSION: string;

interface ExtendableEvent extends Event {
	waitUntil(work: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
	request: Request;
	respondWith(response: Promise<Response>): void;
}
interface VersionQuery extends ExtendableEvent {
	data: unknown;
	ports: readonly MessagePort[];
}
interface PushMessage extends ExtendableEvent {
	data: { text(): string } | null;
}
interface NotificationClick extends ExtendableEvent {
	notification: { data: unknown; close(): void };
}
interface WindowClientLike {
	url: string;
	focused: boolean;
	visibilityState: string;
	focus(): Promise<unknown>;
	postMessage(message: unknown): void;
}
interface WorkerScope {
	addEventListener(type: "install" | "activate", listener: (event: ExtendableEvent) => void): void;
	addEventListener(type: "notificationclick", listener: (event: NotificationClick) => void): void;
	addEventListener(type: "push", listener: (event: PushMessage) => void): void;
	addEventListener(type: "fetch", listener: (event: FetchEvent) => void): void;
	addEventListener(type: "message", listener: (event: VersionQuery) => void): void;
	skipWaiting(): Promise<void>;
	clients: {
		claim(): Promise<void>;
		matchAll(options: { type: "window"; includeUncontrolled: boolean }): Promise<readonly WindowClientLike[]>;
		openWindow(url: string): Promise<unknown>;
	};
	location: Location;
	registration: { showNotification(title: string, options: NotificationOptions & { renotify?: boolean }): Promise<void> };
}

const scope = self as unknown as WorkerScope;
const CACHE = `shell-${SHELL_VERSION}`;
/** The page is asked for by its path ("/"), the file is index.html. */
const shellPath = (path: string): string => (path === "/index.html" ? "/" : path);
const SHELL = new Set(SHELL_FILES.map(shellPath));

scope.addEventListener("install", (event) => {
	event.waitUntil(
		(async () => {
			const cache = await caches.open(CACHE);
			// Fetched afresh, not from the HTTP cache: the files of this version, with their headers (the page's CSP among them).
			await cache.addAll([...SHELL].map((path) => new Request(path, { cache: "reload" })));
			await scope.skipWaiting();
		})(),
	);
});

scope.addEventListener("activate", (event) => {
	event.waitUntil(
		(async () => {
			for (const name of await caches.keys()) if (name.startsWith("shell-") && name !== CACHE) await caches.delete(name);
			await scope.clients.claim();
		})(),
	);
});

scope.addEventListener("fetch", (event) => {
	const { request } = event;
	if (request.method !== "GET") return;
	const url = new URL(request.url);
	if (url.origin !== scope.location.origin || !SHELL.has(url.pathname)) return;
	// The shell from this version's cache; the network only for what it lacks (it was evicted).
	event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)));
});

// The page asks which version serves it, to say "updated" once after a new one took over.
scope.addEventListener("message", (event) => {
	if (event.data === "version") event.ports[0]?.postMessage(SHELL_VERSION);
});

/** What a notice says of a push: its payload only, and a notice still if that was unreadable (a push must show one). */
function pushNotice(data: PushMessage["data"]): { title: string; body: string; tag: string } {
	let push: { kind: "message" | "call"; count: number } | null = null;
	try {
		push = data ? pushPayload.parse(JSON.parse(data.text()), "push") : null;
	} catch {
		push = null;
	}
	if (push?.kind === "call") return { title: "Incoming call", body: "Open Secure Messaging to answer.", tag: "push-call" };
	const count = push?.count ?? 1;
	return { title: "New message", body: count > 1 ? `${count} new messages` : "Open Secure Messaging to read it.", tag: "push-message" };
}

// A Web Push from the relay: no tab had the account open. Pushes are subscribed with
// userVisibleOnly, so every one shows a notice; one per kind, replaced (and sounding again)
// by the next. A click goes to the handler below, which opens the app.
scope.addEventListener("push", (event) => {
	const { title, body, tag } = pushNotice(event.data);
	event.waitUntil(scope.registration.showNotification(title, { body, tag, renotify: true, icon: "/icons/icon-192.png", data: {} }));
});

// A notification the app showed (features/desktop-notifications.ts) was clicked: bring the app's
// window forward and have it open that chat, or open the app if no window of it is left.
scope.addEventListener("notificationclick", (event) => {
	event.notification.close();
	const data = event.notification.data as { peerId?: unknown } | null;
	const peerId = typeof data?.peerId === "string" ? data.peerId : null;
	event.waitUntil(
		(async () => {
			// The app's pages only: the widget, framed in other sites, is of this origin too.
			const all = await scope.clients.matchAll({ type: "window", includeUncontrolled: true });
			const windows = all.filter((w) => !new URL(w.url).pathname.startsWith("/widget"));
			const target = windows.find((w) => w.focused) ?? windows.find((w) => w.visibilityState === "visible") ?? windows[0];
			if (!target) {
				await scope.clients.openWindow("/");
				return;
			}
			await target.focus().catch(() => {});
			if (peerId !== null) target.postMessage({ type: "open-chat", peerId });
		})(),
	);
});
