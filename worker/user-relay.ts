import { DurableObject } from "cloudflare:workers";
import { fromB64u, toB64u } from "../common/encoding.ts";
import { sealedFileSize } from "../common/file-layout.ts";
import { randomBytes, verifyDetached } from "../common/nacl.ts";
import { priceOf } from "../common/pricing.ts";
import { approvalMessage } from "../common/protocol/signing.ts";
import {
	type AccountStatus,
	type CallFrame,
	type Contact,
	type ContactNotice,
	clientFrame,
	type DeviceInfo,
	type Envelope,
	type EnvelopeUpload,
	type ErrorCode,
	MAX_FRAME_CHARS,
	type MessageKind,
	type OwnEnvelopeUpload,
	parseJson,
	type ReserveAttachmentResponse,
	type SendFrame,
	type ServerFrame,
	ValidationError,
} from "../common/protocol/wire.ts";
import { type FlagKind, isContactBurst, isLowAcceptRatio, isMachineRegular, regularTimesNeeded } from "./abuse/behaviour-flags.ts";
import { approvalRefusal, joinRefusal, lapsedAsks } from "./abuse/device-joins.ts";
import {
	checkSendLimits,
	DAY_MS,
	dailyQuota,
	type LimitRules,
	type LimitVerdict,
	quotaLeft,
	type SendCounts,
} from "./abuse/send-limits.ts";
import { nextSuspension, suspensionMessage } from "./abuse/suspension.ts";
import { earnsTrust } from "./abuse/trust-promotion.ts";
import { ApiError } from "./api-error.ts";
import { readConfig } from "./config.ts";
import { insertFlag, promoteToTrusted, reportsAgainst, suspendAccount } from "./db/abuse.ts";
import {
	approveDevice as approveDeviceInD1,
	findAccountByHandle,
	getAccount,
	insertPendingDevice,
	listDevices,
	revokeDevice as revokeDeviceInD1,
	touchDevice,
} from "./db/accounts.ts";
import { bumpCounter, type CachedAccount, readAccountCache, readCounter, writeAccountCache } from "./relay/account/account-cache.ts";
import {
	countSince,
	countWindows,
	distinctRefsSince,
	logActivity,
	newestSendTimes,
	nthNewestTime,
	pruneActivity,
	recentTimes,
} from "./relay/account/activity-log.ts";
import {
	blobDeleted,
	blobKey,
	deferBlobDeletion,
	deferredBlobDeletions,
	deleteUpload,
	dropGrant,
	earliestGrantExpiry,
	earliestUploadExpiry,
	expiredGrants,
	forgetDeviceWaits,
	getUpload,
	grantAttachment,
	grantFor,
	grantsForMessage,
	lapsedUploads,
	markFetched,
	markSentDeleted,
	pruneSent,
	recordSent,
	saveUpload,
	sentMessage,
	setUploadStatus,
	type Upload,
	uploadByMessage,
} from "./relay/attachments/attachment-store.ts";
import { CallRelay, type RelayedSignal } from "./relay/calls/call-relay.ts";
import { earliestCallExpiry } from "./relay/calls/call-store.ts";
import {
	acceptedPeerIds,
	completeRotation,
	deleteEnvelopesOf,
	envelopesFor,
	getContact,
	listContacts,
	publicContact,
	requireRotation,
	type StoredContact,
	type StoredEnvelope,
	saveContactState,
	saveEnvelopes,
	setCallsAllowed,
	setPeerBlocked,
} from "./relay/contacts/contact-book.ts";
import { type ContactEvent, transition } from "./relay/contacts/contact-rules.ts";
import { CreditAccount } from "./relay/credits/credit-account.ts";
import { flushDeferredUntil, flushDueAt, type JournalState } from "./relay/credits/credit-flush-policy.ts";
import {
	dropCharge,
	hasUnflushed,
	holdCharge,
	journalSize,
	oldestUnflushedAt,
	recordCharge,
	settleCharge,
} from "./relay/credits/credit-journal.ts";
import { approvedDeviceIds, cachedDevices, deviceStatus, replaceCachedDevices } from "./relay/devices/device-cache.ts";
import {
	ackMessages,
	dropDeviceQueue,
	earliestExpiry,
	enqueueAll,
	expireQueue,
	inFlight,
	pageQueue,
	queueStats,
	removeQueued,
	replaceQueued,
} from "./relay/messaging/message-queue.ts";
import { fitsQueue, type QueueCaps } from "./relay/messaging/queue-caps.ts";
import { ok, type RelayResult, refuse } from "./relay/relay-result.ts";
import { readSocketState, type SocketState } from "./relay/sockets/socket-state.ts";
import { deleteMeta, migrateStorage, readMeta, writeMeta } from "./relay/storage/storage-schema.ts";

export interface PeerRef {
	id: string;
	handle: string;
}

