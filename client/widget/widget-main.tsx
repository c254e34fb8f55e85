import { render, type VNode } from "preact";
import { type BrowserStores, PAGE_STORES } from "../app/browser-stores.ts";
import { errorText } from "../app/error-text.ts";
import { MessengerController } from "../app/messenger-controller.ts";
import { ErrorBoundary } from "../app/views/error-boundary.tsx";
import { WIDGET_THEMES } from "./embed-api.ts";
import { HostChannel } from "./host-channel.ts";
import {
	earlierStorage,
	HANDLE_PROBE_TIMEOUT_MS,
	handleStores,
	type PermissionQuery,
	requestStorage,
	type StorageAccessEnv,
	storageAccessSupported,
	storesUsable,
} from "./storage-access.ts";
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

const accessEnv: StorageAccessEnv<BrowserStores> = {
	document,
	permissions: navigator.permissions as PermissionQuery | undefined,
	page: PAGE_STORES,
	fromHandle: (handle) => handleStores<IDBFactory>(handle),
	usable: (stores) => storesUsable(stores, HANDLE_PROBE_TIMEOUT_MS),
};

/** The chat itself, keeping its keys in `stores`. */
async function startChat(root: HTMLElement, stores: BrowserStores, chatOptions: WidgetOptions): Promise<void> {
	/** The widget's own device profile, apart from the web app's (where storage is not partitioned per site, they share an origin). */
	const controller = new MessengerController({ keys: "sm-widget-keys", history: "sm-widget-history" }, location.origin, stores);
	document.addEventListener("visibilitychange", () => void controller.markReadIfVisible());
	render(guarded(<WidgetApp controller={controller} channel={channel} options={chatOptions} />), root);
	await controller.start().catch((err: unknown) => controller.notify(errorText(err)));
}

async function main(root: HTMLElement): Promise<void> {
	// Null: wait as long as the page's own storage takes to open (it answers, one way or the other).
	if (await storesUsable(PAGE_STORES, null)) return startChat(root, PAGE_STORES, options);
	// Storage Access is for embedded documents; the visitor may have allowed it on an earlier visit.
	const framed = window.parent !== window;
	const earlier = framed ? await earlierStorage(accessEnv) : null;
	if (earlier) return startChat(root, earlier, options);
	const ask = framed && storageAccessSupported(document) ? () => requestStorage(accessEnv) : null;
	// Allowed from the visitor's click: the chat opens where it was asked for.
	const onAllowed = (stores: BrowserStores) => void startChat(root, stores, { ...options, startOpen: true });
	render(guarded(<StorageBlocked channel={channel} options={options} ask={ask} onAllowed={onAllowed} />), root);
}

const root = document.getElementById("widget");
if (root && /^[a-z0-9_]{3,32}$/.test(peerHandle)) void main(root);
else if (root) root.textContent = "This chat widget was embedded without a valid handle.";
