import { render, type VNode } from "preact";
import { errorText } from "../app/error-text.ts";
import { MessengerController } from "../app/messenger-controller.ts";
import { ErrorBoundary } from "../app/views/error-boundary.tsx";
import { storageAvailable } from "./chat-window.ts";
import { WIDGET_THEMES } from "./embed-api.ts";
import { HostChannel } from "./host-channel.ts";
import { StorageBlocked, WidgetApp, WidgetCrashed, type WidgetOptions } from "./widget-app.tsx";

const params = new URLSearchParams(location.search);
const peerHandle = (params.get("handle") ?? "").toLowerCase();
const theme = WIDGET_THEMES.find((t) => t === params.get("theme")) ?? "auto";
if (theme !== "auto") document.documentElement.dataset.theme = theme;

const inWindow = params.get("window") === "1" && window.parent === window;
const channel = inWindow ? null : HostChannel.open(params.get("host"));
const options: WidgetOptions = {
	peerHandle,
	hostName: channel ? new URL(params.get("host") ?? "").host : location.host,
	theme,
	startOpen: params.get("open") === "1" || !channel,
	inWindow,
};

/** Whatever throws while rendering shows a sentence and a reload button, never a blank frame. */
const guarded = (view: VNode): VNode => (
	<ErrorBoundary fallback={(error) => <WidgetCrashed channel={channel} error={error} />}>{view}</ErrorBoundary>
);

async function main(root: HTMLElement): Promise<void> {
	if (!(await storageAvailable())) {
		render(guarded(<StorageBlocked channel={channel} options={options} />), root);
		return;
	}
	/** The widget's own device profile, apart from the web app's (where storage is not partitioned per site, they share an origin). */
	const controller = new MessengerController({ keys: "sm-widget-keys", history: "sm-widget-history" });
	document.addEventListener("visibilitychange", () => void controller.markReadIfVisible());
	render(guarded(<WidgetApp controller={controller} channel={channel} options={options} />), root);
	await controller.start().catch((err: unknown) => controller.notify(errorText(err)));
}

const root = document.getElementById("widget");
if (root && /^[a-z0-9_]{3,32}$/.test(peerHandle)) void main(root);
else if (root) root.textContent = "This chat widget was embedded without a valid handle.";
