import type { SignedDeviceList } from "../../common/protocol/device-list.ts";
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
} from "../../common/protocol/wire.ts";
import type { ReporterStanding } from "../abuse/report-weight.ts";
import type { ActivityCounts } from "../db/reviews.ts";
import type { UserRelay } from "../user-relay.ts";
import type { RelayedSignal } from "./calls/call-relay.ts";
import type { CallRequestAnswer } from "./calls/call-requests.ts";
import type { PeerRef, StoredEnvelope } from "./contacts/contact-book.ts";
import type { Delivered } from "./messaging/delivery.ts";
import type { QueueItem } from "./messaging/queue-item.ts";
import type { RelayResult } from "./relay-result.ts";

/**
 * Who may call what on an account's object. A Durable Object answers RPC for every public
 * method of its class, whatever TypeScript's `private` says, so the audiences are kept apart
 * by type: routes hold a stub of only the route methods, a peer's object a stub of only the
 * peer methods, and the object's own sockets reach it through frames, never through RPC.
 * Internals of the object are `#` members and services, which RPC cannot reach at all.
 *
 * The object is addressed by its account id (`idFromName`) and takes it from there; no
 * method is told which account it belongs to.
 */

/** The worker's routes, on behalf of a signed-in device (or of the admin, where no device is named). */
export interface RouteSurface {
	/** The WebSocket upgrade of an authenticated device (GET /api/ws). */
	fetch(request: Request): Promise<Response>;
	accountStatus(deviceId: string): Promise<RelayResult<AccountStatus>>;
	/** Delete the account for good (its handle typed again): contacts, blobs, D1 rows, this object's storage. */
	deleteAccount(deviceId: string, handle: string): Promise<RelayResult<true>>;
	flushCredits(deviceId?: string): Promise<RelayResult<true>>;
	/** After D1's account row changed outside this object (admin, reports). */
	reloadAccount(): Promise<AccountStatus>;
	/** A Stripe refund of a purchase of this account now covers `covered` credits (routes/credits.ts): the credits taken back, or null. */
	refundPurchase(paymentId: string, covered: number): Promise<number | null>;
	/** After D1's device rows changed outside this object. */
	reloadDevices(): Promise<DeviceInfo[]>;
	/** A report this account's device files: refused, or what the object knows for weighing it. */
	noteReport(deviceId: string, peerId: string): Promise<RelayResult<ReporterStanding>>;
	/** The account's sending counts, for a review of reports against it. */
	activityCounts(): Promise<ActivityCounts>;
	redeemChallenge(nonce: string, expiresAt: number): Promise<boolean>;

	/** A new device claiming a link code: nobody is signed in, the link is what is checked. */
	claimLink(c: LinkClaimant): Promise<RelayResult<true>>;
	devices(deviceId: string): Promise<RelayResult<DeviceList>>;
	publishDeviceList(deviceId: string, body: PublishDeviceListRequest): Promise<RelayResult<SignedDeviceList>>;
	openLink(deviceId: string, linkId: string): Promise<RelayResult<OpenLinkResponse>>;
	cancelLink(deviceId: string, linkId: string): Promise<RelayResult<true>>;
	identityEnvelope(deviceId: string): Promise<RelayResult<IdentityEnvelope>>;
	approveDevice(approverId: string, deviceId: string, body: ApproveDeviceRequest): Promise<RelayResult<DeviceInfo>>;
	removeDevice(actorId: string, deviceId: string, list: SignedDeviceList | undefined): Promise<RelayResult<DeviceInfo>>;
	/** The Web Push subscription of `deviceId` itself (an approved device): set, or replaced. */
	setPushSubscription(deviceId: string, sub: PushSubscriptionRequest): Promise<RelayResult<true>>;
	deletePushSubscription(deviceId: string): Promise<RelayResult<true>>;

	setRecoveryKey(deviceId: string, key: RecoveryKeyRequest): Promise<RelayResult<true>>;
	recoveryKey(deviceId: string): Promise<RelayResult<RecoveryKeyRequest>>;
	putBackup(deviceId: string, backup: SealedBackup): Promise<RelayResult<true>>;
	backup(deviceId: string): Promise<RelayResult<SealedBackup>>;
	/** A new device restoring the account with the recovery key: nobody is signed in, the recovery key is what is checked. */
	recover(r: Recoverer): Promise<RelayResult<SealedBackup>>;
	/** The recovering device `callerId` approves itself (`deviceId`) with the next signed list. */
	completeRecovery(callerId: string, deviceId: string, list: SignedDeviceList): Promise<RelayResult<DeviceInfo>>;

