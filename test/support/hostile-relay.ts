import WebSocket from "ws";
import type { WebSocketConstructor } from "../../client/core/web-socket-like.ts";
import type { ServerFrame } from "../../common/protocol/wire.ts";
import { WsSocket } from "./ws-socket.ts";

/** A JSON body the hostile relay rewrites: `undefined` from a hook leaves it as it was. */
type Rewrite = (body: any, request: { method: string; path: string; body: any }) => any;

/**
 * A relay operator turned adversary, standing between one real SDK client and the real
 * worker: it rewrites the JSON answers of chosen routes, records what the client uploads,
 * and writes frames of its own into the client's WebSocket. Everything it does is something
 * a malicious server could do, so every test built on it asks what the client notices.
 */
export class HostileRelay {
	private readonly rewrites: Array<{ method: string; path: RegExp; rewrite: Rewrite; refusals: boolean }> = [];
	private readonly requestRewrites: Array<{ method: string; path: RegExp; rewrite: (body: any) => any }> = [];
	private frameRewrite: ((frame: any) => any) | null = null;
	private readonly listeners = new Set<(event: { data: unknown }) => void>();
	/** Every request body the client sent, by "METHOD /path". */
	readonly uploads: Array<{ route: string; body: any }> = [];

	/**
	 * Answers of `method` on paths matching `path` go through `rewrite` from now on; with
	 * `refusals`, so do the worker's refusals, which the relay then answers as a success.
	 */
	rewrite(method: string, path: RegExp, rewrite: Rewrite, opts: { refusals?: boolean } = {}): () => void {
		const entry = { method, path, rewrite, refusals: opts.refusals ?? false };
		this.rewrites.push(entry);
		return () => {
			const at = this.rewrites.indexOf(entry);
			if (at >= 0) this.rewrites.splice(at, 1);
		};
	}

	/** What the client sends to `method` on matching paths reaches the worker rewritten (what it sent is still recorded as sent). */
	rewriteRequest(method: string, path: RegExp, rewrite: (body: any) => any): void {
		this.requestRewrites.push({ method, path, rewrite });
	}

	/** Every frame from the worker passes through this; returning null drops it. */
	rewriteFrames(rewrite: ((frame: any) => any) | null): void {
		this.frameRewrite = rewrite;
	}

	/** A frame of the relay's own, as if the worker had sent it. */
	inject(frame: ServerFrame | Record<string, unknown>): void {
		const data = JSON.stringify(frame);
		for (const listener of this.listeners) listener({ data });
	}

	readonly fetch: typeof fetch = async (input, init) => {
		const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
		const method = (init?.method ?? "GET").toUpperCase();
		const sent = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
		if (sent !== undefined) this.uploads.push({ route: `${method} ${url.pathname}`, body: sent });
		let forwarded = sent;
		for (const r of this.requestRewrites)
			if (r.method === method && r.path.test(url.pathname)) forwarded = r.rewrite(forwarded) ?? forwarded;
		const response = await fetch(input, forwarded === sent ? init : { ...init, body: JSON.stringify(forwarded) });
		const hooks = this.rewrites.filter((r) => r.method === method && r.path.test(url.pathname) && (response.ok || r.refusals));
		if (hooks.length === 0) return response;
		// The relay may also answer a refusal with a body of its own, as a success.
		const original = await response.json();
		let body = original;
		for (const hook of hooks) body = hook.rewrite(body, { method, path: url.pathname, body: sent }) ?? body;
		const status = response.ok || body === original ? response.status : 200;
		return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
	};

	get WebSocket(): WebSocketConstructor {
		const listeners = this.listeners;
		const relay = this;
		return class HostileSocket extends WsSocket {
			constructor(url: string, protocols: string[]) {
				super(new WebSocket(url, protocols));
				// A closed socket's listeners must not receive injected frames meant for the next one.
				this.inner.addEventListener("close", () => {
					for (const l of this.mine) listeners.delete(l);
				});
			}

			private readonly mine: Array<(event: { data: unknown }) => void> = [];

			override addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
			override addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
			override addEventListener(type: "error", listener: (event: unknown) => void): void;
			override addEventListener(type: "message" | "close" | "error", listener: (event: any) => void): void {
				if (type !== "message") {
					this.inner.addEventListener(type, listener);
					return;
				}
				listeners.add(listener);
				this.mine.push(listener);
				this.inner.addEventListener("message", (event) => {
					const rewrite = relay.frameRewrite;
					if (!rewrite || typeof event.data !== "string") return listener({ data: event.data });
					const out = rewrite(JSON.parse(event.data));
					if (out !== null) listener({ data: JSON.stringify(out) });
				});
			}
		};
	}
}
