import WebSocket from "ws";
import type { WebSocketConstructor } from "../../client/core/web-socket-like.ts";
import { WsSocket } from "../support/ws-socket.ts";
import { FRAME_HEAD, messageFrameId, now, type Recorder, sendFrameId } from "./recorder.ts";

/**
 * A `ws` WebSocket for the SDK that stamps message frames on the wire: a `send` frame just
 * before it is written, a `message` frame as the socket delivers it, before the SDK's own
 * listener parses, decrypts and acks it. `onArrival` hears of each message's first arrival.
 * Compression is off, as on the floor's sockets, so both relays carry the same bytes.
 */
export function timedWebSocket(recorder: Recorder, onArrival: () => void): WebSocketConstructor {
	return class TimedWebSocket extends WsSocket {
		constructor(url: string, protocols: string[]) {
			super(new WebSocket(url, protocols, { perMessageDeflate: false }));
			// Registered before the SDK's listener, so the stamp is taken first.
			this.inner.on("message", (data, isBinary) => {
				if (isBinary) return;
				const at = now();
				// Only the head of the frame is read here: the type and the id.
				const id = messageFrameId(Buffer.isBuffer(data) ? data.toString("latin1", 0, FRAME_HEAD) : String(data));
				if (id !== null && recorder.arrived(id, at)) onArrival();
			});
		}

		override send(data: string): void {
			const id = sendFrameId(data);
			if (id !== null) recorder.sent(id);
			this.inner.send(data);
		}
	};
}
