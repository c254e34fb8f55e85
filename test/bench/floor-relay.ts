/**
 * The floor: the least a WebSocket relay can do, on Node with `ws`. No auth, no crypto, no
 * storage, no validation beyond finding the recipient. A client connects to `/?id=<id>`; a
 * text frame `{"to": id, "payload": …}` is written as is to the socket of `to` (dropped if it
 * is not connected). Run as a child process (so its memory is its own) by floor-server.ts.
 *
 * Prints `{"port": n}` on stdout once listening; exits when its parent disconnects, or after
 * a hard lifetime so it can never outlive a crashed benchmark.
 */
import { type WebSocket, WebSocketServer } from "ws";

/** Longer than the longest run may last (the growth run's hard limit, options.ts). */
const MAX_LIFETIME_MS = 65 * 60_000;

const sockets = new Map<string, WebSocket>();
// The port to listen on, if the parent gives one (a restart keeps the clients' URL); else any.
const server = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0), perMessageDeflate: false });

server.on("connection", (ws, request) => {
	const id = new URL(request.url ?? "/", "http://floor").searchParams.get("id");
	if (!id) {
		ws.close(1008, "connect with ?id=");
		return;
	}
	sockets.get(id)?.close(4000, "replaced");
	sockets.set(id, ws);
	ws.on("message", (data, isBinary) => {
		if (isBinary) return;
		const text = data.toString();
		let to: unknown;
		try {
			to = (JSON.parse(text) as { to?: unknown }).to;
		} catch {
			return;
		}
		if (typeof to === "string") sockets.get(to)?.send(text);
	});
	ws.on("close", () => {
		if (sockets.get(id) === ws) sockets.delete(id);
	});
});

server.on("listening", () => {
	const address = server.address();
	const port = typeof address === "object" && address ? address.port : 0;
	process.stdout.write(`${JSON.stringify({ port })}\n`);
});

// Memory is read after a full collection (the parent asks for one), so garbage does not hide
// what the sockets hold. Needs --expose-gc, which floor-server.ts passes. A collection does
// not give freed pages back, though: the parent starts a fresh process for each N.
process.on("message", (message) => {
	if (message !== "gc") return;
	(globalThis as { gc?: () => void }).gc?.();
	process.send?.("gc-done");
});

const stop = () => {
	for (const ws of sockets.values()) ws.terminate();
	server.close();
	process.exit(0);
};
process.on("disconnect", stop);
process.on("SIGTERM", stop);
setTimeout(stop, MAX_LIFETIME_MS).unref();
