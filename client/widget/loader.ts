/**
 * widget.js: runs on the host page (a classic script, so `document.currentScript` names its
 * own tag). It inserts the widget's iframe and relays the small postMessage API of
 * embed-api.ts, checking the exact origin and window of everything it receives.
 */
import { type EmbeddedWidget, hostCommand, parseWidgetEvent, WIDGET_DOM_EVENT, WIDGET_THEMES, type WidgetTheme } from "./embed-api.ts";

const HANDLE = /^[A-Za-z0-9_]{3,32}$/;
/** The launcher's height before the widget reports its own. */
const INITIAL_HEIGHT = 64;
const WIDTH = 380;

function mount(script: HTMLScriptElement): void {
	const widgetOrigin = new URL(script.src, location.href).origin;
	const handle = script.dataset.handle ?? "";
	if (!HANDLE.test(handle)) {
		console.error("Secure Messaging widget: data-handle must be 3–32 letters, digits or underscores.");
		return;
	}
	const requested = script.dataset.theme ?? "auto";
	const theme: WidgetTheme = WIDGET_THEMES.find((t) => t === requested) ?? "auto";
	const inline = script.dataset.position === "inline";

	const src = new URL("/widget", widgetOrigin);
	src.searchParams.set("handle", handle.toLowerCase());
	src.searchParams.set("theme", theme);
	src.searchParams.set("host", location.origin);
	if (script.dataset.open === "true") src.searchParams.set("open", "1");

	const iframe = document.createElement("iframe");
	iframe.src = src.href;
	iframe.title = `Chat with @${handle}`;
	iframe.setAttribute("data-secure-messaging-widget", handle.toLowerCase());
	Object.assign(iframe.style, {
		border: "0",
		background: "transparent",
		colorScheme: "normal",
		height: `${INITIAL_HEIGHT}px`,
		width: inline ? "100%" : `${WIDTH}px`,
		maxWidth: inline ? "100%" : "calc(100vw - 32px)",
		maxHeight: inline ? "none" : "calc(100vh - 32px)",
		...(inline ? { display: "block" } : { position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483000" }),
	});

	window.addEventListener("message", (event) => {
		// Only our iframe's window at our origin; a message from anywhere else is not ours.
		if (event.origin !== widgetOrigin || event.source !== iframe.contentWindow) return;
		const message = parseWidgetEvent(event.data);
		if (!message) return;
		if (message.type === "resize") iframe.style.height = `${message.height}px`;
		iframe.dispatchEvent(new CustomEvent(WIDGET_DOM_EVENT, { detail: message, bubbles: true }));
	});

	const post = (type: "open" | "close") => iframe.contentWindow?.postMessage(hostCommand(type), widgetOrigin);
	const widget: EmbeddedWidget = { handle: handle.toLowerCase(), iframe, open: () => post("open"), close: () => post("close") };
	window.secureMessagingWidgets ??= [];
	window.secureMessagingWidgets.push(widget);

	if (inline) script.after(iframe);
	else document.body.append(iframe);
}

const script = document.currentScript;
if (script instanceof HTMLScriptElement) {
	if (document.body) mount(script);
	else document.addEventListener("DOMContentLoaded", () => mount(script), { once: true });
} else {
	console.error("Secure Messaging widget: load widget.js with a plain <script src> tag (not a module).");
}
