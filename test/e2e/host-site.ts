/**
 * A stand-in for a third-party site that embeds the widget: a tiny HTTP server on its own
 * port (so its own origin) serving one page with the widget's script tag. The page records
 * every message and widget event it receives, for the tests to inspect.
 */
import { createServer, type Server } from "node:http";

export interface HostSite {
	/** The origin the browser sees, e.g. http://localhost:41234. */
	origin: string;
	port: number;
	close(): Promise<void>;
}

export function hostPage(widgetOrigin: string, handle: string, theme: "light" | "dark"): string {
	return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Example shop</title>
<style>body{font-family:Georgia,serif;margin:2rem;max-width:40rem;background:#fbf7f0;color:#222}</style></head>
<body>
<h1>Example shop</h1>
<p>Hand-made things. Questions? Chat with us — the chat window in the corner is end-to-end encrypted.</p>
<script>
	window.receivedMessages = [];
	window.widgetEvents = [];
	window.addEventListener("message", (event) => window.receivedMessages.push({ origin: event.origin, data: event.data }));
	document.addEventListener("secure-messaging-widget", (event) => window.widgetEvents.push(event.detail));
</script>
<script src="${widgetOrigin}/widget.js" data-handle="${handle}" data-theme="${theme}" async></script>
</body>
</html>`;
}

/** Serves the host page at `/?handle=…&theme=…` for the widget of `widgetOrigin()` (known only once the relay runs). */
export async function startHostSite(widgetOrigin: () => string): Promise<HostSite> {
	const server: Server = createServer((request, response) => {
		const url = new URL(request.url ?? "/", "http://localhost");
		if (url.pathname !== "/") {
			response.writeHead(404).end();
			return;
		}
		const handle = url.searchParams.get("handle") ?? "";
		const theme = url.searchParams.get("theme") === "light" ? "light" : "dark";
		response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
		response.end(hostPage(widgetOrigin(), handle, theme));
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", resolve);
	});
	const address = server.address();
	if (address === null || typeof address === "string") throw new Error("the host site has no TCP port");
	const { port } = address;
	return {
		origin: `http://localhost:${port}`,
		port,
		close: () => new Promise((resolve) => server.close(() => resolve())),
	};
}
