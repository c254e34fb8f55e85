import { render } from "preact";
import { App } from "./app.tsx";
import { startAppShell } from "./app-shell.ts";
import { browserMedia, CallController } from "./call-controller.ts";
import { errorText } from "./error-text.ts";
import { MessengerController } from "./messenger-controller.ts";
import { Crashed, ErrorBoundary } from "./views/error-boundary.tsx";

/** The web app's own device profile; the widget keeps a separate one. */
const controller = new MessengerController({ keys: "sm-app-keys", history: "sm-app-history" });
document.addEventListener("visibilitychange", () => void controller.markReadIfVisible());
// Listening for calls before the client connects, so that none rings unheard.
const calls = new CallController(controller, browserMedia());

const root = document.getElementById("app");
if (root) {
	render(
		<ErrorBoundary fallback={(error) => <Crashed error={error} />}>
			<App controller={controller} calls={calls} />
		</ErrorBoundary>,
		root,
	);
	controller.start().catch((err: unknown) => controller.notify(errorText(err)));
	void startAppShell(() => controller.notify("Secure Messaging was updated to a new version.", "info"));
}
