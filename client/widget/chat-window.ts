/**
 * When the browser gives the embedded iframe no storage (third-party storage blocked, as in
 * Chromium by default and in private windows) and no Storage Access either (storage-access.ts),
 * the chat opens in a window of our own origin instead, where storage is first-party. That
 * window tells the iframe that opened it how many messages are unread, and the iframe passes
 * the count on to the host page.
 */

const WINDOW_SOURCE = "secure-messaging-chat-window";

/** Open the chat as a top-level window of this origin; null if the browser refused the window. */
export function openChatWindow(handle: string, theme: string): Window | null {
	const url = new URL("/widget", location.origin);
	url.searchParams.set("handle", handle);
	url.searchParams.set("theme", theme);
	url.searchParams.set("window", "1");
	return window.open(url.href, `secure-messaging-${handle}`, "popup,width=420,height=640");
}

/** In the chat window: tell the opener (the iframe, same origin) the unread count. */
export function reportUnreadToOpener(count: number): void {
	const opener = window.opener as Window | null;
	if (!opener || opener === window) return;
	try {
		opener.postMessage({ source: WINDOW_SOURCE, type: "unread", count }, location.origin);
	} catch {
		// The opener went away.
	}
}

/** In the iframe: listen for the unread counts of the chat window it opened. */
export function onChatWindowUnread(from: () => Window | null, listener: (count: number) => void): () => void {
	const handler = (event: MessageEvent) => {
		const win = from();
		if (event.origin !== location.origin || !win || event.source !== win) return;
		const data: unknown = event.data;
		if (typeof data !== "object" || data === null) return;
		const { source, type, count } = data as Record<string, unknown>;
		if (source === WINDOW_SOURCE && type === "unread" && Number.isSafeInteger(count) && (count as number) >= 0) listener(count as number);
	};
	window.addEventListener("message", handler);
	return () => window.removeEventListener("message", handler);
}