	contacts(deviceId: string): Promise<RelayResult<Contact[]>>;
	requestContact(deviceId: string, handle: string): Promise<RelayResult<Contact>>;
	acceptContact(
		deviceId: string,
		me: PeerRef,
		peerId: string,
		keyVersion: number,
		uploads: EnvelopeUpload[],
	): Promise<RelayResult<Contact>>;
	declineContact(deviceId: string, peerId: string): Promise<RelayResult<Contact>>;
	blockContact(deviceId: string, peer: PeerRef): Promise<RelayResult<Contact>>;
	unblockContact(deviceId: string, peerId: string): Promise<RelayResult<Contact>>;
	contactKeys(deviceId: string, peerId: string): Promise<RelayResult<Envelope[]>>;
	peerDevices(deviceId: string, peerId: string): Promise<RelayResult<DeviceList>>;
	rotateContactKey(deviceId: string, peerId: string, keyVersion: number, uploads: EnvelopeUpload[]): Promise<RelayResult<Contact>>;
	setCallPermission(deviceId: string, peerId: string, allow: boolean): Promise<RelayResult<Contact>>;
	/** "Not now" to the waiting call request of `peerId` (`not_found` if none waits). */
	dismissCallRequest(deviceId: string, peerId: string): Promise<RelayResult<true>>;
	mayCall(deviceId: string): Promise<RelayResult<true>>;

	reserveUpload(deviceId: string, to: string, size: number): Promise<RelayResult<ReserveAttachmentResponse>>;
	beginUpload(deviceId: string, attachmentId: string): Promise<RelayResult<number>>;
	finishUpload(attachmentId: string): Promise<RelayResult<true>>;
	cancelUpload(deviceId: string, attachmentId: string): Promise<RelayResult<true>>;
	mayDownload(deviceId: string, owner: string, attachmentId: string): Promise<RelayResult<true>>;
	downloaded(deviceId: string, owner: string, attachmentId: string): Promise<void>;

	/** History transfers to a newly linked device that `deviceId` sends or receives. */
	historyTransfers(deviceId: string): Promise<RelayResult<{ transfers: HistoryTransfer[] }>>;
	/** The largest sealed archive `deviceId` may upload for the transfer, if it may. */
	beginHistoryUpload(deviceId: string, transferId: string): Promise<RelayResult<number>>;
	/** The archive is in R2 (`size` bytes; null: it landed short and was no archive). */
	finishHistoryUpload(deviceId: string, transferId: string, size: number | null): Promise<RelayResult<true>>;
	mayFetchHistory(deviceId: string, transferId: string): Promise<RelayResult<true>>;
	endHistory(deviceId: string, transferId: string, outcome: EndHistoryRequest["outcome"]): Promise<RelayResult<true>>;
}

/** Another account's object. `peerId` / `from` name that account. */
export interface PeerSurface {
	deliver(item: QueueItem): Promise<RelayResult<Delivered>>;
	/** A sealed receipt from a device of `frame.from` for messages this account sent. */
	receipt(frame: ReceiptFrame): Promise<void>;
	typing(from: string, fromDevice: string): Promise<void>;
	peerCall(signal: RelayedSignal): Promise<RelayResult<true>>;
	/** `fromId` answered the call request this account made by calling it. */
	callRequestAnswered(fromId: string, answer: CallRequestAnswer): Promise<void>;
	/** The approved devices and the signed list that vouches for them. */
	/** This account's devices, for `askedBy` if it may see them (contact-service.ts devicesFor). */
	deviceListOf(askedBy: string): Promise<RelayResult<DeviceList>>;
	peerRevokedDevice(peerId: string): Promise<void>;
	peerDevicesChanged(peerId: string): Promise<void>;
	ownerRotation(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<RelayResult<Contact>>;
	theirRotation(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void>;
	theirRequest(from: PeerRef): Promise<void>;
	theirAccept(from: PeerRef, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void>;
	theirDecline(fromId: string): Promise<void>;
	/** A block from before blocks were silent was lifted (contact-service.ts unblock). */
	theirUnblock(fromId: string): Promise<void>;
	/** The peer deleted its account (account-deletion.ts). */
	theirAccountDeleted(fromId: string): Promise<void>;
}

/** A device that claimed a link code, its key's signature over the claim already checked by the route. */
export interface LinkClaimant {
	linkId: string;
	/** The claim's MAC under the code's key: kept for the approving device, which can check it. */
	proof: string;
	deviceId: string;
	publicKey: string;
	name: string;
}

/**
 * A new device restoring the account, as the route checked it: the challenge's MAC (not yet
 * spent) and the device's own signature over the restore. The recovery key's signature is
 * the object's to check, against the key it holds.
 */
export interface Recoverer {
	challenge: string;
	/** The challenge's nonce and expiry, to spend it once. */
	nonce: string;
	expiresAt: number;
	handle: string;
	recoveryKey: string;
	/** By `recoveryKey` over `recoverMessage(challenge, handle, publicKey, name)`. */
	signature: string;
	deviceId: string;
	publicKey: string;
	name: string;
}

export type RouteStub = Pick<DurableObjectStub<UserRelay>, keyof RouteSurface>;
export type PeerStub = Pick<DurableObjectStub<UserRelay>, keyof PeerSurface>;

/** The account's object as the worker's routes see it. */
export function relayFor(env: Env, accountId: string): RouteStub {
	return env.USERS.get(env.USERS.idFromName(accountId));
}

/** A contact's object as this account's object sees it. */
export function peerRelay(env: Env, accountId: string): PeerStub {
	return env.USERS.get(env.USERS.idFromName(accountId));
}
