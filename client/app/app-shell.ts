import { updatedSince } from "./app-version.ts";

/** The version of the service worker serving this page, or null (none, or it does not answer in time). */
export async function servingVersion(timeoutMs = 2000): Promise<string | null> {
	const worker = navigator.serviceWorker?.controller;
	if (!worker) return null;
	const channel = new MessageChannel();
	const answer = new Promise<string | null>((resolve) => {
		channel.port1.onmessage = (event) => resolve(typeof event.data === "string" ? event.data : null);
		setTimeout(() => resolve(null), timeoutMs);
	});
	worker.postMessage("version", [channel.port2]);
	return answer;
}

/**
 * Register the service worker that keeps the app shell (client/sw/service-worker.ts), and
 * say once when a new version took over since the last load.
 */
export async function startAppShell(onUpdated: () => void): Promise<void> {
	if (!("serviceWorker" in navigator)) return;
	// A browser that refuses (private mode, a policy) runs the app from the network as before.
	await navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
	if (updatedSince(localStorage, await servingVersion())) onUpdated();
}
