/**
 * The part of a WebSocket the SDK uses. The browser's and workerd's WebSocket and the `ws`
 * package for Node all fit it, so the SDK takes the constructor as an option instead of
 * importing one.
 */
export interface WebSocketLike {
	readonly readyState: number;
	send(data: string): void;
	close(code?: number, reason?: string): void;
	addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
	addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
	addEventListener(type: "error", listener: (event: unknown) => void): void;
}

/** `protocols` carries the session token (common/protocol/socket-auth.ts). */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

export const WEB_SOCKET_OPEN = 1;
