import { type ClientFrame, parseJson, type ServerFrame, serverFrame, ValidationError } from "../../common/protocol/wire.ts";
import { type BackoffOptions, backoffDelay } from "./backoff.ts";
import { SdkError, toSdkError } from "./sdk-error.ts";
import { WEB_SOCKET_OPEN, type WebSocketConstructor, type WebSocketLike } from "./web-socket-like.ts";

export interface ConnectionOptions {
	WebSocket: WebSocketConstructor;
	/** The socket URL and the subprotocols that carry a valid token; `fresh` asks for a new login (the last handshake failed). */
	endpoint: (fresh: boolean) => Promise<{ url: string; protocols: string[] }>;
	backoff: BackoffOptions;
	/** A ping goes out this often; a socket silent for two periods is taken for dead. */
	heartbeatMs: number;
	/** How long a new socket may take to say `ready`. */
	handshakeTimeoutMs: number;
}

export interface ConnectionListener {
	/** Every valid frame in arrival order; `ready` after the connection counts as ready. */
	frame(frame: ServerFrame): void;
	malformed(text: string, problem: string): void;
	/** A ready connection was lost; a reconnect follows unless `fatal` does. */
	disconnected(info: { code: number; reason: string }): void;
	reconnecting(info: { attempt: number; delayMs: number }): void;
	/** Reconnecting stopped; only a new start() tries again. */
	fatal(error: SdkError): void;
}

/** Close codes of worker/user-relay.ts after which reconnecting cannot help. */
const CLOSE_REPLACED = 4000;
const CLOSE_NOT_APPROVED = 4001;
/** Ours, for a socket given up on (no `ready` in time, or silent too long). */
const CLOSE_GAVE_UP = 4100;

/** Login refusals that no retry will change. */
const FATAL_LOGIN_CODES = new Set(["unauthorized", "device_revoked", "device_pending"]);

const PING = JSON.stringify({ type: "ping" } satisfies ClientFrame);

type Timer = ReturnType<typeof setTimeout>;
type Ticker = ReturnType<typeof setInterval>;

/** One device's WebSocket to its relay: opens it, keeps it alive, and reopens it with backoff when it drops. */
export class RelayConnection {
	private socket: WebSocketLike | null = null;
	private isReady = false;
	private running = false;
	private stopped = false;
	private attempt = 0;
	private loginAfresh = false;
	private lastHeard = 0;
	private retryTimer: Timer | null = null;
	private handshakeTimer: Timer | null = null;
	private heartbeatTimer: Ticker | null = null;

	constructor(
		private readonly opts: ConnectionOptions,
		private readonly listener: ConnectionListener,
	) {}

	get ready(): boolean {
		return this.isReady;
	}

	/** Connect, and keep reconnecting until stop() or a fatal refusal; a no-op while already running. */
	start(): void {
		if (this.running || this.stopped) return;
		this.running = true;
		void this.open();
	}

	/** Write a frame if the connection is ready; false otherwise. */
	send(frame: ClientFrame): boolean {
		const socket = this.socket;
		if (!this.isReady || !socket || socket.readyState !== WEB_SOCKET_OPEN) return false;
		try {
			socket.send(JSON.stringify(frame));
			return true;
		} catch {
			return false;
		}
	}

	/**
	 * Try again now rather than when the backoff says: for when the app knows the network is
	 * back (the browser's `online` event). A no-op unless a retry is waiting.
	 */
	retryNow(): void {
		if (!this.running || this.stopped || this.retryTimer === null) return;
		clearTimeout(this.retryTimer);
		void this.open();
	}

	/** Close for good. */
	stop(): void {
		this.stopped = true;
		this.running = false;
		const socket = this.detach();
		try {
			socket?.close(1000, "client closed");
		} catch {
			// Already closing.
		}
	}

