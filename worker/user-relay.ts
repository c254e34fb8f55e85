import { DurableObject } from "cloudflare:workers";
import { CONTACT_BURST_WINDOW_MS, type FlagKind, isContactBurst, isLowAcceptRatio, isMachineRegular } from "./abuse/behaviour-flags.ts";
import { priceOf } from "./abuse/pricing.ts";
import { checkSendLimits, DAY_MS, dailyQuota, type LimitRules, lookback, quotaLeft } from "./abuse/send-limits.ts";
import { nextSuspension, suspensionMessage } from "./abuse/suspension.ts";
import { earnsTrust } from "./abuse/trust-promotion.ts";
import { ApiError } from "./api-error.ts";
import { readConfig } from "./config.ts";
import { insertFlag, promoteToTrusted, reportsAgainst, suspendAccount } from "./db/abuse.ts";
import { getAccount, listDevices } from "./db/accounts.ts";
import {
	type AccountStatus,
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
import { bumpCounter, type CachedAccount, readAccountCache, readCounter, writeAccountCache } from "./relay/account-cache.ts";
import { countSince, distinctRefsSince, logActivity, pruneActivity, recentTimes, unlogActivity } from "./relay/activity-log.ts";
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
import { CreditAccount } from "./relay/credit-account.ts";
import { dropCharge, hasUnflushed, holdCharge, settleCharge } from "./relay/credit-journal.ts";
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
	private readonly credits: CreditAccount;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.credits = new CreditAccount(this.sql, env.DB);
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
		if (readAccountCache(this.sql) === undefined) await this.reloadAccount(accountId);
	}

	/**
	 * Re-read the account (trust, suspension) and its balance from D1. Called on first use and
	 * by the worker after anything changes them outside this object (admin, reports).
	 */
	async reloadAccount(accountId: string): Promise<AccountStatus> {
		const account = await getAccount(this.env.DB, accountId);
		if (!account) throw new Error("account missing from D1");
		if (readMeta(this.sql, "account_id") === undefined) writeMeta(this.sql, "account_id", accountId);
		writeAccountCache(this.sql, account);
		await this.credits.refresh(accountId, this.now());
		const status = this.status(accountId);
		this.broadcast({ type: "account", account: status });
		return status;
	}

	private cachedAccount(): CachedAccount {
		const account = readAccountCache(this.sql);
		if (!account) throw new Error("account cache read before it was loaded");
		return account;
	}

	private limitRules(account: CachedAccount): LimitRules {
		const config = readConfig(this.env);
		return {
			rateCount: config.rateLimit.count,
			rateWindowMs: config.rateLimit.windowMs,
			quota: dailyQuota(account.trust, config.quotaPerDay),
		};
	}

	private status(accountId: string): AccountStatus {
		const account = this.cachedAccount();
		const now = this.now();
		const rules = this.limitRules(account);
		const recent = recentTimes(this.sql, "send", now - DAY_MS, lookback(rules));
		const verdict = checkSendLimits(recent, now, rules);
		return {
			accountId,
			handle: account.handle,
			trust: account.trust,
			credits: this.credits.available(),
			quotaLeft: quotaLeft(recent, now, rules.quota),
			...(!verdict.ok && { nextSendAt: now + verdict.retryAfterMs }),
			...(account.suspendedUntil !== null && account.suspendedUntil > now && { suspendedUntil: account.suspendedUntil }),
		};
	}

	async accountStatus(accountId: string, deviceId: string): Promise<RelayResult<AccountStatus>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		return ok(this.status(accountId));
	}

	private suspensionRefusal(): RelayResult<never> | null {
		const { suspendedUntil } = this.cachedAccount();
		const now = this.now();
		if (suspendedUntil === null || suspendedUntil <= now) return null;
		return refuse("suspended", suspensionMessage(suspendedUntil), suspendedUntil - now);
	}

	/** Whether this account may report `peerId`: only someone it has a contact relationship with. */
	async mayReport(accountId: string, deviceId: string, peerId: string): Promise<RelayResult<true>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		if (!getContact(this.sql, peerId)) return refuse("not_found", "You can only report your contacts or people who asked to be.");
		return ok(true);
	}

	/** Escalating suspension (DESIGN §7), written to D1 first: D1 is the authority. */
	private async suspend(accountId: string, reason: string): Promise<void> {
		const account = this.cachedAccount();
		const now = this.now();
		const next = nextSuspension(account.suspensionLevel, now);
		await suspendAccount(this.env.DB, accountId, { until: next.until, level: next.level, reason, now });
		console.log(JSON.stringify({ event: "account_suspended", accountId, reason, level: next.level }));
		await this.reloadAccount(accountId);
	}

	/** A behavioural flag for admins, raised at most once a day per kind. */
	private async raiseFlag(accountId: string, kind: FlagKind, detail: string): Promise<void> {
		const now = this.now();
		const last = Number(readMeta(this.sql, `flag:${kind}`) ?? 0);
		if (now - last < DAY_MS) return;
		writeMeta(this.sql, `flag:${kind}`, String(now));
		await insertFlag(this.env.DB, { accountId, kind, detail, now });
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
		const suspended = this.suspensionRefusal();
		if (suspended) return suspended;
		const now = this.now();
		const perHour = readConfig(this.env).contactRequestsPerHour;
		const recent = recentTimes(this.sql, "contact_request", now - 3_600_000, perHour);
		if (recent.length >= perHour) {
			const retryAfter = (recent[perHour - 1] as number) + 3_600_000 - now;
			return refuse("rate_limited", `You can send ${perHour} contact requests an hour. Try again later.`, retryAfter);
		}
		const result = this.apply(peer, "request");
		if (result === "ignored" || !result.ok) return result === "ignored" ? refuse("conflict", "Nothing to do.") : result;
		logActivity(this.sql, "contact_request", now, peer.id);
		const requested = bumpCounter(this.sql, "requests_sent");
		await this.stub(peer.id).theirRequest(peer.id, me);
		if (isContactBurst(distinctRefsSince(this.sql, "contact_request", now - CONTACT_BURST_WINDOW_MS))) {
			await this.raiseFlag(accountId, "contact_burst", "contact requests to many distinct accounts within an hour");
		}
		if (isLowAcceptRatio(requested, readCounter(this.sql, "requests_accepted"))) {
			await this.raiseFlag(
				accountId,
				"low_accept_ratio",
				`${readCounter(this.sql, "requests_accepted")} of ${requested} contact requests accepted`,
			);
		}
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
		bumpCounter(this.sql, "requests_accepted");
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
		this.send(server, { type: "account", account: this.status(accountId) });
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
				return this.send(ws, { type: "sent", id: frame.id, ...result.value });
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

	/**
	 * DESIGN §5 step 2, in the sender's object: device → suspension → contact → rate limit and
	 * quota → credits → forward. Every refusal leaves nothing behind: no charge, no delivery,
	 * no entry in the limiter.
	 */
	private async sendMessage(state: SocketState, frame: SendFrame): Promise<RelayResult<SentReceipt>> {
		const { accountId, deviceId } = state;
		const refusal = this.deviceRefusal(deviceId) ?? this.suspensionRefusal();
		if (refusal) return refusal;
		const config = readConfig(this.env);
		const bytes = b64uBytes(frame.box);
		if (bytes > config.maxSealedTextBytes + 16) {
			return refuse("too_large", `A sealed message may be at most ${config.maxSealedTextBytes} bytes.`);
		}
		const contact = getContact(this.sql, frame.to);
		if (!contact || contact.state !== "accepted" || contact.peerBlocked) {
			return refuse("not_a_contact", "You can only message accepted contacts.");
		}
		if (contact.keyVersion === undefined || frame.keyVersion > contact.keyVersion) {
			return refuse("bad_request", "Unknown contact key version.");
		}
		const account = this.cachedAccount();
		const price = priceOf({ kind: frame.kind }, account.trust, config.prices);
		if (!price.ok) return refuse(price.code, price.message);
		// The one await before the checks below: afterwards everything up to the hold runs
		// without yielding, so two devices sending at once cannot both pass on the same credit.
		if (this.credits.available() < price.price) await this.credits.refresh(accountId, this.now());

		const now = this.now();
		const rules = this.limitRules(account);
		const verdict = checkSendLimits(recentTimes(this.sql, "send", now - DAY_MS, lookback(rules)), now, rules);
		if (!verdict.ok) {
			await this.noteRefusedSend(accountId, now);
			const what = verdict.code === "rate_limited" ? "You are sending too fast." : "You reached today's message quota.";
			return refuse(verdict.code, `${what} Try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s.`, verdict.retryAfterMs);
		}
		if (this.credits.available() < price.price) {
			return refuse("insufficient_credits", `Sending costs ${price.price} credits; you have ${this.credits.available()}.`);
		}
		const syncTargets = approvedDeviceIds(this.sql).filter((d) => d !== deviceId);
		const caps = { maxMessages: config.queueMaxMessages, maxBytes: config.queueMaxBytes };
		if (syncTargets.some((d) => !fitsQueue(queueStats(this.sql, d), bytes, caps))) {
			return refuse("recipient_queue_full", "One of your own devices has too many undelivered messages.");
		}

		const hold = holdCharge(this.sql, { amount: price.price, reason: frame.kind, ref: frame.id, at: now });
		logActivity(this.sql, "send", now, frame.id);
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
			sentAt: now,
		} satisfies ServerFrame);

		let delivered: RelayResult<true>;
		try {
			delivered = await this.stub(frame.to).deliver(frame.to, accountId, frame.id, text, bytes);
		} catch (err) {
			delivered = refuse("internal", "The message could not be delivered. It was not charged; try again.");
			console.error(JSON.stringify({ event: "deliver_failed", name: err instanceof Error ? err.name : typeof err }));
		}
		if (!delivered.ok) {
			dropCharge(this.sql, hold);
			unlogActivity(this.sql, "send", frame.id);
			return delivered;
		}
		settleCharge(this.sql, hold);
		// Sent-sync: the sender's other devices get their own copy; past the pre-check above
		// these writes are not refused, so a message the recipient has is never missing here.
		await this.enqueueAndPush(syncTargets, frame.id, text, bytes, now + config.queueTtlMs, null);
		await this.armAlarm(now + config.creditFlushMs);
		bumpCounter(this.sql, "messages_sent");
		await this.afterSend(accountId, now);
		const after = recentTimes(this.sql, "send", now - DAY_MS, lookback(rules));
		return ok({ at: now, credits: this.credits.available(), quotaLeft: quotaLeft(after, now, rules.quota) });
	}

	/** Repeated refused sends suspend the account (DESIGN §7). */
	private async noteRefusedSend(accountId: string, now: number): Promise<void> {
		const { violations, violationWindowMs } = readConfig(this.env).suspension;
		logActivity(this.sql, "refused_send", now);
		if (countSince(this.sql, "refused_send", now - violationWindowMs) >= violations) {
			await this.suspend(accountId, `${violations} refused sends within ${violationWindowMs / 60_000} minutes`);
		}
	}

	/** Flags and trust promotion look at the send history; both are rare D1 writes. */
	private async afterSend(accountId: string, now: number): Promise<void> {
		if (isMachineRegular(recentTimes(this.sql, "send", 0, 11).reverse())) {
			await this.raiseFlag(accountId, "regular_intervals", "messages sent at machine-regular intervals");
		}
		const account = this.cachedAccount();
		if (account.trust !== "untrusted") return;
		const rules = readConfig(this.env).trustPromotion;
		const history = {
			createdAt: account.createdAt,
			messagesSent: readCounter(this.sql, "messages_sent"),
			everSuspended: account.suspensionLevel > 0,
			reportsAgainst: 0,
		};
		if (!earnsTrust(history, now, rules)) return;
		// Reports live in D1; ask at most once a day, and only once the local checks pass.
		const lastCheck = Number(readMeta(this.sql, "trust_checked_at") ?? 0);
		if (now - lastCheck < DAY_MS) return;
		writeMeta(this.sql, "trust_checked_at", String(now));
		if ((await reportsAgainst(this.env.DB, accountId)) > 0) return;
		if (await promoteToTrusted(this.env.DB, accountId)) await this.reloadAccount(accountId);
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
		const accountId = readMeta(this.sql, "account_id");
		// A failing D1 throws here and the runtime retries the alarm; the journal stays intact.
		if (accountId !== undefined && hasUnflushed(this.sql)) await this.credits.flush(accountId, now);
		pruneActivity(this.sql, now - DAY_MS);
		expireQueue(this.sql, now);
		this.sql.exec("DELETE FROM used_challenges WHERE expires_at <= ?", now);
		const nextChallenge = this.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM used_challenges").one().at;
		const candidates = [earliestExpiry(this.sql), nextChallenge].filter((x): x is number => x !== null);
		this.sql.exec("DELETE FROM meta WHERE key = 'alarm_at'");
		if (candidates.length > 0) await this.armAlarm(Math.min(...candidates));
	}
}

interface SentReceipt {
	at: number;
	credits: number;
	quotaLeft: number | null;
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