const FLUSH_RETRY_MS = 30_000;
/** While the object stays in memory, alarms that only flush skip the expiry sweep up to this long. */
const SWEEP_AT_LEAST_MS = 3_600_000;
/** How soon R2 deletes that failed are tried again. */
const R2_RETRY_MS = 60_000;
/** How soon a sweep looks again at a lapsed upload it skipped because its message was on its way. */
const IN_FLIGHT_RECHECK_MS = 1_000;
/** `at`, but no earlier than `floor` (null stays null). */
const laterThan = (at: number | null, floor: number): number | null => (at === null ? null : Math.max(at, floor));

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
	/**
	 * The earliest expiry of anything stored, as the last sweep found it and later arms moved
	 * it; null until this instance has swept (after a restart or wake, the first alarm sweeps).
	 */
	private nextSweepAt: number | null = null;
	/** Sends in flight, in order. Memory only: a restart ends every in-flight send anyway. */
	private sendChain: Promise<unknown> = Promise.resolve();
	/**
	 * Call signals of this account, one at a time: an accept must reach the caller before the
	 * answer sent right after it, and the offer before its ICE candidates. Memory only, like sendChain.
	 */
	private callChain: Promise<unknown> = Promise.resolve();
	/** Asks of new devices to join, one at a time (addPendingDevice). Memory only, like sendChain. */
	private joinChain: Promise<unknown> = Promise.resolve();
	/**
	 * Attachments whose message is being delivered right now. Neither a cancel nor the alarm's
	 * lapse may release one meanwhile: the send settles its held price (or leaves it) itself.
	 * Memory only, like sendChain: a restart ends every in-flight send anyway.
	 */
	private readonly uploadsInFlight = new Set<string>();

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

	private journalState(): JournalState {
		const lastSend = newestSendTimes(this.sql, 1)[0];
		return { charges: journalSize(this.sql).charges, oldestAt: oldestUnflushedAt(this.sql), lastSendAt: lastSend ?? null };
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

	/**
	 * The account's sends in the rate window and in the rolling day: one indexed count. Without
	 * a daily quota (verified) the day is not counted: nothing compares it, and it can be long.
	 */
	private sendCounts(now: number, rules: LimitRules): SendCounts {
		const daySince = rules.quota === null ? now - rules.rateWindowMs : now - Math.max(DAY_MS, rules.rateWindowMs);
		const counts = countWindows(this.sql, "send", now - rules.rateWindowMs, daySince);
		return { inRateWindow: counts.inShort, inDay: counts.inLong };
	}

	private sendVerdict(counts: SendCounts, now: number, rules: LimitRules): LimitVerdict {
		return checkSendLimits(counts, (n) => nthNewestTime(this.sql, "send", n), now, rules);
	}

	private status(accountId: string): AccountStatus {
		const account = this.cachedAccount();
		const now = this.now();
		const rules = this.limitRules(account);
		const counts = this.sendCounts(now, rules);
		const verdict = this.sendVerdict(counts, now, rules);
		return {
			accountId,
			handle: account.handle,
			trust: account.trust,
			credits: this.credits.available(),
			quotaLeft: quotaLeft(counts.inDay, rules.quota),
			...(!verdict.ok && { nextSendAt: now + verdict.retryAfterMs }),
			...(account.suspendedUntil !== null && account.suspendedUntil > now && { suspendedUntil: account.suspendedUntil }),
		};
	}

	/**
	 * Write the credit journal to D1 now, for a reader of D1's balance or ledger (the ledger
	 * view, the admin API). Without a device it is the worker's own call for the admin.
	 */
	async flushCredits(accountId: string, deviceId?: string): Promise<RelayResult<true>> {
		if (deviceId === undefined) await this.ensureAccount(accountId);
		else {
			const refusal = await this.authorize(accountId, deviceId);
			if (refusal) return refusal;
		}
		if (hasUnflushed(this.sql)) await this.credits.flush(accountId, this.now());
		return ok(true);
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
		const next = nextSuspension(account.suspensionLevel, now, readConfig(this.env).suspension.escalationMs);
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

	/**
	 * Re-read this account's devices from D1 (the authority) into the cache, tell this
	 * account's sockets what changed, and tell contacts when the approved set changed (their
	 * safety number for us changes with it).
	 */
	async reloadDevices(accountId: string): Promise<DeviceInfo[]> {
		const before = new Map(cachedDevices(this.sql).map((d) => [d.deviceId, d.status]));
		const firstLoad = readMeta(this.sql, "devices_loaded") === undefined;
		const devices = (await listDevices(this.env.DB, accountId)).map(({ accountId: _, ...d }) => d);
		if (readMeta(this.sql, "account_id") === undefined) writeMeta(this.sql, "account_id", accountId);
		replaceCachedDevices(this.sql, devices);
		writeMeta(this.sql, "devices_loaded", String(this.now()));
		let approvedSetChanged = false;
		for (const d of devices) {
			const was = before.get(d.deviceId);
			if (!firstLoad && was !== d.status) {
				if ((was === "approved") !== (d.status === "approved")) approvedSetChanged = true;
				const frame: ServerFrame = { type: "device", event: d.status, device: d };
				this.broadcast(frame);
				// The device itself is told too, now that it is no longer approved (rejected or
				// revoked) and before its socket closes, even where a proxy in between does not pass
				// the close code on. A newly approved one heard it above and gets what it was kept
				// from while pending.
				if (d.status === "approved") for (const ws of this.ctx.getWebSockets(d.deviceId)) this.startApprovedSocket(ws, accountId);
				else if (was === "approved" || was === "pending") for (const ws of this.ctx.getWebSockets(d.deviceId)) this.send(ws, frame);
			}
			if (d.status === "revoked") {
				this.dropDevice(d.deviceId);
				deleteEnvelopesOf(this.sql, d.deviceId);
				for (const g of forgetDeviceWaits(this.sql, d.deviceId)) await this.deleteBlob(g.owner, g.attachmentId);
			}
		}
		if (approvedSetChanged) {
			for (const peerId of acceptedPeerIds(this.sql)) await this.stub(peerId).peerDevicesChanged(peerId, accountId);
		}
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
	private async authorize(accountId: string, deviceId: string, opts: { allowPending?: boolean } = {}): Promise<RelayResult<never> | null> {
		await this.ensureAccount(accountId);
		if (opts.allowPending && deviceStatus(this.sql, deviceId) === "pending") return null;
		return this.deviceRefusal(deviceId);
	}

	// ------------------------------------------------------------------ device approval and revocation

	/**
	 * A new device asks to join this account. Anyone who knows the handle can ask, so asks are
	 * limited per hour, at most a few may wait at once, and an ask lapses after a day
	 * (abuse/device-joins.ts); waiting devices count against the device limit, so each can be
	 * approved.
	 */
	addPendingDevice(
		accountId: string,
		d: { deviceId: string; publicKey: string; name: string; signature: string },
	): Promise<RelayResult<true>> {
		// One ask at a time: each one's checks must see the asks before it, which are only
		// counted after a D1 write, and asks need no login, so a stranger could send many at once.
		const run = () => this.addPendingDeviceNow(accountId, d);
		const turn = this.joinChain.then(run, run);
		this.joinChain = turn.catch(() => undefined);
		return turn;
	}

	private async addPendingDeviceNow(
		accountId: string,
		d: { deviceId: string; publicKey: string; name: string; signature: string },
	): Promise<RelayResult<true>> {
		await this.ensureAccount(accountId);
		const now = this.now();
		const perHour = readConfig(this.env).deviceRequestsPerHour;
		const recent = recentTimes(this.sql, "device_request", now - 3_600_000, perHour);
		if (recent.length >= perHour) {
			return refuse(
				"rate_limited",
				"Too many new devices asked to join this account. Try again later.",
				(recent.at(-1) as number) + 3_600_000 - now,
			);
		}
		await this.rejectLapsedAsks(accountId, now);
		const config = readConfig(this.env);
		const full = joinRefusal(cachedDevices(this.sql), config.maxDevicesPerAccount, config.deviceJoins);
		if (full) return refuse("too_many_devices", full);
		if (!(await insertPendingDevice(this.env.DB, { ...d, accountId, now })))
			return refuse("handle_taken", "This device key is already registered.");
		logActivity(this.sql, "device_request", now, d.deviceId);
		await this.reloadDevices(accountId);
		return ok(true);
	}

	/** Asks nobody answered within a day are rejected, so they stop holding a place (README, Devices). */
	private async rejectLapsedAsks(accountId: string, now: number): Promise<void> {
		const lapsed = lapsedAsks(cachedDevices(this.sql), now, readConfig(this.env).deviceJoins);
		if (lapsed.length === 0) return;
		for (const d of lapsed) await revokeDeviceInD1(this.env.DB, accountId, d.deviceId, now);
		await this.reloadDevices(accountId);
	}

	/**
	 * An approved device approves a pending one: its signature binds the new key to this
	 * account, and it hands over every contact key it holds, wrapped for the new device, so
	 * the new device reads new messages from every contact at once.
	 */
	async approveDevice(
		accountId: string,
		approverId: string,
		deviceId: string,
		signature: string,
		envelopes: OwnEnvelopeUpload[],
	): Promise<RelayResult<DeviceInfo>> {
		const refusal = await this.authorize(accountId, approverId);
		if (refusal) return refusal;
		await this.rejectLapsedAsks(accountId, this.now());
		const devices = cachedDevices(this.sql);
		const approver = devices.find((d) => d.deviceId === approverId) as DeviceInfo;
		const target = devices.find((d) => d.deviceId === deviceId);
		if (!target || target.status !== "pending") return refuse("not_found", "There is no pending device with that id on this account.");
		const full = approvalRefusal(devices, readConfig(this.env).maxDevicesPerAccount);
		if (full) return refuse("too_many_devices", full);
		if (!verifyDetached(fromB64u(approver.publicKey), approvalMessage(accountId, deviceId, target.publicKey), fromB64u(signature))) {
			return refuse("unauthorized", "The approval signature does not match this device's key.");
		}
		const contacts = listContacts(this.sql).filter((c) => c.state === "accepted" && c.keyVersion !== undefined);
		const given = new Set(envelopes.map((e) => `${e.peerId}/${e.keyVersion}`));
		const missing = contacts.filter((c) => !given.has(`${c.accountId}/${c.keyVersion}`));
		if (missing.length > 0) return refuse("conflict", "Wrap the newest key of every contact for the new device.");
		const known = new Map(contacts.map((c) => [c.accountId, c.keyVersion as number]));
		if (envelopes.some((e) => (known.get(e.peerId) ?? 0) < e.keyVersion))
			return refuse("bad_request", "An envelope names an unknown contact or key version.");

		if (!(await approveDeviceInD1(this.env.DB, { accountId, deviceId, approvedBy: approverId, signature, now: this.now() }))) {
			return refuse("conflict", "The device is no longer pending.");
		}
		for (const e of envelopes) {
			saveEnvelopes(this.sql, e.peerId, [
				{
					keyVersion: e.keyVersion,
					fromAccount: accountId,
					fromDevice: approverId,
					fromPublicKey: approver.publicKey,
					deviceId,
					nonce: e.nonce,
					box: e.box,
				},
			]);
		}
		const after = await this.reloadDevices(accountId);
		return ok(after.find((d) => d.deviceId === deviceId) as DeviceInfo);
	}

	/**
	 * Reject a pending device or revoke an approved one (any approved device may, and a
	 * device may revoke itself). Its sockets close, its queue and keys are dropped, and every
	 * contact key must be rotated before anyone sends again.
	 */
	async removeDevice(accountId: string, actorId: string, deviceId: string): Promise<RelayResult<DeviceInfo>> {
		const refusal = await this.authorize(accountId, actorId, { allowPending: actorId === deviceId });
		if (refusal) return refusal;
		const target = cachedDevices(this.sql).find((d) => d.deviceId === deviceId);
		if (!target || target.status === "revoked") return refuse("not_found", "There is no such device on this account.");
		const wasApproved = target.status === "approved";
		await revokeDeviceInD1(this.env.DB, accountId, deviceId, this.now());
		const after = await this.reloadDevices(accountId);
		if (wasApproved) {
			for (const peerId of requireRotation(this.sql)) {
				await this.stub(peerId).peerRevokedDevice(peerId, accountId);
				const contact = getContact(this.sql, peerId);
				if (contact) this.notifyContact("rotation_required", publicContact(contact));
			}
		}
		return ok(after.find((d) => d.deviceId === deviceId) as DeviceInfo);
	}

	/**
	 * Store a new contact key version, wrapped for every approved device of both accounts.
	 * Both sides may try at once after a revocation; so that exactly one key becomes that
	 * version, the object of the lower account id commits every rotation of the pair and the
	 * other side only follows it.
	 */
	async rotateContactKey(
		accountId: string,
		deviceId: string,
		peerId: string,
		keyVersion: number,
		uploads: EnvelopeUpload[],
	): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const current = getContact(this.sql, peerId);
		if (current?.state !== "accepted" || current.keyVersion === undefined) return refuse("not_found", "No such contact.");
		if (keyVersion !== current.keyVersion + 1) return rotationConflict(current.keyVersion + 1);
		const peerDevices = await this.stub(peerId).approvedDevicesOf(peerId);
		const stored = this.checkEnvelopes(accountId, deviceId, peerId, peerDevices, keyVersion, uploads);
		if (!stored.ok) return stored;
		const half = (account: string) => stored.value.filter((e) => e.accountId === account).map((e) => e.envelope);
		if (accountId < peerId) {
			const committed = this.commitRotation(peerId, keyVersion, half(accountId));
			if (!committed.ok) return committed;
			await this.stub(peerId).theirRotation(peerId, accountId, keyVersion, half(peerId));
			return committed;
		}
		const owner = await this.stub(peerId).ownerRotation(peerId, accountId, keyVersion, half(peerId));
		if (!owner.ok) return owner;
		await this.theirRotation(accountId, peerId, keyVersion, half(accountId));
		return ok(publicContact(getContact(this.sql, peerId) as StoredContact));
	}

	/** Synchronous from the version check to the write, so two rotations cannot both pass. */
	private commitRotation(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): RelayResult<Contact> {
		const current = getContact(this.sql, peerId);
		if (current?.state !== "accepted" || current.keyVersion === undefined) return refuse("not_found", "No such contact.");
		if (keyVersion !== current.keyVersion + 1) return rotationConflict(current.keyVersion + 1);
		saveEnvelopes(this.sql, peerId, envelopes);
		completeRotation(this.sql, peerId, keyVersion, this.now());
		const contact = publicContact(getContact(this.sql, peerId) as StoredContact);
		this.notifyContact("rotated", contact);
		return ok(contact);
	}

	/** The peer (higher account id) asks this object, the pair's owner, to commit its rotation. */
	async ownerRotation(accountId: string, peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<RelayResult<Contact>> {
		await this.ensureAccount(accountId);
		return this.commitRotation(peerId, keyVersion, envelopes);
	}

	/**
	 * Envelopes must name exactly the approved devices of both accounts, one each. Returns
	 * them in stored form, from the uploading device.
	 */
	private checkEnvelopes(
		accountId: string,
		deviceId: string,
		peerId: string,
		peerDevices: DeviceInfo[],
		keyVersion: number,
		uploads: EnvelopeUpload[],
	): RelayResult<Array<{ accountId: string; envelope: StoredEnvelope }>> {
		const mine = cachedDevices(this.sql).filter((d) => d.status === "approved");
		const expected = new Set([...mine.map((d) => `${accountId}/${d.deviceId}`), ...peerDevices.map((d) => `${peerId}/${d.deviceId}`)]);
		const given = new Set(uploads.map((e) => `${e.accountId}/${e.deviceId}`));
		if (given.size !== uploads.length || given.size !== expected.size || [...expected].some((k) => !given.has(k))) {
			return refuse("conflict", "Send exactly one key envelope for every approved device of both accounts; the device list changed.");
		}
		const fromPublicKey = mine.find((d) => d.deviceId === deviceId)?.publicKey as string;
		return ok(
			uploads.map((e) => ({
				accountId: e.accountId,
				envelope: {
					keyVersion,
					fromAccount: accountId,
					fromDevice: deviceId,
					fromPublicKey,
					deviceId: e.deviceId,
					nonce: e.nonce,
					box: e.box,
				},
			})),
		);
	}

	/** A contact revoked one of its devices: our side must not send under the old key either. */
	async peerRevokedDevice(accountId: string, peerId: string): Promise<void> {
		await this.ensureAccount(accountId);
		requireRotation(this.sql, peerId);
		const contact = getContact(this.sql, peerId);
		if (contact) this.notifyContact("rotation_required", publicContact(contact));
	}

	async peerDevicesChanged(accountId: string, peerId: string): Promise<void> {
		await this.ensureAccount(accountId);
		const contact = getContact(this.sql, peerId);
		if (contact?.state === "accepted") this.notifyContact("devices_changed", publicContact(contact));
	}

	/** The pair's owner committed a rotation: follow it (an older one arriving late changes nothing). */
	async theirRotation(accountId: string, peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void> {
		await this.ensureAccount(accountId);
		const contact = getContact(this.sql, peerId);
		if (contact?.state !== "accepted" || (contact.keyVersion ?? 0) >= keyVersion) return;
		saveEnvelopes(this.sql, peerId, envelopes);
		completeRotation(this.sql, peerId, keyVersion, this.now());
		this.notifyContact("rotated", publicContact(getContact(this.sql, peerId) as StoredContact));
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

	/**
	 * Ask the account with this handle to become a contact. The handle is looked up only
	 * after the caller passed every check, so a refused device cannot probe which handles exist.
	 */
	async requestContact(accountId: string, deviceId: string, handle: string): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const suspended = this.suspensionRefusal();
		if (suspended) return suspended;
		const now = this.now();
		const perHour = readConfig(this.env).contactRequestsPerHour;
		const recent = recentTimes(this.sql, "contact_request", now - 3_600_000, perHour);
		if (recent.length >= perHour) {
			const retryAfter = (recent[perHour - 1] as number) + 3_600_000 - now;
			return refuse("rate_limited", `You can send ${perHour} contact requests an hour. Try again later.`, retryAfter);
		}
		const found = await findAccountByHandle(this.env.DB, handle);
		if (!found) return refuse("not_found", `Nobody is called ${handle}.`);
		const peer: PeerRef = { id: found.id, handle: found.handle };
		const me: PeerRef = { id: accountId, handle: this.cachedAccount().handle };
		if (peer.id === accountId) return refuse("bad_request", "You cannot add yourself as a contact.");
		const result = this.apply(peer, "request");
		if (result === "ignored" || !result.ok) return result === "ignored" ? refuse("conflict", "Nothing to do.") : result;
		logActivity(this.sql, "contact_request", now, peer.id);
		const requested = bumpCounter(this.sql, "requests_sent");
		await this.stub(peer.id).theirRequest(peer.id, me);
		this.notifyContact("requested", result.value);
		const flagRules = readConfig(this.env).flags;
		if (isContactBurst(distinctRefsSince(this.sql, "contact_request", now - flagRules.burstWindowMs), flagRules)) {
			await this.raiseFlag(accountId, "contact_burst", "contact requests to many distinct accounts within an hour");
		}
		if (isLowAcceptRatio(requested, readCounter(this.sql, "requests_accepted"), flagRules)) {
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
		const stored = this.checkEnvelopes(accountId, deviceId, peerId, peerDevices, keyVersion, uploads);
		if (!stored.ok) return stored;
		const half = (account: string) => stored.value.filter((e) => e.accountId === account).map((e) => e.envelope);
		// The peer stores its half first: if that fails, nothing changed here either.
		await this.stub(peerId).theirAccept(peerId, me, keyVersion, half(peerId));
		saveEnvelopes(this.sql, peerId, half(accountId));
		const accepted = publicContact(saveContactState(this.sql, { id: peerId, handle: current.handle }, "accepted", this.now(), keyVersion));
		this.notifyContact("accepted", accepted);
		return ok(accepted);
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

	private notifyContact(event: ContactNotice, contact: Contact): void {
		this.broadcast({ type: "contact", event, contact } satisfies ServerFrame);
	}

	// ------------------------------------------------------------------ sockets

	async fetch(request: Request): Promise<Response> {
		const accountId = request.headers.get("x-sm-account");
		const deviceId = request.headers.get("x-sm-device");
		if (!accountId || !deviceId || request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
			return new Response("expected an authenticated WebSocket upgrade", { status: 400 });
		}
		// A pending device may connect, to hear that it was approved; it can do nothing else.
		const refusal = await this.authorize(accountId, deviceId, { allowPending: true });
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
		if (deviceStatus(this.sql, deviceId) === "approved") this.startApprovedSocket(server, accountId);
		return new Response(null, { status: 101, webSocket: client });
	}

	/** What an approved device hears first: the account, devices waiting for approval, what it missed, its backlog. */
	private startApprovedSocket(ws: WebSocket, accountId: string): void {
		const state = readSocketState(ws);
		if (!state) return;
		this.send(ws, { type: "account", account: this.status(accountId) });
		for (const d of cachedDevices(this.sql)) if (d.status === "pending") this.send(ws, { type: "device", event: "pending", device: d });
		const missed = Number(readMeta(this.sql, `missed:${state.deviceId}`) ?? 0);
		if (missed > 0) {
			this.send(ws, { type: "missed", count: missed });
			deleteMeta(this.sql, `missed:${state.deviceId}`);
		}
		this.pump(ws, state);
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

	/**
	 * To the account's approved devices only: a pending device may hold a socket, and anyone who
	 * knows a handle can make one, so it must not hear the account's traffic.
	 */
	private broadcast(frame: ServerFrame): void {
		const text = JSON.stringify(frame);
		for (const ws of this.approvedSockets()) this.sendText(ws, text);
	}

	/** Open sockets of the account's approved devices (but `except`). */
	private approvedSockets(except?: string): WebSocket[] {
		return approvedDeviceIds(this.sql)
			.filter((d) => d !== except)
			.flatMap((d) => this.ctx.getWebSockets(d));
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
		if (frame.type !== "ping") {
			const refusal = this.deviceRefusal(state.deviceId);
			if (refusal && !refusal.ok) return this.send(ws, errorFrame(refusal.code, refusal.message, "id" in frame ? frame.id : undefined));
		}
		switch (frame.type) {
			case "ping":
				return this.send(ws, { type: "pong" });
			case "ack": {
				const bySender = ackMessages(this.sql, state.deviceId, frame.ids);
				if (!state.synced && inFlight(this.sql, state.deviceId, state.sentUpTo) <= DRAIN_PAGE / 2) this.pump(ws, state);
				for (const [sender, ids] of bySender) {
					if (sender === state.accountId) continue;
					// Receipts are best effort and must not hold up the ack.
					this.ctx.waitUntil(
						this.stub(sender)
							.receipt(sender, state.accountId, state.deviceId, ids)
							.catch(() => undefined),
					);
				}
				return;
			}
			case "typing":
				return this.relayTyping(ws, state, frame.to);
			case "call":
				return this.relayCall(ws, state, frame);
			case "send": {
				// One send at a time per account: a conversation keeps the order it was typed in,
				// and a re-sent id is seen only after the first attempt has finished.
				const attempt = () =>
					this.sendMessage(state, frame).catch((err) => {
						console.error(JSON.stringify({ event: "send_failed", name: err instanceof Error ? err.name : typeof err }));
						return refuse<SentReceipt>("internal", "The message could not be sent. It was not charged; try again.");
					});
				const turn = this.sendChain.then(attempt, attempt);
				this.sendChain = turn;
				const result = await turn;
				if (!result.ok) return this.send(ws, errorFrame(result.code, result.message, frame.id, result.retryAfter));
				return this.send(ws, { type: "sent", id: frame.id, ...result.value });
			}
		}
	}

	/** A recipient device stored these messages: tell this account's devices. */
	async receipt(accountId: string, to: string, deviceId: string, ids: string[]): Promise<void> {
		await this.ensureAccount(accountId);
		this.broadcast({ type: "delivered", ids, to, deviceId });
	}

	/** At most one typing notice per socket and second; dropped silently when not allowed. */
	private async relayTyping(ws: WebSocket, state: SocketState, to: string): Promise<void> {
		const now = this.now();
		if (now - (state.typingAt ?? 0) < 1000 || this.suspensionRefusal()) return;
		const contact = getContact(this.sql, to);
		if (contact?.state !== "accepted" || contact.peerBlocked) return;
		state.typingAt = now;
		ws.serializeAttachment(state);
		await this.stub(to).typing(to, state.accountId, state.deviceId);
	}

	async typing(accountId: string, from: string, fromDevice: string): Promise<void> {
		await this.ensureAccount(accountId);
		const contact = getContact(this.sql, from);
		if (contact?.state !== "accepted") return;
		this.broadcast({ type: "typing", from, fromDevice });
	}

	// ------------------------------------------------------------------ calls (DESIGN §8; rules in relay/call-*)

	private calls(accountId: string): CallRelay {
		return new CallRelay({
			sql: this.sql,
			accountId,
			now: () => this.now(),
			rules: () => readConfig(this.env).calls,
			sockets: (except) => this.approvedSockets(except),
			socketsOf: (deviceId) =>
				deviceId !== null && deviceStatus(this.sql, deviceId) === "approved" ? this.ctx.getWebSockets(deviceId) : [],
			push: (sockets, frame) => {
				const text = JSON.stringify(frame);
				for (const ws of sockets) this.sendText(ws, text);
			},
			suspension: () => this.suspensionRefusal(),
			toPeer: (peerId, signal) => this.stub(peerId).peerCall(peerId, signal),
			armAlarm: (at) => this.armAlarm(at),
		});
	}

	private async relayCall(ws: WebSocket, state: SocketState, frame: CallFrame): Promise<void> {
		const attempt = () =>
			this.calls(state.accountId)
				.fromDevice(state.deviceId, frame)
				.catch((err) => {
					console.error(JSON.stringify({ event: "call_signal_failed", name: err instanceof Error ? err.name : typeof err }));
					return refuse<true>("internal", "The call signal could not be relayed. Try again.");
				});
		const turn = this.callChain.then(attempt, attempt);
		this.callChain = turn;
		const result = await turn;
		if (!result.ok) this.send(ws, errorFrame(result.code, result.message, frame.id, result.retryAfter));
	}

	/** A call signal from a contact's object, for this account's devices. */
	async peerCall(accountId: string, signal: RelayedSignal): Promise<RelayResult<true>> {
		await this.ensureAccount(accountId);
		return this.calls(accountId).fromPeer(signal);
	}

	/** Whether this account takes calls from a contact (off until allowed); its other devices are told. */
	async setCallPermission(accountId: string, deviceId: string, peerId: string, allow: boolean): Promise<RelayResult<Contact>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		if (!setCallsAllowed(this.sql, peerId, allow, this.now()))
			return refuse("not_found", "Calls can only be allowed from accepted contacts.");
		const contact = publicContact(getContact(this.sql, peerId) as StoredContact);
		this.notifyContact("calls_changed", contact);
		return ok(contact);
	}

	/** TURN credentials go to approved devices of accounts that may place calls. */
	async mayCall(accountId: string, deviceId: string): Promise<RelayResult<true>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		return this.suspensionRefusal() ?? ok(true);
	}

	async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
		try {
			ws.close(code === 1005 ? 1000 : code, reason);
		} catch {
			// Already closed from our side.
		}
		await this.markLastSeen(ws);
	}

	async webSocketError(ws: WebSocket): Promise<void> {
		try {
			ws.close(1011, "socket error");
		} catch {
			// Already closed.
		}
		await this.markLastSeen(ws);
	}

	/**
	 * The device list's "last seen" is written on connect and again when the device goes away,
	 * so a device that stayed connected for hours is not shown as seen when it arrived. One D1
	 * write per disconnect; a failure only leaves the connect time standing.
	 */
	private async markLastSeen(ws: WebSocket): Promise<void> {
		const state = readSocketState(ws);
		if (!state || deviceStatus(this.sql, state.deviceId) === "revoked") return;
		await touchDevice(this.env.DB, state.deviceId, this.now()).catch((err) => {
			console.error(JSON.stringify({ event: "last_seen_failed", name: err instanceof Error ? err.name : typeof err }));
		});
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
		if (contact.rotateTo !== null) {
			return refuse("stale_key", "A device was removed: replace this contact's key before sending (POST /api/contacts/:id/rotate).");
		}
		if (frame.keyVersion !== contact.keyVersion) {
			return refuse("stale_key", `Seal with contact key version ${contact.keyVersion}; fetch the keys again.`);
		}
		// A re-sent id (the sender lost our `sent`) is answered again, free: it was delivered.
		const earlier = sentMessage(this.sql, frame.id);
		if (earlier !== undefined) return ok(this.sentReceipt(earlier.at));
		const account = this.cachedAccount();
		const plan = this.planSend(frame, account);
		if (!plan.ok) return plan;
		const { price, countsAsSend, upload } = plan.value;
		// The one await before the checks below: afterwards everything up to the hold runs
		// without yielding, so two devices sending at once cannot both pass on the same credit.
		if (this.credits.available() < price) await this.credits.refresh(accountId, this.now());

		const now = this.now();
		const rules = this.limitRules(account);
		const counts = this.sendCounts(now, rules);
		if (countsAsSend) {
			const verdict = this.sendVerdict(counts, now, rules);
			if (!verdict.ok) {
				await this.noteRefusedSend(accountId, now);
				const what = verdict.code === "rate_limited" ? "You are sending too fast." : "You reached today's message quota.";
				return refuse(verdict.code, `${what} Try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s.`, verdict.retryAfterMs);
			}
		}
		if (this.credits.available() < price) {
			return refuse("insufficient_credits", `This costs ${price} credits; you have ${this.credits.available()}.`);
		}
		const syncTargets = approvedDeviceIds(this.sql).filter((d) => d !== deviceId);
		const caps = { maxMessages: config.queueMaxMessages, maxBytes: config.queueMaxBytes };
		if (syncTargets.some((d) => !fitsQueue(queueStats(this.sql, d), bytes, caps))) {
			return refuse("recipient_queue_full", "One of your own devices has too many undelivered messages.");
		}

		// Nothing is written before the delivery: the price is set aside in memory (an attachment
		// was paid for when its upload was reserved), and the send is charged, logged for the
		// limiter and recorded once the recipient's object has it. Sends are serialized per
		// account, so the next one sees this one's log entry.
		const release = this.credits.reserve(price);
		const item: QueueItem = {
			msgId: frame.id,
			from: accountId,
			kind: frame.kind,
			bytes,
			...(frame.replaces !== undefined && { replaces: frame.replaces }),
			...(frame.attachmentId !== undefined && { attachmentId: frame.attachmentId }),
			text: JSON.stringify({
				type: "message",
				id: frame.id,
				from: accountId,
				fromDevice: deviceId,
				to: frame.to,
				kind: frame.kind,
				keyVersion: frame.keyVersion,
				nonce: frame.nonce,
				box: frame.box,
				...(frame.attachmentId !== undefined && { attachmentId: frame.attachmentId }),
				...(frame.replaces !== undefined && { replaces: frame.replaces }),
				sentAt: now,
			} satisfies ServerFrame),
		};

		let delivered: RelayResult<true>;
		if (upload) this.uploadsInFlight.add(upload.id);
		try {
			delivered = await this.stub(frame.to).deliver(frame.to, item);
		} catch (err) {
			delivered = refuse("internal", "The message could not be delivered. It was not charged; try again.");
			console.error(JSON.stringify({ event: "deliver_failed", name: err instanceof Error ? err.name : typeof err }));
		} finally {
			if (upload) this.uploadsInFlight.delete(upload.id);
		}
		release();
		if (!delivered.ok) return delivered;
		if (upload) settleCharge(this.sql, upload.holdId);
		else recordCharge(this.sql, { amount: price, reason: frame.kind, ref: frame.id, at: now });
		if (countsAsSend) logActivity(this.sql, "send", now);
		recordSent(this.sql, { id: frame.id, to: frame.to, kind: frame.kind, at: now });
		if (upload) setUploadStatus(this.sql, upload.id, "sent", frame.id);
		if (frame.kind === "delete" && frame.replaces !== undefined) await this.forgetSent(accountId, frame.replaces);
		// Sent-sync: the sender's other devices get their own copy; past the pre-check above
		// these writes are not refused, so a message the recipient has is never missing here.
		await this.applyToQueues(syncTargets, item, null);
		// Just charged, so something waits; the oldest was charged earlier and armed its own alarm.
		const journal = { charges: journalSize(this.sql).charges, oldestAt: now, lastSendAt: now };
		await this.armAlarm(flushDueAt(journal, now, config.creditFlush) ?? now + config.creditFlush.maxAgeMs, "flush");
		if (countsAsSend) {
			bumpCounter(this.sql, "messages_sent");
			await this.afterSend(accountId, now);
		}
		return ok(this.sentReceipt(now, counts.inDay + (countsAsSend ? 1 : 0)));
	}

	/** `inDay`: the sends in the rolling day, if the caller has just counted them. */
	private sentReceipt(at: number, inDay?: number): SentReceipt {
		const rules = this.limitRules(this.cachedAccount());
		const sends = inDay ?? this.sendCounts(this.now(), rules).inDay;
		return { at, credits: this.credits.available(), quotaLeft: quotaLeft(sends, rules.quota) };
	}

	/**
	 * What a send costs and whether it counts against the limits (DESIGN §6): text 4, an
	 * attachment its size tier (held at reservation), an edit 2 and counted, a delete 1 and
	 * not counted. Edits and deletes name a message this account sent to the same contact.
	 */
	private planSend(frame: SendFrame, account: CachedAccount): RelayResult<{ price: number; countsAsSend: boolean; upload?: Upload }> {
		const { prices } = readConfig(this.env);
		const needsReplaces = frame.kind === "edit" || frame.kind === "delete";
		if (needsReplaces !== (frame.replaces !== undefined))
			return refuse("bad_request", "`replaces` goes with edit and delete, and only with them.");
		if ((frame.kind === "attachment") !== (frame.attachmentId !== undefined)) {
			return refuse("bad_request", "`attachmentId` goes with an attachment message, and only with it.");
		}
		switch (frame.kind) {
			case "text":
				return ok({ price: prices.text, countsAsSend: true });
			case "attachment": {
				const upload = getUpload(this.sql, frame.attachmentId as string);
				if (!upload || upload.to !== frame.to) return refuse("not_found", "No such attachment upload for this contact.");
				// Lapsed but not yet swept: the alarm is about to release it and delete the blob.
				if (upload.expiresAt <= this.now()) return refuse("not_found", "This attachment's reservation lapsed; send the file again.");
				if (upload.status === "reserved") return refuse("bad_request", "Upload the attachment before sending its message.");
				if (upload.status === "sent") return refuse("conflict", "This attachment was already sent.");
				return ok({ price: 0, countsAsSend: true, upload });
			}
			case "edit":
			case "delete": {
				const original = sentMessage(this.sql, frame.replaces as string);
				if (!original || original.to !== frame.to || original.kind === "deleted" || original.kind === "delete") {
					return refuse("not_found", "You can only change messages you sent to this contact.");
				}
				if (frame.kind === "edit" && original.kind !== "text" && original.kind !== "edit") {
					return refuse("bad_request", "Only text messages can be edited.");
				}
				return frame.kind === "edit" ? ok({ price: prices.edit, countsAsSend: true }) : ok({ price: prices.delete, countsAsSend: false });
			}
		}
		return refuse("bad_request", `Unknown message kind; this account's trust (${account.trust}) has no price for it.`);
	}

	// ------------------------------------------------------------------ attachments

	/**
	 * Reserve an upload to a contact: size tier and price checked before a byte is sent
	 * (DESIGN §6), and the price held against the balance. The hold is settled when the
	 * message carrying the attachment is delivered, and dropped (a refund) if that never
	 * happens within the reservation's lifetime.
	 */
	async reserveUpload(accountId: string, deviceId: string, to: string, size: number): Promise<RelayResult<ReserveAttachmentResponse>> {
		const refusal = (await this.authorize(accountId, deviceId)) ?? this.suspensionRefusal();
		if (refusal) return refusal;
		const contact = getContact(this.sql, to);
		if (!contact || contact.state !== "accepted" || contact.peerBlocked)
			return refuse("not_a_contact", "You can only send files to accepted contacts.");
		const config = readConfig(this.env);
		const price = priceOf({ kind: "attachment", bytes: size }, this.cachedAccount().trust, config.prices, config.attachmentTiers);
		if (!price.ok) return refuse(price.code, price.message);
		if (this.credits.available() < price.price) await this.credits.refresh(accountId, this.now());
		if (this.credits.available() < price.price) {
			return refuse("insufficient_credits", `This file costs ${price.price} credits; you have ${this.credits.available()}.`);
		}
		const now = this.now();
		const attachmentId = toB64u(randomBytes(16));
		const expiresAt = now + config.uploadTtlMs;
		const holdId = holdCharge(this.sql, { amount: price.price, reason: "attachment", ref: attachmentId, at: now });
		saveUpload(this.sql, { id: attachmentId, to, size, sealedSize: sealedFileSize(size), holdId, expiresAt });
		await this.armAlarm(expiresAt);
		return ok({ attachmentId, owner: accountId, sealedSize: sealedFileSize(size), price: price.price, expiresAt });
	}

	/** May this device upload the blob now? Returns the exact byte count it must have. */
	async beginUpload(accountId: string, deviceId: string, attachmentId: string): Promise<RelayResult<number>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const upload = getUpload(this.sql, attachmentId);
		if (!upload || upload.expiresAt <= this.now()) return refuse("not_found", "No such attachment reservation.");
		if (upload.status !== "reserved") return refuse("conflict", "This attachment was already uploaded.");
		return ok(upload.sealedSize);
	}

	/**
	 * The blob is in R2. A put can outlast its reservation: if the alarm lapsed it meanwhile (or
	 * it was cancelled), the blob has no row to be found by and is deleted here, not orphaned.
	 */
	async finishUpload(accountId: string, attachmentId: string): Promise<RelayResult<true>> {
		await this.ensureAccount(accountId);
		const upload = getUpload(this.sql, attachmentId);
		// Only a reservation still waiting for this put: once uploaded (by an earlier put), sent or
		// on its way, the blob under this key is that attachment's, and the alarm lapses the rest.
		if (!upload || (upload.status === "reserved" && upload.expiresAt <= this.now())) {
			await this.removeBlob(blobKey(accountId, attachmentId));
			return refuse("not_found", "The reservation lapsed or was cancelled before the upload finished; nothing was kept.");
		}
		if (upload.status === "reserved") setUploadStatus(this.sql, attachmentId, "uploaded");
		return ok(true);
	}

	/**
	 * Give up a reservation not yet sent: its held price is released at once and any uploaded
	 * blob deleted. A sent attachment goes only with a delete of its message.
	 */
	async cancelUpload(accountId: string, deviceId: string, attachmentId: string): Promise<RelayResult<true>> {
		const refusal = await this.authorize(accountId, deviceId);
		if (refusal) return refusal;
		const upload = getUpload(this.sql, attachmentId);
		if (!upload) return refuse("not_found", "No such attachment reservation.");
		if (upload.status === "sent") return refuse("conflict", "This attachment was sent: delete its message instead.");
		if (this.uploadsInFlight.has(upload.id)) return refuse("conflict", "This attachment's message is being sent right now.");
		dropCharge(this.sql, upload.holdId);
		deleteUpload(this.sql, upload.id);
		await this.removeBlob(blobKey(accountId, upload.id));
		return ok(true);
	}

	/**
	 * Who may fetch a blob: the sender's approved devices, and the recipient's approved
	 * devices it was delivered to. Anyone else learns nothing, not even whether it exists.
	 */
	async mayDownload(accountId: string, deviceId: string, owner: string, attachmentId: string): Promise<RelayResult<true>> {
		const refusal = await this.authorize(accountId, deviceId);
		const missing = refuse<true>("not_found", "No such attachment.");
		if (refusal && !refusal.ok) return refusal.code === "unauthorized" ? missing : refusal;
		if (owner === accountId) {
			const upload = getUpload(this.sql, attachmentId);
			return upload && upload.status !== "reserved" ? ok(true) : missing;
		}
		return grantFor(this.sql, owner, attachmentId) ? ok(true) : missing;
	}

	/** A recipient device has the blob; once every device that was sent it has, it goes. */
	async downloaded(accountId: string, deviceId: string, owner: string, attachmentId: string): Promise<void> {
		await this.ensureAccount(accountId);
		if (owner === accountId || !grantFor(this.sql, owner, attachmentId)) return;
		if (markFetched(this.sql, attachmentId, deviceId)) await this.deleteBlob(owner, attachmentId);
	}

	/** A message of ours was deleted: it can no longer be edited, and its attachment goes. */
	private async forgetSent(accountId: string, msgId: string): Promise<void> {
		markSentDeleted(this.sql, msgId);
		const upload = uploadByMessage(this.sql, msgId);
		if (!upload) return;
		await this.removeBlob(blobKey(accountId, upload.id));
		deleteUpload(this.sql, upload.id);
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
		const flagRules = readConfig(this.env).flags;
		if (isMachineRegular(newestSendTimes(this.sql, regularTimesNeeded(flagRules)).reverse(), flagRules)) {
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
	async deliver(accountId: string, item: QueueItem): Promise<RelayResult<true>> {
		await this.ensureAccount(accountId);
		const contact = getContact(this.sql, item.from);
		if (!contact || contact.state !== "accepted") return refuse("not_a_contact", "You can only message accepted contacts.");
		const config = readConfig(this.env);
		const devices = approvedDeviceIds(this.sql);
		const result = await this.applyToQueues(devices, item, { maxMessages: config.queueMaxMessages, maxBytes: config.queueMaxBytes });
		if (result === "full") return refuse("recipient_queue_full", "The recipient has too many undelivered messages. Try later.");
		if (item.attachmentId !== undefined) {
			const expiresAt = this.now() + config.queueTtlMs;
			grantAttachment(this.sql, { attachmentId: item.attachmentId, owner: item.from, msgId: item.msgId, expiresAt, deviceIds: devices });
			await this.armAlarm(expiresAt);
		}
		if (item.kind === "delete" && item.replaces !== undefined) {
			for (const g of grantsForMessage(this.sql, item.replaces)) await this.deleteBlob(g.owner, g.attachmentId);
		}
		return ok(true);
	}

	/**
	 * Queue one message for these devices, all or nothing under the caps. An edit takes the
	 * place of its original where that is still queued (the queue holds only the latest
	 * version); a delete removes its original from every queue, so it is never delivered, and
	 * is itself queued so that devices that already have the original remove it.
	 */
	private async applyToQueues(deviceIds: string[], item: QueueItem, caps: QueueCaps | null): Promise<"ok" | "full"> {
		if (caps && deviceIds.some((d) => !fitsQueue(queueStats(this.sql, d), item.bytes, caps))) return "full";
		const expiresAt = this.now() + readConfig(this.env).queueTtlMs;
		let targets = deviceIds;
		if (item.replaces !== undefined && item.kind === "edit") {
			targets = [];
			for (const deviceId of deviceIds) {
				const entry = { deviceId, msgId: item.msgId, fromAccount: item.from, frame: item.text, bytes: item.bytes, expiresAt };
				const seq = replaceQueued(this.sql, deviceId, item.replaces, entry);
				if (seq === null) targets.push(deviceId);
				else this.pushIfAlreadySent(deviceId, seq, item.text);
			}
		}
		if (item.replaces !== undefined && item.kind === "delete") {
			for (const deviceId of deviceIds) removeQueued(this.sql, deviceId, item.replaces);
		}
		return this.enqueueAndPush(targets, item, expiresAt);
	}

	/** A replaced entry that a socket already got (unacked) goes out again as its new version. */
	private pushIfAlreadySent(deviceId: string, seq: number, text: string): void {
		for (const ws of this.ctx.getWebSockets(deviceId)) {
			if ((readSocketState(ws)?.sentUpTo ?? 0) >= seq) this.sendText(ws, text);
		}
	}

	private async deleteBlob(owner: string, attachmentId: string): Promise<void> {
		await this.removeBlob(blobKey(owner, attachmentId));
		dropGrant(this.sql, attachmentId);
	}

	/**
	 * Delete a blob from R2. An R2 outage must not fail what asked for it (a delete message,
	 * a download, the alarm's expiry): the key is kept and the alarm deletes it once R2
	 * answers again, so no blob is orphaned.
	 */
	private async removeBlob(key: string): Promise<void> {
		if (await this.tryR2Delete(key)) return;
		deferBlobDeletion(this.sql, key, this.now());
		await this.armAlarm(this.now() + R2_RETRY_MS);
	}

	private async tryR2Delete(key: string): Promise<boolean> {
		try {
			await this.env.ATTACHMENTS.delete(key);
			return true;
		} catch (err) {
			console.error(JSON.stringify({ event: "r2_delete_failed", name: err instanceof Error ? err.name : typeof err }));
			return false;
		}
	}

	private async enqueueAndPush(deviceIds: string[], item: QueueItem, expiresAt: number): Promise<"ok" | "full"> {
		const seqs = enqueueAll(
			this.sql,
			deviceIds.map((deviceId) => ({
				deviceId,
				msgId: item.msgId,
				fromAccount: item.from,
				frame: item.text,
				bytes: item.bytes,
				expiresAt,
				...(item.replaces !== undefined && { replaces: item.replaces }),
			})),
			null,
		);
		if (seqs === "full") return "full";
		for (const [deviceId, seq] of seqs) {
			for (const ws of this.ctx.getWebSockets(deviceId)) {
				const state = readSocketState(ws);
				// A socket still draining its backlog picks this up in order from the queue.
				if (!state?.synced) continue;
				this.sendText(ws, item.text);
				state.sentUpTo = seq;
				ws.serializeAttachment(state);
			}
		}
		if (seqs.size > 0) await this.armAlarm(expiresAt);
		return "ok";
	}

	// ------------------------------------------------------------------ expiry

	/** Keep one alarm armed for the earliest expiry of anything stored. */
	/**
	 * `sweep`: something stored expires at `at`; `flush`: only the credit journal is due then.
	 * One alarm serves both (a Durable Object has one).
	 */
	private async armAlarm(at: number, purpose: "sweep" | "flush" = "sweep"): Promise<void> {
		if (purpose === "sweep" && this.nextSweepAt !== null) this.nextSweepAt = Math.min(this.nextSweepAt, at);
		const armed = readMeta(this.sql, "alarm_at");
		if (armed !== undefined && Number(armed) <= at) return;
		writeMeta(this.sql, "alarm_at", String(at));
		await this.ctx.storage.setAlarm(at);
	}

	async alarm(): Promise<void> {
		const now = this.now();
		const accountId = readMeta(this.sql, "account_id");
		// Cleared first: whatever happens below, the next armAlarm() sets a fresh alarm.
		deleteMeta(this.sql, "alarm_at");
		const policy = readConfig(this.env).creditFlush;
		let nextFlushAt: number | null = null;
		const flushOnly = this.nextSweepAt !== null && this.nextSweepAt > now;
		if (accountId !== undefined && hasUnflushed(this.sql)) {
			nextFlushAt = flushDeferredUntil(this.journalState(), now, policy);
			if (nextFlushAt === null) {
				try {
					await this.credits.flush(accountId, now);
					// Charges settled while the flush was under way wait for their own turn.
					nextFlushAt = flushDueAt(this.journalState(), now, policy);
				} catch (err) {
					// D1 is down: the journal stays intact and is tried again soon; expiry below must
					// not wait for D1.
					console.error(JSON.stringify({ event: "credit_flush_failed", name: err instanceof Error ? err.name : typeof err }));
					nextFlushAt = now + FLUSH_RETRY_MS;
				}
			}
		}
		if (flushOnly) {
			// Only the journal brought this alarm (a busy sender's deferred flush, each second):
			// nothing stored is due, so the sweep below is skipped.
			const next = Math.min(this.nextSweepAt as number, nextFlushAt ?? Number.POSITIVE_INFINITY);
			await this.armAlarm(next, "flush");
			return;
		}
		pruneActivity(this.sql, now - DAY_MS);
		pruneSent(this.sql, now - readConfig(this.env).queueTtlMs);
		for (const upload of lapsedUploads(this.sql, now)) {
			// Its message is on its way (it was sent just before the reservation lapsed): the send
			// settles it, or a later sweep releases it.
			if (this.uploadsInFlight.has(upload.id)) continue;
			// Never sent: the price held at reservation is released and the blob removed.
			dropCharge(this.sql, upload.holdId);
			if (accountId !== undefined) await this.removeBlob(blobKey(accountId, upload.id));
			deleteUpload(this.sql, upload.id);
		}
		for (const g of expiredGrants(this.sql, now)) await this.deleteBlob(g.owner, g.attachmentId);
		for (const key of deferredBlobDeletions(this.sql)) {
			if (!(await this.tryR2Delete(key))) break;
			blobDeleted(this.sql, key);
		}
		if (accountId !== undefined) this.calls(accountId).expire(now);
		for (const [deviceId, lost] of expireQueue(this.sql, now)) {
			writeMeta(this.sql, `missed:${deviceId}`, String(Number(readMeta(this.sql, `missed:${deviceId}`) ?? 0) + lost));
		}
		this.sql.exec("DELETE FROM used_challenges WHERE expires_at <= ?", now);
		const nextChallenge = this.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM used_challenges").one().at;
		// Read after the awaits above, like every candidate: a delete that failed while this sweep
		// waited on R2 or D1 is in the table too, and the sweep that retries it must not be skipped.
		const blobRetryAt = deferredBlobDeletions(this.sql).length > 0 ? now + R2_RETRY_MS : null;
		const candidates = [
			earliestExpiry(this.sql),
			nextChallenge,
			// Past only for an upload skipped above while its message is on its way: look again shortly.
			laterThan(earliestUploadExpiry(this.sql), now + IN_FLIGHT_RECHECK_MS),
			earliestGrantExpiry(this.sql),
			earliestCallExpiry(this.sql),
			blobRetryAt,
		].filter((x): x is number => x !== null);
		// Pruning has no deadline of its own: sweep at least hourly while alarms keep coming.
		this.nextSweepAt = Math.min(now + SWEEP_AT_LEAST_MS, ...candidates);
		const next = Math.min(...candidates, nextFlushAt ?? Number.POSITIVE_INFINITY);
		if (Number.isFinite(next)) await this.armAlarm(next, "flush");
	}
}

const rotationConflict = (next: number): RelayResult<never> =>
	refuse("conflict", `The next key version is ${next}; fetch the keys, another device may have rotated already.`);

/** A message on its way into queues: the exact frame text plus what the relay must know about it. */
export interface QueueItem {
	msgId: string;
	from: string;
	kind: MessageKind;
	text: string;
	bytes: number;
	replaces?: string;
	attachmentId?: string;
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
