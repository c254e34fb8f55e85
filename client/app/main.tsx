import { render } from "preact";
import { App } from "./app.tsx";
import { startAppShell } from "./app-shell.ts";
import { browserNotifications } from "./browser-notifications.ts";
import { browserMedia, CallController } from "./call-controller.ts";
import { errorText } from "./error-text.ts";
import { DesktopNotifications, NotificationSettings } from "./features/desktop-notifications.ts";
import { MessengerController } from "./messenger-controller.ts";
import { dropBrowserPush, enablePush } from "./push-subscription.ts";
import { Crashed, ErrorBoundary } from "./views/error-boundary.tsx";

/** The web app's own device profile; the widget keeps a separate one. */
const controller = new MessengerController({ keys: "sm-app-keys", history: "sm-app-history" });
document.addEventListener("visibilitychange", () => void controller.markReadIfVisible());
// Listening for calls before the client connects, so that none rings unheard.
const calls = new CallController(controller, browserMedia());
// Desktop notifications of messages and calls while the tab is in the background (settings in localStorage, per profile).
const notifications = new DesktopNotifications(
	browserNotifications(),
	new NotificationSettings(controller.names.history, () => localStorage),
	{ handle: (peerId) => controller.contact(peerId)?.handle, activePeer: () => controller.state.activePeer },
	// The moment the person allows notifications, not only at the next connect.
	() => void enablePush(controller.client).catch(() => undefined),
);
controller.onArrival((m) => notifications.message(m.peerId, m.text, m.attachment !== undefined || m.file !== undefined));
notifications.watchCalls(calls);
// Web Push while no tab is open, once notifications are allowed (it does nothing otherwise, or if the relay sends none).
controller.client.on("ready", () => void enablePush(controller.client).catch(() => undefined));
// A device erased here leaves no push subscription behind in the browser (the relay's went with the device).
controller.onErased(() => void dropBrowserPush());

const root = document.getElementById("app");
if (root) {
	render(
		<ErrorBoundary fallback={(error) => <Crashed error={error} />}>
			<App controller={controller} calls={calls} notifications={notifications} />
		</ErrorBoundary>,
		root,
	);
	controller.start().catch((err: unknown) => controller.notify(errorText(err)));
	void startAppShell(() => controller.notify("Secure Messaging was updated to a new version.", "info"));
}
