/**
 * Everything a socket needs after hibernation lives in its attachment; the object's memory
 * is gone when it wakes.
 */
export interface SocketState {
	accountId: string;
	deviceId: string;
	/** Highest queue sequence already pushed on this socket. */
	sentUpTo: number;
	/** True once the backlog has been pushed; from then on new messages go out as they arrive. */
	synced: boolean;
	/**
	 * The device said, when it connected, that it acks each message as soon as it has stored
	 * it: while caught up, it may be pushed messages that are held in memory until it acks
	 * instead of queued (messaging/held-messages.ts).
	 */
	promptAcks?: boolean;
	/** When this socket last relayed a typing notice (they are throttled to one a second). */
	typingAt?: number;
}

/**
 * The attachment as this instance last wrote or read it. Deserializing it is a structured
 * clone on every frame, push and ack; the copy here is written through (writeSocketState), so
 * it is what the attachment holds, and one instance's memory dies with it: after a wake from
 * hibernation the first read takes the attachment again.
 */
const held = new WeakMap<WebSocket, SocketState>();

export function readSocketState(ws: WebSocket): SocketState | null {
	const known = held.get(ws);
	if (known) return known;
	const state = ws.deserializeAttachment() as SocketState | null;
	if (!state || typeof state.deviceId !== "string") return null;
	held.set(ws, state);
	return state;
}

/** Every change to a socket's state goes through here: the attachment (for after hibernation) and the copy. */
export function writeSocketState(ws: WebSocket, state: SocketState): void {
	ws.serializeAttachment(state);
	held.set(ws, state);
}
