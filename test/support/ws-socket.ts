import type WebSocket from "ws";
import type { WebSocketLike } from "../../client/core/web-socket-like.ts";

/**
 * A `ws` WebSocket as the SDK's WebSocketLike, passing everything through: the base of the
 * test and benchmark sockets that look at frames on their way (intercepting-web-socket.ts,
 * test/bench/timed-web-socket.ts), which override `send` or `addEventListener`.
 */
export class WsSocket implements WebSocketLike {
	constructor(protected readonly inner: WebSocket) {}

	get readyState(): number {
		return this.inner.readyState;
	}

	send(data: string): void {
		this.inner.send(data);
	}

	close(code?: number, reason?: string): void {
		this.inner.close(code, reason);
	}

	addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
	addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
	addEventListener(type: "error", listener: (event: unknown) => void): void;
	addEventListener(type: "message" | "close" | "error", listener: (event: any) => void): void {
		this.inner.addEventListener(type, listener);
	}
}
