/**
 * The public embedding API of the Secure Messaging widget (docs/decisions.md, "Widget").
 *
 * A host page adds `<script src="https://<relay>/widget.js" data-handle="alice" async>`; the
 * script inserts an iframe of the relay's origin and talks to it only with `postMessage`,
 * always naming the exact target origin and checking the sender's origin and window. Nothing
 * here carries message text, keys or account data: only that the widget is ready, how many
 * messages are unread, and how tall it wants to be.
 *
 * Internal types of the widget (its state, the chat model) are not part of this API.
 */

/** Marks messages the widget posts to the host page. */
export const WIDGET_SOURCE = "secure-messaging-widget";
/** Marks messages a host page posts to the widget. */
export const HOST_SOURCE = "secure-messaging-host";
export const EMBED_API_VERSION = 1;

/** The name of the DOM event widget.js dispatches (bubbling) on the iframe for every WidgetEvent. */
export const WIDGET_DOM_EVENT = "secure-messaging-widget";

export type WidgetTheme = "light" | "dark" | "auto";
export const WIDGET_THEMES: readonly WidgetTheme[] = ["light", "dark", "auto"];

/** Widget → host page. */
export type WidgetEvent =
	/** The widget has loaded and listens for commands. */
	| { source: typeof WIDGET_SOURCE; version: typeof EMBED_API_VERSION; type: "ready" }
	/** Unread messages in the widget's conversation (0 when read). */
	| { source: typeof WIDGET_SOURCE; version: typeof EMBED_API_VERSION; type: "unread"; count: number }
	/** The height in CSS pixels the widget wants its iframe to have. */
	| { source: typeof WIDGET_SOURCE; version: typeof EMBED_API_VERSION; type: "resize"; height: number };

/** Host page → widget. */
export type HostCommand =
	/** Open the chat panel. */
	| { source: typeof HOST_SOURCE; version: typeof EMBED_API_VERSION; type: "open" }
	/** Collapse it back to its launcher button. */
	| { source: typeof HOST_SOURCE; version: typeof EMBED_API_VERSION; type: "close" };

/** What widget.js adds to `window.secureMessagingWidgets` for each script tag. */
export interface EmbeddedWidget {
	/** The handle the widget chats with, case-folded. */
	readonly handle: string;
	/** The iframe; every WidgetEvent is also dispatched on it as a `secure-messaging-widget` CustomEvent. */
	readonly iframe: HTMLIFrameElement;
	open(): void;
	close(): void;
}

declare global {
	interface Window {
		secureMessagingWidgets?: EmbeddedWidget[];
	}
}

/** Heights outside this range are refused as nonsense. */
export const MAX_WIDGET_HEIGHT = 4000;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The event if `data` is a well-formed WidgetEvent, else null (anything else on the channel is ignored). */
export function parseWidgetEvent(data: unknown): WidgetEvent | null {
	if (!isRecord(data) || data.source !== WIDGET_SOURCE || data.version !== EMBED_API_VERSION) return null;
	const base = { source: WIDGET_SOURCE, version: EMBED_API_VERSION } as const;
	switch (data.type) {
		case "ready":
			return { ...base, type: "ready" };
		case "unread": {
			const { count } = data;
			return Number.isSafeInteger(count) && (count as number) >= 0 ? { ...base, type: "unread", count: count as number } : null;
		}
		case "resize": {
			const { height } = data;
			return typeof height === "number" && Number.isFinite(height) && height >= 0 && height <= MAX_WIDGET_HEIGHT
				? { ...base, type: "resize", height: Math.ceil(height) }
				: null;
		}
		default:
			return null;
	}
}

/** The command if `data` is a well-formed HostCommand, else null. */
export function parseHostCommand(data: unknown): HostCommand | null {
	if (!isRecord(data) || data.source !== HOST_SOURCE || data.version !== EMBED_API_VERSION) return null;
	if (data.type === "open" || data.type === "close") return { source: HOST_SOURCE, version: EMBED_API_VERSION, type: data.type };
	return null;
}

export type WithoutEnvelope<T> = T extends unknown ? Omit<T, "source" | "version"> : never;

/** Build a message from the widget. */
export function widgetEvent(event: WithoutEnvelope<WidgetEvent>): WidgetEvent {
	return { source: WIDGET_SOURCE, version: EMBED_API_VERSION, ...event };
}

/** Build a command for the widget. */
export function hostCommand(type: HostCommand["type"]): HostCommand {
	return { source: HOST_SOURCE, version: EMBED_API_VERSION, type };
}
