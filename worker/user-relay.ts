import { DurableObject } from "cloudflare:workers";
import type { SignedDeviceList } from "../common/protocol/device-list.ts";
import { SOCKET_PROTOCOL } from "../common/protocol/socket-auth.ts";
import type {
	AccountStatus,
	ApproveDeviceRequest,
	Contact,
	DeviceInfo,
	DeviceList,
	EndHistoryRequest,
	Envelope,
	EnvelopeUpload,
	HistoryTransfer,
	IdentityEnvelope,
	OpenLinkResponse,
	PublishDeviceListRequest,
	PushSubscriptionRequest,
	ReceiptFrame,
	RecoveryKeyRequest,
	ReserveAttachmentResponse,
	SealedBackup,
} from "../common/protocol/wire.ts";
import type { ReporterStanding } from "./abuse/report-weight.ts";
import { ApiError } from "./api-error.ts";
import type { ActivityCounts } from "./db/reviews.ts";
import type { RelayedSignal } from "./relay/calls/call-relay.ts";
import type { CallRequestAnswer } from "./relay/calls/call-requests.ts";
import type { PeerRef, StoredEnvelope } from "./relay/contacts/contact-book.ts";
import { takeBackRefund } from "./relay/credits/purchase-refunds.ts";
import type { AuthorizeOpts } from "./relay/devices/device-registry.ts";
import { alarmPort, DurableHost } from "./relay/durable-host.ts";
import type { RelayHost } from "./relay/host.ts";
import type { Delivered } from "./relay/messaging/delivery.ts";
import type { QueueItem } from "./relay/messaging/queue-item.ts";
import { ok, type RelayResult, refuse } from "./relay/relay-result.ts";
import { RelayServices } from "./relay/services.ts";
import { migrateStorage } from "./relay/storage/storage-schema.ts";
import type { LinkClaimant, PeerSurface, Recoverer, RouteSurface } from "./relay/surfaces.ts";

const ACCOUNT_DELETED = refuse("unauthorized", "This account was deleted.");

/**
 * One per user account, addressed by its account id: the single writer of that account's
 * contacts, queues, limits and sockets. A shell over the services in relay/: it holds no
 * rules and no storage of its own, only the entry points the runtime calls (RPC from routes
 * and peers, sockets, the alarm), each one check of who is asking and one service call.
 */
