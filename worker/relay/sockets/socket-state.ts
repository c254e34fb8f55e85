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
	/** When this socket last relayed a typing notice (they are throttled to one a second). */
	typingAt?: number;
}

export function readSocketState(ws: WebSocket): SocketState | null {
	const state = ws.deserializeAttachment() as SocketState | null;
	return state && typeof state.deviceId === "string" ? state : null;
}
