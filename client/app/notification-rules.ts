/**
 * When the web app shows a desktop notification, and what it says: pure rules, apart from the
 * browser glue (features/desktop-notifications.ts), so that they are tested without a browser.
 *
 * A notification is for someone not looking at the app: the page is hidden (another tab, a
 * minimised window) or its window is not focused (another app in front). A conversation open
 * on a visible page is on screen, and its messages count as read there already
 * (features/conversations.ts), so it gets none. The text of a message is shown only when the
 * person chose previews: it exists only on this device, and a lock screen is not.
 */

/** What may deserve a notification: a new message from a contact, or a contact's call ringing here. */
export type NotifiableEvent =
	| { kind: "message"; peerId: string; text: string; file: boolean }
	| { kind: "call"; peerId: string; video: boolean };

/** The browser's answer to "may this site notify?", or that it has no notifications at all. */
export type NotificationPermissionState = "default" | "granted" | "denied" | "unsupported";

/** The person's choices on this device (kept by features/desktop-notifications.ts). */
export interface NotificationChoices {
	/** Notifications wanted (on unless turned off here; the browser's permission is apart). */
	enabled: boolean;
	/** Show the message's text rather than "New message". Off unless chosen. */
	previews: boolean;
	/** Contacts whose messages notify nothing here (their calls still do: see docs/decisions.md). */
	muted: readonly string[];
}

/** Where the person's eyes may be, at the moment the event arrives. */
export interface PageAttention {
	/** document.visibilityState === "visible" */
	visible: boolean;
	/** document.hasFocus() */
	focused: boolean;
	/** The conversation open in the app, if any. */
	activePeer: string | null;
}

/** What the notification says: the Notification API's title and options, and whose chat a click opens. */
export interface DesktopNotice {
	title: string;
	body: string;
	/** One per contact (and kind): a burst replaces the notification rather than stacking them. */
	tag: string;
	peerId: string;
}

/** The longest body shown: a notification is a glance, and the platform cuts the rest anyway. */
export const PREVIEW_MAX = 140;

/** The tag of a contact's notifications; a call's is its own, so that the call's can be closed when it stops ringing. */
export const noticeTag = (kind: NotifiableEvent["kind"], peerId: string): string => `${kind}:${peerId}`;

/** Whether the person is looking at the app at all: then nothing notifies, the app itself shows what came. */
export const lookingAtApp = (page: PageAttention): boolean => page.visible && page.focused;

/**
 * The notification for `event`, or null when none should show: notifications not allowed by
 * the browser or turned off here, the person looking at the app, the message's conversation
 * open on a visible page, or a message from a muted contact. `handle` is the contact's handle
 * as the app shows it (without "@"), or undefined for someone not (or no longer) a contact.
 */
export function desktopNotice(
	event: NotifiableEvent,
	permission: NotificationPermissionState,
	choices: NotificationChoices,
	page: PageAttention,
	handle: string | undefined,
): DesktopNotice | null {
	if (permission !== "granted" || !choices.enabled) return null;
	if (lookingAtApp(page)) return null;
	const title = handle === undefined ? "A contact" : `@${handle}`;
	const tag = noticeTag(event.kind, event.peerId);
	if (event.kind === "call") return { title, body: event.video ? "Incoming video call" : "Incoming call", tag, peerId: event.peerId };
	if (page.visible && page.activePeer === event.peerId) return null;
	if (choices.muted.includes(event.peerId)) return null;
	return { title, body: messageBody(event, choices.previews), tag, peerId: event.peerId };
}

function messageBody(event: Extract<NotifiableEvent, { kind: "message" }>, previews: boolean): string {
	if (event.file) return "Sent a file";
	const text = event.text.replace(/\s+/g, " ").trim();
	if (!previews || text === "") return "New message";
	return text.length > PREVIEW_MAX ? `${text.slice(0, PREVIEW_MAX - 1)}…` : text;
}

/**
 * Whether to offer notifications (the dismissible "Get notified of new messages" line): never
 * on a first load, only once there is someone to hear from (an accepted contact), only while the
 * browser has not been asked yet, and not again once the person said no thanks here.
 */
export function offerNotifications(
	permission: NotificationPermissionState,
	dismissed: boolean,
	contacts: readonly { state: string }[],
): boolean {
	return permission === "default" && !dismissed && contacts.some((c) => c.state === "accepted");
}
