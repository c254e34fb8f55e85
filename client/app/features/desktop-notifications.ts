import {
	type DesktopNotice,
	desktopNotice,
	type NotifiableEvent,
	type NotificationChoices,
	type NotificationPermissionState,
	noticeTag,
	type PageAttention,
} from "../notification-rules.ts";
import { Store } from "../store.ts";
import type { KeyValueStorage } from "./start-up-cache.ts";

/**
 * The person's notification choices on this device, in localStorage beside the profile's other
 * marks: on unless turned off, previews off unless turned on, the muted contacts, and whether
 * the offer to turn them on was put away. Nothing of it leaves the device.
 */
export class NotificationSettings {
	constructor(
		private readonly prefix: string,
		private readonly storage: () => KeyValueStorage,
	) {}

	load(): NotificationChoices & { dismissed: boolean } {
		return {
			enabled: this.get("notifications") !== "off",
			previews: this.get("notification-previews") === "on",
			muted: this.mutedList(),
			dismissed: this.get("notification-offer") === "dismissed",
		};
	}

	setEnabled(on: boolean): void {
		this.put("notifications", on ? null : "off");
	}

	setPreviews(on: boolean): void {
		this.put("notification-previews", on ? "on" : null);
	}

	setMuted(muted: readonly string[]): void {
		this.put("notifications-muted", muted.length === 0 ? null : JSON.stringify(muted));
	}

	dismissOffer(): void {
		this.put("notification-offer", "dismissed");
	}

	private mutedList(): string[] {
		try {
			const parsed: unknown = JSON.parse(this.get("notifications-muted") ?? "[]");
			// Written by this code only, but a damaged value mutes nobody rather than breaking the app.
			return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === "string") : [];
		} catch {
			return [];
		}
	}

	private get(name: string): string | null {
		try {
			return this.storage().getItem(`${this.prefix}:${name}`);
		} catch {
			return null;
		}
	}

	private put(name: string, value: string | null): void {
		try {
			if (value === null) this.storage().removeItem(`${this.prefix}:${name}`);
			else this.storage().setItem(`${this.prefix}:${name}`, value);
		} catch {
			// Storage may be disabled: the choice then lasts as long as the page.
		}
	}
}

/** What the views show of notifications. */
export interface NotificationsState extends NotificationChoices {
	permission: NotificationPermissionState;
	/** The person put the offer away. */
	dismissed: boolean;
}

/** The browser as notifications need it (browser-notifications.ts is the real one). */
export interface NotificationPlatform {
	permission(): NotificationPermissionState;
	requestPermission(): Promise<NotificationPermissionState>;
	/** Told when the permission changes outside the app (the browser's site settings). */
	watchPermission(listener: () => void): void;
	attention(): Pick<PageAttention, "visible" | "focused">;
	/** Show it; `clicked` runs in this page when the person clicks it. */
	show(notice: DesktopNotice, clicked: () => void): Promise<void>;
	/** Take away the notification under this tag, if it still shows. */
	close(tag: string): Promise<void>;
	/** A click on a notification this page showed through the service worker (after a reload, say): open that chat. */
	watchClicks(listener: (peerId: string) => void): void;
	focusWindow(): void;
}

/** What the notifications read of the app: the contacts' handles, the open chat, the ringing call. */
export interface NotificationSources {
	handle(peerId: string): string | undefined;
	activePeer(): string | null;
}

/** The call of the web app as notifications watch it (CallController is one). */
export interface RingingCalls {
	readonly state: { key: number; peerId: string; video: boolean; phase: string; direction: string } | null;
	subscribe(listener: (state: RingingCalls["state"]) => void): () => void;
}

/**
 * Desktop notifications of the web app: decides with notification-rules.ts, shows through the
 * platform, and opens the chat of a notification clicked. Messages come in through `message`
 * (the controller's arrivals), calls through the call controller's state; a call's notification
 * goes away once it stops ringing.
 */
export class DesktopNotifications {
	private readonly store: Store<NotificationsState>;
	private readonly openListeners = new Set<(peerId: string) => void>();
	/** Notifications are shown one after the other, in the order the events came. */
	private queue: Promise<void> = Promise.resolve();
	private ringing: { key: number; tag: string } | null = null;