export class UserRelay extends DurableObject<Env> implements RouteSurface, PeerSurface {
	readonly #host: DurableHost;
	readonly #s: RelayServices;
	/** The account was deleted while this instance ran: its caches describe what is gone, so nothing may run. */
	#deleted = false;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = ctx.storage.sql;
		// Synchronous, like all SQLite storage: the schema is current before anything reads it.
		migrateStorage(sql);
		this.#host = new DurableHost(ctx, env, (job, at) => this.#s.scheduler.schedule(job, at));
		this.#s = new RelayServices(this.#host, alarmPort(ctx));
		// Keep-alive pings are answered without waking the object from hibernation.
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
	}

	/** Test seam: the host port, where a test stands in a failing D1 or R2. Static, so RPC cannot reach it. */
	static hostOf(relay: UserRelay): RelayHost {
		return relay.#host;
	}

	/** Test seam: the services, to look at state that lives only in memory. */
	static servicesOf(relay: UserRelay): RelayServices {
		return relay.#s;
	}

	/** Run `work` for a signed-in device, or return why it may not act. */
	async #asDevice<T>(deviceId: string, work: () => T | Promise<T>, opts?: AuthorizeOpts): Promise<RelayResult<Awaited<T>>> {
		if (this.#deleted) return ACCOUNT_DELETED;
		const refusal = await this.#s.devices.authorize(deviceId, opts);
		if (refusal) return refusal;
		return ok(await work());
	}

	/** As #asDevice, for work that has refusals of its own. */
	async #forDevice<T>(
		deviceId: string,
		work: () => RelayResult<T> | Promise<RelayResult<T>>,
		opts?: AuthorizeOpts,
	): Promise<RelayResult<T>> {
		if (this.#deleted) return ACCOUNT_DELETED;
		const refusal = await this.#s.devices.authorize(deviceId, opts);
		return refusal ?? work();
	}

	/** Run `work` for a peer's object or the worker itself: nobody signed in to check. */
	async #ready<T>(work: () => T | Promise<T>): Promise<Awaited<T>> {
		if (this.#deleted) throw new Error("this account was deleted");
		await this.#s.account.ensure();
		return await work();
	}

	// ---------------------------------------------------------------- sockets and the alarm

	async fetch(request: Request): Promise<Response> {
		const deviceId = request.headers.get("x-sm-device");
		if (!deviceId || request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			return new Response("expected an authenticated WebSocket upgrade", { status: 400 });
		}
		// A pending device may connect, to hear that it was approved; it can do nothing else.
		const refusal = this.#deleted ? ACCOUNT_DELETED : await this.#s.devices.authorize(deviceId, { allowPending: true });
		if (refusal && !refusal.ok) {
			return Response.json({ error: { code: refusal.code, message: refusal.message } }, { status: new ApiError(refusal.code, "").status });
		}
		// The client offered our protocol (with its token beside it) and must be answered with it.
		return new Response(null, {
			status: 101,
			// The worker let only `acks=prompt` through (routes/socket.ts).
			webSocket: this.#s.hub.open(deviceId, new URL(request.url).searchParams.get("acks") === "prompt"),
			headers: { "sec-websocket-protocol": SOCKET_PROTOCOL },
		});
	}

	async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		if (this.#deleted) return ws.close(4003, "account deleted");
		await this.#s.frames.message(ws, message);
	}

	webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		return this.#s.hub.gone(ws, code, reason);
	}

	webSocketError(ws: WebSocket): Promise<void> {
		return this.#s.hub.gone(ws, 1011, "socket error");
	}

	async alarm(): Promise<void> {
		if (this.#deleted) return;
		return this.#s.scheduler.alarm();
	}

	// ---------------------------------------------------------------- routes: the account

	/**
	 * After the services deleted what lives elsewhere, this object's own storage goes: every
	 * socket is closed, the alarm and every row deleted. The instance then refuses everything,
	 * and a new one starts empty (a request with an old token finds no device).
	 */
	async deleteAccount(deviceId: string, handle: string): Promise<RelayResult<true>> {
		const result = await this.#forDevice(deviceId, () => this.#s.deletion.delete(handle));
		if (!result.ok) return result;
		this.#deleted = true;
		for (const ws of this.ctx.getWebSockets()) ws.close(4003, "account deleted");
		await this.ctx.storage.deleteAlarm();
		await this.ctx.storage.deleteAll();
		return result;
	}

	accountStatus(deviceId: string): Promise<RelayResult<AccountStatus>> {
		return this.#asDevice(deviceId, () => this.#s.account.status());
	}

	/** Write the credit journal to D1 now, for a reader of D1's balance or ledger; without a device, the admin's. */
	async flushCredits(deviceId?: string): Promise<RelayResult<true>> {
		const flush = () => this.#s.credits.flushPending(this.#host.now()).then(() => true as const);
		return deviceId === undefined ? ok(await this.#ready(flush)) : this.#asDevice(deviceId, flush);
	}

	reloadAccount(): Promise<AccountStatus> {
		return this.#s.account.reload();
	}

	/** A refund of a purchase now covers `covered` of its credits: take back what is still there, once. */
	refundPurchase(paymentId: string, covered: number): Promise<number | null> {
		return this.#ready(async () => {
			const taken = await takeBackRefund(this.#host, this.#s.credits, paymentId, covered);
			// The devices hear the new balance, as after an admin's grant.
			if (taken !== null) await this.#s.account.reload();
			return taken;
		});
	}

	reloadDevices(): Promise<DeviceInfo[]> {
		return this.#s.devices.reload();
	}

	noteReport(deviceId: string, peerId: string): Promise<RelayResult<ReporterStanding>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.noteReport(peerId));
	}

	/** For the report route and the admin: counts only, no device involved. */
	activityCounts(): Promise<ActivityCounts> {
		return this.#ready(() => this.#s.account.activityCounts());
	}

	redeemChallenge(nonce: string, expiresAt: number): Promise<boolean> {
		return this.#ready(() => this.#s.challenges.redeem(nonce, expiresAt));
	}

	// ---------------------------------------------------------------- routes: devices

	claimLink(c: LinkClaimant): Promise<RelayResult<true>> {
		return this.#s.links.claim(c);
	}

	/** A recovering device reads the list too: it signs the next one, with it added. */
	devices(deviceId: string): Promise<RelayResult<DeviceList>> {
		return this.#asDevice(deviceId, () => this.#s.devices.listing(), { allowRecovering: true });
	}

	publishDeviceList(deviceId: string, body: PublishDeviceListRequest): Promise<RelayResult<SignedDeviceList>> {
		return this.#forDevice(deviceId, () => this.#s.lists.publish(deviceId, body));
	}

	openLink(deviceId: string, linkId: string): Promise<RelayResult<OpenLinkResponse>> {
		return this.#forDevice(deviceId, () => this.#s.links.open(deviceId, linkId));
	}

	cancelLink(deviceId: string, linkId: string): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.links.cancel(linkId));
	}

	identityEnvelope(deviceId: string): Promise<RelayResult<IdentityEnvelope>> {
		return this.#forDevice(deviceId, () => this.#s.devices.identityEnvelope(deviceId));
	}

	approveDevice(approverId: string, deviceId: string, body: ApproveDeviceRequest): Promise<RelayResult<DeviceInfo>> {
		return this.#forDevice(approverId, () => this.#s.devices.approve(approverId, deviceId, body));
	}

	/** A pending device may take only itself off (it gives up waiting). */
	removeDevice(actorId: string, deviceId: string, list: SignedDeviceList | undefined): Promise<RelayResult<DeviceInfo>> {
		return this.#forDevice(actorId, () => this.#s.devices.remove(deviceId, list), { allowPending: actorId === deviceId });
	}

	/** A device sets only its own: the token's device is the one named, and it must be approved. */
	setPushSubscription(deviceId: string, sub: PushSubscriptionRequest): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.push.subscribe(deviceId, sub));
	}

	deletePushSubscription(deviceId: string): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.push.unsubscribe(deviceId));
	}

	// ---------------------------------------------------------------- routes: recovery

	setRecoveryKey(deviceId: string, key: RecoveryKeyRequest): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.recovery.setKey(key));
	}

	recoveryKey(deviceId: string): Promise<RelayResult<RecoveryKeyRequest>> {
		return this.#forDevice(deviceId, () => this.#s.recovery.key());
	}

	putBackup(deviceId: string, backup: SealedBackup): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.recovery.putBackup(backup));
	}

	backup(deviceId: string): Promise<RelayResult<SealedBackup>> {
		return this.#forDevice(deviceId, () => this.#s.recovery.backup());
	}

	recover(r: Recoverer): Promise<RelayResult<SealedBackup>> {
		return this.#s.recovery.restore(r);
	}

	/** Only a recovering device, and only for itself, gets past the pending check; the service refuses anyone else. */
	completeRecovery(callerId: string, deviceId: string, list: SignedDeviceList): Promise<RelayResult<DeviceInfo>> {
		return this.#forDevice(callerId, () => this.#s.recovery.complete(callerId, deviceId, list), {
			allowRecovering: callerId === deviceId,
		});
	}

	// ---------------------------------------------------------------- routes: contacts and calls

	contacts(deviceId: string): Promise<RelayResult<Contact[]>> {
		return this.#asDevice(deviceId, () => this.#s.contacts.list());
	}

	requestContact(deviceId: string, handle: string): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.request(handle));
	}

	acceptContact(
		deviceId: string,
		me: PeerRef,
		peerId: string,
		keyVersion: number,
		uploads: EnvelopeUpload[],
	): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.accept(deviceId, me, peerId, keyVersion, uploads));
	}

	declineContact(deviceId: string, peerId: string): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.decline(peerId));
	}

	blockContact(deviceId: string, peer: PeerRef): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.block(peer));
	}

	unblockContact(deviceId: string, peerId: string): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.unblock(peerId));
	}

	contactKeys(deviceId: string, peerId: string): Promise<RelayResult<Envelope[]>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.keys(deviceId, peerId));
	}

	peerDevices(deviceId: string, peerId: string): Promise<RelayResult<DeviceList>> {
		return this.#forDevice(deviceId, () => this.#s.contacts.peerDevices(peerId));
	}

	rotateContactKey(deviceId: string, peerId: string, keyVersion: number, uploads: EnvelopeUpload[]): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, () => this.#s.rotation.rotate(deviceId, peerId, keyVersion, uploads));
	}

	/** Allowing calls also answers a waiting call request of theirs: the caller is told at once. */
	setCallPermission(deviceId: string, peerId: string, allow: boolean): Promise<RelayResult<Contact>> {
		return this.#forDevice(deviceId, async () => {
			const result = this.#s.contacts.setCallPermission(peerId, allow);
			if (result.ok && allow) await this.#s.calls.answerRequest(peerId, "allowed");
			return result;
		});
	}

	dismissCallRequest(deviceId: string, peerId: string): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, async () =>
			(await this.#s.calls.answerRequest(peerId, "not_now"))
				? ok(true as const)
				: refuse("not_found", "No call request from this contact is waiting."),
		);
	}

	/** TURN credentials go to approved devices of accounts that may place calls. */
	mayCall(deviceId: string): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.account.suspensionRefusal() ?? ok(true as const));
	}

	// ---------------------------------------------------------------- routes: attachments

	reserveUpload(deviceId: string, to: string, size: number): Promise<RelayResult<ReserveAttachmentResponse>> {
		return this.#forDevice(deviceId, () => this.#s.attachments.reserve(to, size));
	}

	beginUpload(deviceId: string, attachmentId: string): Promise<RelayResult<number>> {
		return this.#forDevice(deviceId, () => this.#s.attachments.begin(attachmentId));
	}

	finishUpload(attachmentId: string): Promise<RelayResult<true>> {
		return this.#ready(() => this.#s.attachments.finish(attachmentId));
	}

	cancelUpload(deviceId: string, attachmentId: string): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.attachments.cancel(attachmentId));
	}

	mayDownload(deviceId: string, owner: string, attachmentId: string): Promise<RelayResult<true>> {
		return this.#s.attachments.mayDownload(deviceId, owner, attachmentId);
	}

	downloaded(deviceId: string, owner: string, attachmentId: string): Promise<void> {
		return this.#ready(() => this.#s.attachments.downloaded(deviceId, owner, attachmentId));
	}

	// ---------------------------------------------------------------- routes: history for a linked device

	historyTransfers(deviceId: string): Promise<RelayResult<{ transfers: HistoryTransfer[] }>> {
		return this.#forDevice(deviceId, () => this.#s.history.list(deviceId));
	}

	beginHistoryUpload(deviceId: string, transferId: string): Promise<RelayResult<number>> {
		return this.#forDevice(deviceId, () => this.#s.history.beginUpload(deviceId, transferId));
	}

	/**
	 * Not checked as a device, like finishUpload: one removed while its put ran must not leave
	 * the archive behind. The service finds its transfer gone then, and deletes the archive.
	 */
	finishHistoryUpload(deviceId: string, transferId: string, size: number | null): Promise<RelayResult<true>> {
		return this.#ready(() => this.#s.history.finishUpload(deviceId, transferId, size));
	}

	mayFetchHistory(deviceId: string, transferId: string): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.history.mayDownload(deviceId, transferId));
	}

	endHistory(deviceId: string, transferId: string, outcome: EndHistoryRequest["outcome"]): Promise<RelayResult<true>> {
		return this.#forDevice(deviceId, () => this.#s.history.end(deviceId, transferId, outcome));
	}

	// ---------------------------------------------------------------- peers

	deliver(item: QueueItem): Promise<RelayResult<Delivered>> {
		return this.#ready(() => this.#s.delivery.accept(item));
	}

	receipt(frame: ReceiptFrame): Promise<void> {
		return this.#ready(() => this.#s.delivery.receipt(frame));
	}

	typing(from: string, fromDevice: string): Promise<void> {
		return this.#ready(() => this.#s.typing.fromPeer(from, fromDevice));
	}

	peerCall(signal: RelayedSignal): Promise<RelayResult<true>> {
		return this.#ready(() => this.#s.calls.fromPeer(signal));
	}

	callRequestAnswered(fromId: string, answer: CallRequestAnswer): Promise<void> {
		return this.#ready(() => this.#s.calls.requestAnswered(fromId, answer));
	}

	deviceListOf(askedBy: string): Promise<RelayResult<DeviceList>> {
		return this.#ready(() => this.#s.contacts.devicesFor(askedBy));
	}

	peerRevokedDevice(peerId: string): Promise<void> {
		return this.#ready(() => this.#s.rotation.peerRevoked(peerId));
	}

	peerDevicesChanged(peerId: string): Promise<void> {
		return this.#ready(() => this.#s.rotation.peerDevicesChanged(peerId));
	}

	ownerRotation(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<RelayResult<Contact>> {
		return this.#ready(() => this.#s.rotation.commit(peerId, keyVersion, envelopes));
	}

	theirRotation(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void> {
		return this.#ready(() => this.#s.rotation.follow(peerId, keyVersion, envelopes));
	}

	theirRequest(from: PeerRef): Promise<void> {
		return this.#ready(() => this.#s.contacts.theirRequest(from));
	}

	theirAccept(from: PeerRef, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void> {
		return this.#ready(() => this.#s.contacts.theirAccept(from, keyVersion, envelopes));
	}

	theirDecline(fromId: string): Promise<void> {
		return this.#ready(() => this.#s.contacts.theirDecline(fromId));
	}

	theirUnblock(fromId: string): Promise<void> {
		return this.#ready(() => this.#s.contacts.theirUnblock(fromId));
	}

	theirAccountDeleted(fromId: string): Promise<void> {
		return this.#ready(() => this.#s.contacts.theirAccountDeleted(fromId));
	}
}
