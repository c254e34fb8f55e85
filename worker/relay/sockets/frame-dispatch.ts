import {
	type CallFrame,
	clientFrame,
	type ErrorCode,
	MAX_FRAME_CHARS,
	parseJson,
	type ReadFrame,
	type SealedReceipt,
	type SendFrame,
	type ServerFrame,
	ValidationError,
} from "../../../common/protocol/wire.ts";
import type { SendOutcome } from "../messaging/send-pipeline.ts";
import type { RelayResult } from "../relay-result.ts";
import type { SocketHub } from "./socket-hub.ts";
import { readSocketState, type SocketState } from "./socket-state.ts";

/** What a device may ask of its account's object over its own socket: one method per frame type. */
export interface SocketSurface {
	send(deviceId: string, frame: SendFrame): Promise<RelayResult<SendOutcome>>;
	/** The sealed receipts a send came back with, for this account's devices: after the sender's `sent`. */
	passOnReceipts(receipts: SendOutcome["receipts"]): void;
	/** `from`: the sender of these messages; absent from older clients (every sender's copy of the ids). */
	ack(ws: WebSocket, state: SocketState, ids: readonly string[], from?: string, receipt?: SealedReceipt): void;
	read(state: SocketState, frame: ReadFrame): RelayResult<true>;
	typing(ws: WebSocket, state: SocketState, to: string): Promise<void>;
	call(deviceId: string, frame: CallFrame): Promise<RelayResult<true>>;
	/** Why this device may not act (pending, revoked, unknown), or null. */
	deviceRefusal(deviceId: string): RelayResult<never> | null;
}

/** Every frame from a socket is parsed and checked here before anything trusts it. */
export class FrameDispatch {
	constructor(
		private readonly hub: SocketHub,
		private readonly to: SocketSurface,
	) {}

	async message(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		const state = readSocketState(ws);
		if (!state) return ws.close(1011, "socket lost its state");
		if (typeof message !== "string") return this.hub.send(ws, errorFrame("bad_request", "Frames are JSON text."));
		if (message.length > MAX_FRAME_CHARS) return this.hub.send(ws, errorFrame("too_large", "The frame is too large."));
		let frame: ReturnType<typeof clientFrame.parse>;
		try {
			frame = parseJson(clientFrame, message);
		} catch (err) {
			if (err instanceof ValidationError) return this.hub.send(ws, errorFrame("bad_request", err.message, refOf(message)));
			throw err;
		}
		if (frame.type !== "ping") {
			const refusal = this.to.deviceRefusal(state.deviceId);
			if (refusal && !refusal.ok) return this.hub.send(ws, errorFrame(refusal.code, refusal.message, "id" in frame ? frame.id : undefined));
		}
		switch (frame.type) {
			case "ping":
				return this.hub.send(ws, { type: "pong" });
			case "ack":
				return this.to.ack(ws, state, frame.ids, frame.from, frame.receipt);
			case "read": {
				const result = this.to.read(state, frame);
				if (!result.ok) this.hub.send(ws, errorFrame(result.code, result.message, frame.receipt.id, result.retryAfter));
				return;
			}
			case "typing":
				return this.to.typing(ws, state, frame.to);
			case "call": {
				const result = await this.to.call(state.deviceId, frame);
				if (!result.ok) this.hub.send(ws, errorFrame(result.code, result.message, frame.id, result.retryAfter));
				return;
			}
			case "send": {
				const result = await this.to.send(state.deviceId, frame);
				if (!result.ok) return this.hub.send(ws, errorFrame(result.code, result.message, frame.id, result.retryAfter));
				const { sent, receipts } = result.value;
				this.hub.send(ws, { type: "sent", id: frame.id, ...sent });
				this.to.passOnReceipts(receipts);
				// The account's other devices hold their sends until then too, instead of having one refused.
				const { at, nextSendAt, quotaLeft } = sent;
				if (nextSendAt !== undefined)
					this.hub.push(this.hub.approvedSockets(state.deviceId), { type: "send_window", at, nextSendAt, quotaLeft });
				return;
			}
		}
	}
}

function errorFrame(code: ErrorCode, message: string, ref?: string, retryAfter?: number): ServerFrame {
	return {
		type: "error",
		code,
		message,
		...(ref !== undefined && { ref }),
		...(retryAfter !== undefined && { retryAfter }),
	};
}

/** Best-effort id of a rejected frame, so the client can match the error to what it sent. */
function refOf(text: string): string | undefined {
	const match = /"id"\s*:\s*"([A-Za-z0-9_-]{22})"/.exec(text);
	return match?.[1];
}