	constructor(
		private readonly platform: NotificationPlatform,
		private readonly settings: NotificationSettings,
		private readonly sources: NotificationSources,
		/** After the browser granted the permission: e.g. subscribe to Web Push. */
		private readonly granted: () => void = () => {},
	) {
		this.store = new Store<NotificationsState>({ ...settings.load(), permission: platform.permission() });
		platform.watchPermission(() => this.store.update({ permission: platform.permission() }));
		platform.watchClicks((peerId) => this.opened(peerId));
	}

	get state(): NotificationsState {
		return this.store.state;
	}

	subscribe(listener: (state: NotificationsState) => void): () => void {
		return this.store.subscribe(listener);
	}

	/** The app opens the chat of a clicked notification through this. */
	onOpen(listener: (peerId: string) => void): () => void {
		this.openListeners.add(listener);
		return () => this.openListeners.delete(listener);
	}

	/** Watch the calls: a ringing call notifies, and its notification goes once it stops ringing. */
	watchCalls(calls: RingingCalls): () => void {
		const changed = (call: RingingCalls["state"]) => {
			const rings = call !== null && call.direction === "incoming" && call.phase === "incoming";
			if (this.ringing && (!rings || call.key !== this.ringing.key)) {
				const { tag } = this.ringing;
				this.ringing = null;
				this.enqueue(() => this.platform.close(tag));
			}
			if (rings && this.ringing === null) {
				this.ringing = { key: call.key, tag: noticeTag("call", call.peerId) };
				this.notify({ kind: "call", peerId: call.peerId, video: call.video });
			}
		};
		changed(calls.state);
		return calls.subscribe(changed);
	}

	/** A new message from a contact arrived (and is shown in the app). */
	message(peerId: string, text: string, file: boolean): void {
		this.notify({ kind: "message", peerId, text, file });
	}

	/** "Turn on": asks the browser (it shows its own prompt), and turns them on here if it agrees. */
	async turnOn(): Promise<NotificationPermissionState> {
		let permission = this.platform.permission();
		if (permission === "default") permission = await this.platform.requestPermission().catch(() => this.platform.permission());
		this.settings.setEnabled(true);
		this.store.update({ permission, enabled: true });
		if (permission === "granted") this.granted();
		return permission;
	}

	setEnabled(on: boolean): void {
		this.settings.setEnabled(on);
		this.store.update({ enabled: on });
	}

	setPreviews(on: boolean): void {
		this.settings.setPreviews(on);
		this.store.update({ previews: on });
	}

	setMuted(peerId: string, muted: boolean): void {
		const others = this.store.state.muted.filter((id) => id !== peerId);
		const next = muted ? [...others, peerId] : others;
		this.settings.setMuted(next);
		this.store.update({ muted: next });
	}

	/** "Not now" on the offer: it does not come back on this device (the settings still can turn them on). */
	dismissOffer(): void {
		this.settings.dismissOffer();
		this.store.update({ dismissed: true });
	}

	private notify(event: NotifiableEvent): void {
		const state = this.store.state;
		// Decided now, at the event, not when the queue reaches it: where the person looks is what it was.
		const notice = desktopNotice(
			event,
			state.permission,
			state,
			{ ...this.platform.attention(), activePeer: this.sources.activePeer() },
			this.sources.handle(event.peerId),
		);
		if (notice) this.enqueue(() => this.platform.show(notice, () => this.opened(notice.peerId)));
	}

	private enqueue(step: () => Promise<void>): void {
		// A notification that cannot show (the platform refused it) leaves the app as it was.
		this.queue = this.queue.then(step).catch(() => {});
	}

	private opened(peerId: string): void {
		this.platform.focusWindow();
		for (const listener of this.openListeners) listener(peerId);
	}
}

/** What the service worker posts to its pages when a notification is clicked (client/sw/service-worker.ts). */
export interface OpenChatMessage {
	type: "open-chat";
	peerId: string;
}

/** The message of a notification click, or null for anything else the worker (or anyone) posts. */
export function openChatMessage(data: unknown): OpenChatMessage | null {
	if (typeof data !== "object" || data === null) return null;
	const { type, peerId } = data as Record<string, unknown>;
	return type === "open-chat" && typeof peerId === "string" && peerId.length > 0 && peerId.length <= 64 ? { type, peerId } : null;
}
