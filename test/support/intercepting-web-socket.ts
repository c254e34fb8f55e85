import WebSocket from "ws";
import type { WebSocketConstructor } from "../../client/core/web-socket-like.ts";
import { WsSocket } from "./ws-socket.ts";

/** Hooks on the text frames of a socket, standing in for a lossy network or a hostile relay. */
export interface Interceptor {
	/** What to write instead of a client frame: another, several (frames held back before it), or none (null). */
	outgoing?: (data: string) => string | string[] | null;
	/** What the client reads instead of a server frame. */
	incoming?: (data: string) => string;
}

/** A `ws` WebSocket for the SDK whose traffic passes through an Interceptor. */
export function interceptingWebSocket(interceptor: Interceptor): WebSocketConstructor {
	return class InterceptingWebSocket extends WsSocket {
		constructor(url: string, protocols: string[]) {
			super(new WebSocket(url, protocols));
		}

		override send(data: string): void {
			const out = interceptor.outgoing ? interceptor.outgoing(data) : data;
			for (const frame of out === null ? [] : [out].flat()) this.inner.send(frame);
		}

		override addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
		override addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
		override addEventListener(type: "error", listener: (event: unknown) => void): void;
		override addEventListener(type: "message" | "close" | "error", listener: (event: any) => void): void {
			if (type !== "message") {
				this.inner.addEventListener(type, listener);
				return;
			}
			this.inner.addEventListener("message", (event) => {
				const data = typeof event.data === "string" && interceptor.incoming ? interceptor.incoming(event.data) : event.data;
				listener({ data });
			});
		}
	};
}
