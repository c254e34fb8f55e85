import WebSocket from "ws";
import type { WebSocketConstructor, WebSocketLike } from "../../client/core/web-socket-like.ts";
import { FRAME_HEAD, messageFrameId, now, type Recorder, sendFrameId } from "./recorder.ts";

/**
 * A `ws` WebSocket for the SDK that stamps message frames on the wire: a `send` frame just
 * before it is written, a `message` frame as the socket delivers it, before the SDK's own
 * listener parses, decrypts and acks it. `onArrival` hears of each message's first arrival. Compression is off, as on the floor's sockets, so
 * both relays carry the same bytes.
 */
export function timedWebSocket(recorder: Recorder, onArrival: () => void): WebSocketConstructor {
	return class TimedWebSocket implements WebSocketLike {
		private readonly inner: WebSocket;

		constructor(url: string) {
			this.inner = new WebSocket(url, { perMessageDeflate: false });
			// Registered before the SDK's listener, so the stamp is taken first.
			this.inner.on("message", (data, isBinary) => {
				if (isBinary) return;
				const at = now();
				// Only the head of the frame is read here: the type and the id.
				const id = messageFrameId(Buffer.isBuffer(data) ? data.toString("latin1", 0, FRAME_HEAD) : String(data));
				if (id !== null && recorder.arrived(id, at)) onArrival();
			});
		}

		get readyState(): number {
			return this.inner.readyState;
		}

		send(data: string): void {
			const id = sendFrameId(data);
			if (id !== null) recorder.sent(id);
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
	};
}
