/**
 * The third yardstick: the least a relay of our design can do in this runtime. One Durable
 * Object per user, as the relay has; a message is the same three runtime events as the
 * relay's (the sender's frame in its object, the call into the recipient's object, the
 * device's ack there) and the same one row written (the sender's record, once the recipient's
 * object has the message). Nothing else of ours: no auth, no validation past finding the
 * recipient, no limits, no credits. So relay ÷ this yardstick is what our code costs, and
 * this yardstick ÷ the one-object chat is what one object per user costs in the runtime.
 *
 * It speaks the floor's protocol (connect to `/?id=<id>`, send `{"to": id, "payload": {"id":
 * …}}`), with two frames more: the device acks what it got (`{"ack": id}`), and the sender
 * gets `{"sent": id}` once its record is written. A message to a device that is not
 * connected, or that does not ack within a second, is written to the recipient's queue, as
 * the relay does.
 *
 * Run in workerd by yardstick-server.ts; never deployed.
 */
import { DurableObject } from "cloudflare:workers";

interface MinimalEnv {
	INBOX: DurableObjectNamespace<Inbox>;
}

/** As the relay's hold (DELIVERY_HOLD_MS): a message not acked by then is queued. */
const HOLD_MS = 1000;

/** The floor protocol's message id, `payload.id`. */
function messageOf(text: string): { to: string; id: string } | null {
	try {
		const frame = JSON.parse(text) as { to?: unknown; payload?: { id?: unknown }; ack?: unknown };
		const id = frame.payload?.id;
		return typeof frame.to === "string" && typeof id === "string" ? { to: frame.to, id } : null;
	} catch {
		return null;
	}
}

export class Inbox extends DurableObject<MinimalEnv> {
	/** Messages pushed to this user's socket and not yet acked: the ack resolves the sender's call. */
	private readonly held = new Map<string, () => void>();

	constructor(ctx: DurableObjectState, env: MinimalEnv) {
		super(ctx, env);
		ctx.storage.sql.exec(
			"CREATE TABLE IF NOT EXISTS sent (id TEXT PRIMARY KEY, to_id TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID; " +
				"CREATE TABLE IF NOT EXISTS queue (id TEXT PRIMARY KEY, frame TEXT NOT NULL) WITHOUT ROWID",
		);
	}

	async fetch(request: Request): Promise<Response> {
		const id = new URL(request.url).searchParams.get("id");
		if (!id || request.headers.get("Upgrade") !== "websocket") return new Response("connect with ?id= over WebSocket", { status: 400 });
		for (const earlier of this.ctx.getWebSockets()) earlier.close(4000, "replaced");
		const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
		this.ctx.acceptWebSocket(server);
		return new Response(null, { status: 101, webSocket: client });
	}

	async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		if (typeof message !== "string") return;
		// The ack, in the recipient's object: its message need never be written.
		if (message.startsWith('{"ack":')) {
			const id = (JSON.parse(message) as { ack?: unknown }).ack;
			if (typeof id === "string") this.held.get(id)?.();
			return;
		}
		const sent = messageOf(message);
		if (!sent) return;
		// The call into the recipient's object, answered once its device has the message.
		await this.env.INBOX.get(this.env.INBOX.idFromName(sent.to)).deliver(sent.id, message);
		this.ctx.storage.sql.exec("INSERT OR IGNORE INTO sent (id, to_id, at) VALUES (?, ?, ?)", sent.id, sent.to, Date.now());
		ws.send(`{"sent":"${sent.id}"}`);
	}

	/** Push to the device and wait for its ack, or queue the message if there is no device or no ack in time. */
	async deliver(id: string, frame: string): Promise<void> {
		const [socket] = this.ctx.getWebSockets();
		if (socket) {
			const acked = await new Promise<boolean>((resolve) => {
				const timer = setTimeout(() => resolve(false), HOLD_MS);
				this.held.set(id, () => {
					clearTimeout(timer);
					resolve(true);
				});
				socket.send(frame);
			});
			this.held.delete(id);
			if (acked) return;
		}
		this.ctx.storage.sql.exec("INSERT OR IGNORE INTO queue (id, frame) VALUES (?, ?)", id, frame);
	}
}

export default {
	fetch(request: Request, env: MinimalEnv): Promise<Response> {
		const id = new URL(request.url).searchParams.get("id") ?? "";
		return env.INBOX.get(env.INBOX.idFromName(id)).fetch(request);
	},
} satisfies ExportedHandler<MinimalEnv>;