	private async open(): Promise<void> {
		this.retryTimer = null;
		let endpoint: { url: string; protocols: string[] };
		try {
			endpoint = await this.opts.endpoint(this.loginAfresh);
		} catch (err) {
			const error = toSdkError(err);
			if (FATAL_LOGIN_CODES.has(error.code)) return this.fail(error);
			return this.scheduleRetry();
		}
		if (!this.running) return;
		let socket: WebSocketLike;
		try {
			socket = new this.opts.WebSocket(endpoint.url, endpoint.protocols);
		} catch (err) {
			return this.fail(new SdkError("bad_request", `Cannot open a WebSocket to ${endpoint.url}.`, { cause: err }));
		}
		this.socket = socket;
		// Cleared at `ready`: a socket refused during the handshake may mean a revoked device,
		// which only a fresh login can tell (the browser hides the HTTP status of a refused upgrade).
		this.loginAfresh = true;
		this.lastHeard = Date.now();
		this.handshakeTimer = setTimeout(() => this.giveUp(socket, "no ready frame in time"), this.opts.handshakeTimeoutMs);
		socket.addEventListener("message", (event) => this.onMessage(socket, event.data));
		socket.addEventListener("close", (event) => this.onClose(socket, event.code, event.reason));
		// A close event follows every error; without a listener the `ws` package would throw.
		socket.addEventListener("error", () => {});
	}

	private onMessage(socket: WebSocketLike, data: unknown): void {
		if (socket !== this.socket) return;
		this.lastHeard = Date.now();
		if (typeof data !== "string") {
			this.listener.malformed(String(data), "binary frame");
			return;
		}
		let frame: ServerFrame;
		try {
			frame = parseJson(serverFrame, data);
		} catch (err) {
			if (!(err instanceof ValidationError)) throw err;
			this.listener.malformed(data, err.message);
			return;
		}
		if (frame.type === "ready") {
			if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
			this.handshakeTimer = null;
			this.isReady = true;
			this.attempt = 0;
			this.loginAfresh = false;
			this.startHeartbeat(socket);
		}
		this.listener.frame(frame);
	}

	private onClose(socket: WebSocketLike, code: number, reason: string): void {
		if (socket !== this.socket) return;
		this.lost(code, reason);
	}

	private lost(code: number, reason: string): void {
		const wasReady = this.isReady;
		this.detach();
		if (wasReady) this.listener.disconnected({ code, reason });
		if (code === CLOSE_NOT_APPROVED) this.fail(new SdkError("device_revoked", "This device is no longer approved for its account."));
		else if (code === CLOSE_REPLACED) this.fail(new SdkError("closed", "Another connection of this device replaced this one."));
		else if (this.running) this.scheduleRetry();
	}

	/** A socket that stopped answering may take long to report its close: treat it as lost now. */
	private giveUp(socket: WebSocketLike, reason: string): void {
		if (socket !== this.socket) return;
		try {
			socket.close(CLOSE_GAVE_UP, reason);
		} catch {
			// Already closing.
		}
		this.lost(CLOSE_GAVE_UP, reason);
	}

	private startHeartbeat(socket: WebSocketLike): void {
		this.stopHeartbeat();
		this.heartbeatTimer = setInterval(() => {
			if (Date.now() - this.lastHeard > 2 * this.opts.heartbeatMs) return this.giveUp(socket, "no answer to pings");
			try {
				socket.send(PING);
			} catch {
				// The close event is on its way.
			}
		}, this.opts.heartbeatMs);
	}

	private scheduleRetry(): void {
		if (!this.running || this.stopped) return;
		this.attempt++;
		const delayMs = backoffDelay(this.attempt, this.opts.backoff);
		this.listener.reconnecting({ attempt: this.attempt, delayMs });
		this.retryTimer = setTimeout(() => void this.open(), delayMs);
	}

	/** Stops reconnecting; a later start() may try again (e.g. once a pending device is approved). */
	private fail(error: SdkError): void {
		this.running = false;
		this.detach();
		this.listener.fatal(error);
	}

	private detach(): WebSocketLike | null {
		const socket = this.socket;
		this.socket = null;
		this.isReady = false;
		if (this.retryTimer !== null) clearTimeout(this.retryTimer);
		if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
		this.retryTimer = null;
		this.handshakeTimer = null;
		this.stopHeartbeat();
		return socket;
	}

	private stopHeartbeat(): void {
		if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
		this.heartbeatTimer = null;
	}
}
