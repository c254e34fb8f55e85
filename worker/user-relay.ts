import { DurableObject } from "cloudflare:workers";
import { ApiError } from "./api-error.ts";
import { readConfig } from "./config.ts";
import { listDevices } from "./db/accounts.ts";
import {
	type Contact,
	clientFrame,
	type DeviceInfo,
	type Envelope,
	type EnvelopeUpload,
	type ErrorCode,
	MAX_FRAME_CHARS,
	parseJson,
	type SendFrame,
	type ServerFrame,
	ValidationError,
} from "./protocol/wire.ts";
import {
	envelopesFor,
	getContact,
	listContacts,
	publicContact,
	type StoredEnvelope,
	saveContactState,
	saveEnvelopes,
	setPeerBlocked,
} from "./relay/contact-book.ts";
import { type ContactEvent, transition } from "./relay/contact-rules.ts";
import { approvedDeviceIds, cachedDevices, deviceStatus, replaceCachedDevices } from "./relay/device-cache.ts";
import {
	ackMessages,
	dropDeviceQueue,
	earliestExpiry,
	enqueueAll,
	expireQueue,
	inFlight,
	pageQueue,
	queueStats,
} from "./relay/message-queue.ts";
import { fitsQueue, type QueueCaps } from "./relay/queue-caps.ts";
import { ok, type RelayResult, refuse } from "./relay/relay-result.ts";
import { readSocketState, type SocketState } from "./relay/socket-state.ts";
import { migrateStorage, readMeta, writeMeta } from "./relay/storage-schema.ts";

export interface PeerRef {
	id: string;
	handle: string;
}

/** Backlog is pushed in pages so a device with 10,000 queued messages is not flooded at once. */
const DRAIN_PAGE = 100;

/** Approximate decoded size of a base64url string. */
const b64uBytes = (s: string): number => Math.floor((s.length * 3) / 4);

/**
 * One per user account: the single writer of that user's contacts, queues and sockets.
 * A thin shell: the rules live in relay/*, this class wires them to storage, sockets and RPC.
 */
