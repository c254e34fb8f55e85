/**
 * Issue 8's second yardstick: "a minimal one-DO chat that writes each message to storage".
 * One Durable Object holds every socket (hibernating, tagged with the client's id), writes each
 * frame to its SQLite storage and sends it to the recipient's sockets: no auth, no limits, no
 * second object, no queue to drain. It speaks the floor's protocol (floor-relay.ts: connect to
 * `/?id=<id>`, send `{"to": id, "payload": …}`), so the floor's clients drive it unchanged.
 *
 * Run in workerd by yardstick-server.ts; never deployed.
 */
import { DurableObject } from "cloudflare:workers";

interface ChatEnv {
	ROOM: DurableObjectNamespace<Room>;
}

export class Room extends DurableObject<ChatEnv> {
	/** What its cost is counted from (cost.ts): messages stored, and the rows their statements read and wrote. */
	private readonly usage = { messages: 0, rowsRead: 0, rowsWritten: 0 };

	constructor(ctx: DurableObjectState, env: ChatEnv) {
		super(ctx, env);
		ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, to_id TEXT NOT NULL, frame TEXT NOT NULL)");
	}

	async fetch(request: Request): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/usage") return Response.json(this.usage);
		const id = url.searchParams.get("id");
		if (!id || request.headers.get("Upgrade") !== "websocket") return new Response("connect with ?id= over WebSocket", { status: 400 });
		for (const earlier of this.ctx.getWebSockets(id)) earlier.close(4000, "replaced");
		const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
		this.ctx.acceptWebSocket(server, [id]);
		return new Response(null, { status: 101, webSocket: client });
	}

	webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): void {
		if (typeof message !== "string") return;
		let to: unknown;
		try {
			to = (JSON.parse(message) as { to?: unknown }).to;
		} catch {
			return;
		}
		if (typeof to !== "string") return;
		// Written before it is sent: the output gate holds the send until the write is committed.
		const cursor = this.ctx.storage.sql.exec("INSERT INTO messages (to_id, frame) VALUES (?, ?)", to, message);
		this.usage.messages++;
		this.usage.rowsRead += cursor.rowsRead;
		this.usage.rowsWritten += cursor.rowsWritten;
		for (const socket of this.ctx.getWebSockets(to)) socket.send(message);
	}
}

export default {
	fetch(request: Request, env: ChatEnv): Promise<Response> {
		return env.ROOM.get(env.ROOM.idFromName("room")).fetch(request);
	},
} satisfies ExportedHandler<ChatEnv>;