export class UserRelay extends DurableObject<Env> {
	private readonly sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => migrateStorage(this.sql));
		// Keep-alive pings are answered without waking the object from hibernation.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
	}

	private now(): number {
		return Date.now();
	}

	// ------------------------------------------------------------------ identity and devices

	/** Binds this object to its account on first use and fills the device cache from D1. */
	private async ensureAccount(accountId: string): Promise<void> {
		const bound = readMeta(this.sql, "account_id");
		if (bound !== undefined && bound !== accountId) throw new Error("durable object bound to another account");
		if (bound === undefined) writeMeta(this.sql, "account_id", accountId);
		if (readMeta(this.sql, "devices_loaded") === undefined) await this.reloadDevices(accountId);
	}

	private accountId(): string {
		const id = readMeta(this.sql, "account_id");
		if (id === undefined) throw new Error("durable object used before it was bound to an account");
		return id;
	}

	/** Re-read this account's devices from D1 (the authority) into the cache. */
	async reloadDevices(accountId: string): Promise<DeviceInfo[]> {
		const devices = (await listDevices(this.env.DB, accountId)).map(({ accountId: _, ...d }) => d);
		if (readMeta(this.sql, "account_id") === undefined) writeMeta(this.sql, "account_id", accountId);
		replaceCachedDevices(this.sql, devices);
		writeMeta(this.sql, "devices_loaded", String(this.now()));
		for (const d of devices) if (d.status !== "approved") this.dropDevice(d.deviceId);
		return devices;
	}

	private dropDevice(deviceId: string): void {
		for (const ws of this.ctx.getWebSockets(deviceId)) ws.close(4001, "device is no longer approved");
		dropDeviceQueue(this.sql, deviceId);
	}

	private deviceRefusal(deviceId: string): RelayResult<never> | null {
		const status = deviceStatus(this.sql, deviceId);
		if (status === "approved") return null;
		if (status === "pending") return refuse("device_pending", "This device is waiting for approval by another of your devices.");
		if (status === "revoked") return refuse("device_revoked", "This device was removed from the account. Sign in again.");
		return refuse("unauthorized", "Unknown device.");
	}

	/** Entry check for every call made on behalf of a signed-in device. */
	private async authorize(accountId: string, deviceId: string): Promise<RelayResult<never> | null> {
		await this.ensureAccount(accountId);
		return this.deviceRefusal(deviceId);
	}

	async devices(accountId: string, deviceId: string): Promise<RelayResult<DeviceInfo[]>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		return ok(cachedDevices(this.sql));
	}

	/** Approved devices, asked by a peer's object that is wrapping or checking contact keys. */
	async approvedDevicesOf(accountId: string): Promise<DeviceInfo[]> {
		await this.ensureAccount(accountId);
		return cachedDevices(this.sql).filter((d) => d.status === "approved");
	}

	// ------------------------------------------------------------------ login challenges

	/** Marks a challenge nonce as redeemed; false if it already was (a replay). */
	async redeemChallenge(accountId: string, nonce: string, expiresAt: number): Promise<boolean> {
		await this.ensureAccount(accountId);
		const inserted = this.sql
			.exec("INSERT INTO used_challenges (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING nonce", nonce, expiresAt)
			.toArray();
		if (inserted.length === 0) return false;
		await this.armAlarm(expiresAt);
		return true;
	}

	// ------------------------------------------------------------------ contacts

	async contacts(accountId: string, deviceId: string): Promise<RelayResult<Contact[]>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		return ok(listContacts(this.sql).map(publicContact));
	}

	private apply(peer: PeerRef, event: ContactEvent, keyVersion?: number): RelayResult<Contact> | "ignored" {
		const current = getContact(this.sql, peer.id);
		const step = transition(current?.state, event);
		if ("refuse" in step) return refuse(step.refuse, step.why);
		if ("ignore" in step) return "ignored";
		return ok(publicContact(saveContactState(this.sql, peer, step.next, this.now(), keyVersion)));
	}

	private stub(accountId: string): DurableObjectStub<UserRelay> {
		return this.env.USERS.get(this.env.USERS.idFromName(accountId));
	}

	async requestContact(accountId: string, deviceId: string, me: PeerRef, peer: PeerRef): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		if (peer.id === accountId) return refuse("bad_request", "You cannot add yourself as a contact.");
		const result = this.apply(peer, "request");
		if (result === "ignored" || !result.ok) return result === "ignored" ? refuse("conflict", "Nothing to do.") : result;
		await this.stub(peer.id).theirRequest(peer.id, me);
		return result;
	}

	async acceptContact(
		accountId: string,
		deviceId: string,
		me: PeerRef,
		peerId: string,
		keyVersion: number,
		uploads: EnvelopeUpload[],
	): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const current = getContact(this.sql, peerId);
		if (current?.state !== "incoming") return refuse("not_found", "There is no contact request from this account to accept.");
		if (keyVersion !== 1) return refuse("bad_request", "A new contact starts at key version 1.");

		const peerDevices = await this.stub(peerId).approvedDevicesOf(peerId);
		const mine = cachedDevices(this.sql).filter((d) => d.status === "approved");
		const expected = new Set([...mine.map((d) => `${accountId}/${d.deviceId}`), ...peerDevices.map((d) => `${peerId}/${d.deviceId}`)]);
		const given = new Set(uploads.map((e) => `${e.accountId}/${e.deviceId}`));
		if (given.size !== uploads.length || given.size !== expected.size || [...expected].some((k) => !given.has(k))) {
			return refuse("conflict", "Send exactly one key envelope for every approved device of both accounts; the device list changed.");
		}
		const fromPublicKey = mine.find((d) => d.deviceId === deviceId)?.publicKey as string;
		const stored = (account: string): StoredEnvelope[] =>
			uploads
				.filter((e) => e.accountId === account)
				.map((e) => ({
					keyVersion,
					fromAccount: accountId,
					fromDevice: deviceId,
					fromPublicKey,
					deviceId: e.deviceId,
					nonce: e.nonce,
					box: e.box,
				}));

		// The peer stores its half first: if that fails, nothing changed here either.
		await this.stub(peerId).theirAccept(peerId, me, keyVersion, stored(peerId));
		saveEnvelopes(this.sql, peerId, stored(accountId));
		return ok(publicContact(saveContactState(this.sql, { id: peerId, handle: current.handle }, "accepted", this.now(), keyVersion)));
	}

	async declineContact(accountId: string, deviceId: string, peerId: string): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const current = getContact(this.sql, peerId);
		if (!current) return refuse("not_found", "There is no contact request from this account to decline.");
		const result = this.apply({ id: peerId, handle: current.handle }, "decline");
		if (result === "ignored" || !result.ok) return result === "ignored" ? refuse("conflict", "Nothing to do.") : result;
		await this.stub(peerId).theirDecline(peerId, accountId);
		this.notifyContact("declined", result.value);
		return result;
	}

	async blockContact(accountId: string, deviceId: string, peer: PeerRef): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		if (peer.id === accountId) return refuse("bad_request", "You cannot block yourself.");
		const result = this.apply(peer, "block");
		if (result === "ignored" || !result.ok) return result === "ignored" ? refuse("conflict", "Nothing to do.") : result;
		await this.stub(peer.id).theirBlock(peer.id, accountId);
		this.notifyContact("blocked", result.value);
		return result;
	}

	async contactKeys(accountId: string, deviceId: string, peerId: string): Promise<RelayResult<Envelope[]>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		if (!getContact(this.sql, peerId)) return refuse("not_found", "No such contact.");
		return ok(envelopesFor(this.sql, peerId, deviceId));
	}

	async peerDevices(accountId: string, deviceId: string, peerId: string): Promise<RelayResult<DeviceInfo[]>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const current = getContact(this.sql, peerId);
		if (!current || current.state === "blocked") return refuse("not_found", "No such contact.");
		return ok(await this.stub(peerId).approvedDevicesOf(peerId));
	}

	// Calls from a peer's object. `accountId` is this object's own account.

	async theirRequest(accountId: string, from: PeerRef): Promise<void> {
		await this.ensureAccount(accountId);
		const result = this.apply(from, "their_request");
		if (result !== "ignored" && result.ok) this.notifyContact("requested", result.value);
	}

	async theirAccept(accountId: string, from: PeerRef, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void> {
		await this.ensureAccount(accountId);
		const result = this.apply(from, "their_accept", keyVersion);
		if (result === "ignored" || !result.ok) return;
		saveEnvelopes(this.sql, from.id, envelopes);
		this.notifyContact("accepted", result.value);
	}

	async theirDecline(accountId: string, fromId: string): Promise<void> {
		await this.ensureAccount(accountId);
		const current = getContact(this.sql, fromId);
		if (!current) return;
		const result = this.apply({ id: fromId, handle: current.handle }, "their_decline");
		if (result !== "ignored" && result.ok) this.notifyContact("declined", result.value);
	}

	/** Recorded silently: the blocked side only ever sees its sends refused as `not_a_contact`. */
	async theirBlock(accountId: string, fromId: string): Promise<void> {
		await this.ensureAccount(accountId);
		setPeerBlocked(this.sql, fromId, true);
	}

	private notifyContact(event: "requested" | "accepted" | "declined" | "blocked", contact: Contact): void {
		this.broadcast({ type: "contact", event, contact } satisfies ServerFrame);
	}

	// ------------------------------------------------------------------ sockets

	async fetch(request: Request): Promise<Response> {
		const accountId = request.headers.get("x-sm-account");
		const deviceId = request.headers.get("x-sm-device");
		if (!accountId || !deviceId || request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			return new Response("expected an authenticated WebSocket upgrade", { status: 400 });
		}
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal && !refusal.ok) {
			return Response.json({ error: { code: refusal.code, message: refusal.message } }, { status: new ApiError(refusal.code, "").status });
		}
		// One socket per device: a new connection replaces the old one.
		for (const old of this.ctx.getWebSockets(deviceId)) old.close(4000, "replaced by a newer connection");

		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server, [deviceId]);
		const state: SocketState = { accountId, deviceId, sentUpTo: 0, synced: false };
		server.serializeAttachment(state);
		this.send(server, { type: "ready", accountId, deviceId, queued: queueStats(this.sql, deviceId).count });
		this.pump(server, state);
		return new Response(null, { status: 101, webSocket: client });
	}

	private send(ws: WebSocket, frame: ServerFrame): void {
		this.sendText(ws, JSON.stringify(frame));
	}

	private sendText(ws: WebSocket, text: string): void {
		try {
			ws.send(text);
		} catch {
			// The socket closed under us; whatever was queued stays queued for the next connect.
		}
	}

	private broadcast(frame: ServerFrame): void {
		const text = JSON.stringify(frame);
		for (const ws of this.ctx.getWebSockets()) this.sendText(ws, text);
	}

	/** Push the next page of backlog, or announce that the device has caught up. */
	private pump(ws: WebSocket, state: SocketState): void {
		const rows = pageQueue(this.sql, state.deviceId, state.sentUpTo, DRAIN_PAGE);
		for (const row of rows) this.sendText(ws, row.frame);
		const last = rows.at(-1);
		if (last) state.sentUpTo = last.seq;
		if (rows.length < DRAIN_PAGE) {
			state.synced = true;
			this.send(ws, { type: "synced" });
		}
		ws.serializeAttachment(state);
	}

	async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		const state = readSocketState(ws);
		if (!state) return ws.close(1011, "socket lost its state");
		if (typeof message !== "string") return this.send(ws, errorFrame("bad_request", "Frames are JSON text."));
		if (message.length > MAX_FRAME_CHARS) return this.send(ws, errorFrame("too_large", "The frame is too large."));
		let frame: ReturnType<typeof clientFrame.parse>;
		try {
			frame = parseJson(clientFrame, message);
		} catch (err) {
			if (err instanceof ValidationError) return this.send(ws, errorFrame("bad_request", err.message, refOf(message)));
			throw err;
		}
		switch (frame.type) {
			case "ping":
				return this.send(ws, { type: "pong" });
			case "ack": {
				ackMessages(this.sql, state.deviceId, frame.ids);
				if (!state.synced && inFlight(this.sql, state.deviceId, state.sentUpTo) <= DRAIN_PAGE / 2) this.pump(ws, state);
				return;
			}
			case "send": {
				const result = await this.sendMessage(state, frame);
				if (!result.ok) return this.send(ws, errorFrame(result.code, result.message, frame.id, result.retryAfter));
				return this.send(ws, { type: "sent", id: frame.id, at: result.value });
			}
		}
	}

	async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		try {
			ws.close(code === 1005 ? 1000 : code, reason);
		} catch {
			// Already closed from our side.
		}
	}

	async webSocketError(ws: WebSocket): Promise<void> {
		try {
			ws.close(1011, "socket error");
		} catch {
			// Already closed.
		}
	}

	// ------------------------------------------------------------------ messages

	/** DESIGN §5 step 2, in the sender's object. Returns the relay's accept time. */
	private async sendMessage(state: SocketState, frame: SendFrame): Promise<RelayResult<number>> {
		const { accountId, deviceId } = state;
		const refusal = this.deviceRefusal(deviceId);
		if (refusal) return refusal;
		const config = readConfig(this.env);
		const bytes = b64uBytes(frame.box);
		if (bytes > config.maxSealedTextBytes + 16)
			return refuse("too_large", `A sealed message may be at most ${config.maxSealedTextBytes} bytes.`);
		const contact = getContact(this.sql, frame.to);
		if (!contact || contact.state !== "accepted" || contact.peerBlocked) {
			return refuse("not_a_contact", "You can only message accepted contacts.");
		}
		if (contact.keyVersion === undefined || frame.keyVersion > contact.keyVersion) {
			return refuse("bad_request", "Unknown contact key version.");
		}

		const syncTargets = approvedDeviceIds(this.sql).filter((d) => d !== deviceId);
		const caps = { maxMessages: config.queueMaxMessages, maxBytes: config.queueMaxBytes };
		if (syncTargets.some((d) => !fitsQueue(queueStats(this.sql, d), bytes, caps))) {
			return refuse("recipient_queue_full", "One of your own devices has too many undelivered messages.");
		}

		const sentAt = this.now();
		const text = JSON.stringify({
			type: "message",
			id: frame.id,
			from: accountId,
			fromDevice: deviceId,
			to: frame.to,
			kind: frame.kind,
			keyVersion: frame.keyVersion,
			nonce: frame.nonce,
			box: frame.box,
			sentAt,
		} satisfies ServerFrame);

		const delivered = await this.stub(frame.to).deliver(frame.to, accountId, frame.id, text, bytes);
		if (!delivered.ok) return delivered;
		// Sent-sync: the sender's other devices get their own copy; past the pre-check above
		// these writes are not refused, so a message the recipient has is never missing here.
		await this.enqueueAndPush(syncTargets, frame.id, text, bytes, sentAt + config.queueTtlMs, null);
		return ok(sentAt);
	}

	/** DESIGN §5 step 3, in the recipient's object: queue per device, push where online. */
	async deliver(accountId: string, from: string, msgId: string, text: string, bytes: number): Promise<RelayResult<true>> {
		await this.ensureAccount(accountId);
		const contact = getContact(this.sql, from);
		if (!contact || contact.state !== "accepted") return refuse("not_a_contact", "You can only message accepted contacts.");
		const config = readConfig(this.env);
		const result = await this.enqueueAndPush(approvedDeviceIds(this.sql), msgId, text, bytes, this.now() + config.queueTtlMs, {
			maxMessages: config.queueMaxMessages,
			maxBytes: config.queueMaxBytes,
		});
		if (result === "full") return refuse("recipient_queue_full", "The recipient has too many undelivered messages. Try later.");
		return ok(true);
	}

	private async enqueueAndPush(
		deviceIds: string[],
		msgId: string,
		text: string,
		bytes: number,
		expiresAt: number,
		caps: QueueCaps | null,
	): Promise<"ok" | "full"> {
		const seqs = enqueueAll(
			this.sql,
			deviceIds.map((deviceId) => ({ deviceId, msgId, frame: text, bytes, expiresAt })),
			caps,
		);
		if (seqs === "full") return "full";
		for (const [deviceId, seq] of seqs) {
			for (const ws of this.ctx.getWebSockets(deviceId)) {
				const state = readSocketState(ws);
				// A socket still draining its backlog picks this up in order from the queue.
				if (!state?.synced) continue;
				this.sendText(ws, text);
				state.sentUpTo = seq;
				ws.serializeAttachment(state);
			}
		}
		if (seqs.size > 0) await this.armAlarm(expiresAt);
		return "ok";
	}

	// ------------------------------------------------------------------ expiry

	/** Keep one alarm armed for the earliest expiry of anything stored. */
	private async armAlarm(at: number): Promise<void> {
		const armed = readMeta(this.sql, "alarm_at");
		if (armed !== undefined && Number(armed) <= at) return;
		writeMeta(this.sql, "alarm_at", String(at));
		await this.ctx.storage.setAlarm(at);
	}

	async alarm(): Promise<void> {
		const now = this.now();
		expireQueue(this.sql, now);
		this.sql.exec("DELETE FROM used_challenges WHERE expires_at <= ?", now);
		const nextChallenge = this.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM used_challenges").one().at;
		const candidates = [earliestExpiry(this.sql), nextChallenge].filter((x): x is number => x !== null);
		this.sql.exec("DELETE FROM meta WHERE key = 'alarm_at'");
		if (candidates.length > 0) await this.armAlarm(Math.min(...candidates));
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
