/**
 * The wire protocol: every HTTP body and WebSocket frame, as schemas that validate untrusted
 * input and types inferred from them. Imported by the worker, the client SDK and the widget;
 * PROTOCOL.md documents it for third-party clients.
 *
 * Binary values are base64url without padding. Ids are 16 random bytes (22 characters).
 */
import { b64uByteLength } from "../encoding.ts";
import {
	array,
	base64url,
	boolean,
	finite,
	type Infer,
	integer,
	literal,
	nullable,
	object,
	oneOf,
	optional,
	type Schema,
	string,
	taggedUnion,
	ValidationError,
} from "./schema.ts";

export const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
export const id = string({ min: 22, max: 22, pattern: ID_PATTERN });

/** 3–32 of [a-z0-9_] after ASCII case folding; anything else (including look-alike Unicode) is refused. */
export const HANDLE_PATTERN = /^[a-z0-9_]{3,32}$/;
export const normalizeHandle = (raw: string): string => raw.replace(/[A-Z]+/g, (s) => s.toLowerCase());
export const handle: Schema<string> = {
	parse(value, path) {
		const raw = string({ min: 3, max: 32 }).parse(value, path);
		const folded = normalizeHandle(raw);
		if (!HANDLE_PATTERN.test(folded)) throw new ValidationError(path, "must be 3–32 of a-z, 0-9 and _");
		return folded;
	},
};

/**
 * A device name is shown to the account's other devices when they approve or review it, so it
 * must read as what it is: no control characters, and none of the bidirectional formatting
 * characters (marks, embeddings, overrides, isolates) that make a name display differently
 * from its characters' order ("‮enohPi" shows as "iPhone" reversed into place).
 */
const deviceName = string({ min: 1, max: 64, pattern: /^[^\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]+$/u });
const publicKey = base64url({ bytes: 32 });
const signature = base64url({ bytes: 64 });
const nonce = base64url({ bytes: 24 });
const keyVersion = integer({ min: 1, max: 1_000_000 });
const timestamp = integer({ min: 0, max: 8_640_000_000_000_000 });
/** A crypto_box of "sm-identity-key/1\n" + account id + "\n" + identity key + "\n" (85 bytes) and the 32-byte seed, plus its tag. */
export const IDENTITY_BOX_BYTES = 85 + 32 + 16;
/**
 * crypto_box of "sm-history/1\n" + account id + "\n" + new device id + "\n" + transfer id +
 * "\n" (82 bytes) and the transfer's one-time 32-byte key, plus its tag.
 */
export const HISTORY_OFFER_BOX_BYTES = 82 + 32 + 16;
/**
 * crypto_box of "sm-contact-key/2\n" + 2 ids + the key version + both accounts' device-list
 * versions + the key: 98 bytes plus the digits of the three numbers (1–7, 1–10, 1–10), plus
 * the 16-byte tag.
 */
export const ENVELOPE_BOX_MIN = 16 + 98 + 3;
export const ENVELOPE_BOX_MAX = 16 + 98 + 27;
const envelopeBox = base64url({ minBytes: ENVELOPE_BOX_MIN, maxBytes: ENVELOPE_BOX_MAX });

/**
 * Ceilings of the parser. The configured sealed-message limit (64 KiB by default) is checked
 * after parsing so that an oversized message is refused as `too_large`, not `bad_request`.
 */
export const MAX_FRAME_CHARS = 96 * 1024;
export const MAX_SEALED_BYTES = 72 * 1024;

// ---------------------------------------------------------------------------------------
// Errors

export const ERROR_CODES = [
	"bad_request",
	"unauthorized",
	"forbidden",
	"not_found",
	"handle_taken",
	"conflict",
	/** A contact request to someone who is already an accepted contact. */
	"already_contact",
	"not_a_contact",
	"too_large",
	"recipient_queue_full",
	"rate_limited",
	"quota_exceeded",
	"insufficient_credits",
	"suspended",
	"device_pending",
	"device_revoked",
	"too_many_devices",
	"stale_key",
	"peer_unreachable",
	"calls_not_allowed",
	"server_misconfigured",
	/** An optional feature (buying credits) that this deployment did not set up. */
	"not_configured",
	/** A storage service behind the relay (R2) failed; nothing was changed, try again after `retryAfter`. */
	"unavailable",
	"internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const errorBody = object({
	error: object({
		code: oneOf(ERROR_CODES),
		message: string({ max: 500 }),
		retryAfter: optional(integer({ min: 0, max: 1e12 })),
	}),
});
export type ErrorBody = Infer<typeof errorBody>;

// ---------------------------------------------------------------------------------------
// HTTP: accounts and auth

export const registerRequest = object({
	handle,
	deviceName,
	publicKey,
	/** Ed25519 signature by `publicKey` over `registrationMessage(handle, publicKey, deviceName, identityKey)`. */
	signature,
	/** The account's identity key (Ed25519), made on this device; it signs the account's device lists. */
	identityKey: publicKey,
	/** Ed25519 signature by `identityKey` over `identityProofMessage(handle, identityKey, publicKey)`. */
	identitySignature: signature,
});
export type RegisterRequest = Infer<typeof registerRequest>;

export const registerResponse = object({ accountId: id, deviceId: id, handle: string({ max: 32 }) });
export type RegisterResponse = Infer<typeof registerResponse>;

export const challengeRequest = object({});
export const challengeResponse = object({ challenge: string({ max: 200 }), expiresAt: timestamp });
export type ChallengeResponse = Infer<typeof challengeResponse>;

export const sessionRequest = object({
	publicKey,
	challenge: string({ min: 1, max: 200 }),
	/** Ed25519 signature by `publicKey` over `loginMessage(challenge)`. */
	signature,
});
export type SessionRequest = Infer<typeof sessionRequest>;

export const TRUST_LEVELS = ["untrusted", "trusted", "verified"] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

export const DEVICE_STATUSES = ["pending", "approved", "revoked"] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export const sessionResponse = object({
	token: string({ max: 1000 }),
	expiresAt: timestamp,
	accountId: id,
	deviceId: id,
	handle: string({ max: 32 }),
	deviceStatus: oneOf(DEVICE_STATUSES),
});
export type SessionResponse = Infer<typeof sessionResponse>;

// ---------------------------------------------------------------------------------------
// HTTP: devices and contacts

/**
 * The account's approved devices, signed by its identity key (device-list.ts gives the signed
 * bytes). The relay stores the newest one and hands it out; clients verify it themselves.
 */
export const signedDeviceList = object({
	accountId: id,
	version: integer({ min: 1, max: 1_000_000_000 }),
	lastRemoval: integer({ min: 0, max: 1_000_000_000 }),
	identityKey: publicKey,
	devices: array(object({ deviceId: id, publicKey }), { max: 64 }),
	signature,
});
export type SignedDeviceListWire = Infer<typeof signedDeviceList>;

/** POST /api/devices/list: the first signed list after registration, or a new identity key (an identity reset). */
export const publishDeviceListRequest = object({
	deviceList: signedDeviceList,
	/** On an identity reset: the new identity key wrapped for each other approved device. */
	identityEnvelopes: optional(array(object({ deviceId: id, nonce, box: base64url({ bytes: IDENTITY_BOX_BYTES }) }), { max: 64 })),
});
export type PublishDeviceListRequest = Infer<typeof publishDeviceListRequest>;

/** POST /api/devices/links: an approved device opens a one-time link code; `linkId` is derived from the code's secret. */
export const openLinkRequest = object({ linkId: id });
export const openLinkResponse = object({ linkId: id, expiresAt: timestamp });
export type OpenLinkResponse = Infer<typeof openLinkResponse>;

/** POST /api/devices/link (no token): a new device claims a link code and waits as `pending` for the approver. */
export const claimLinkRequest = object({
	handle,
	linkId: id,
	deviceName,
	publicKey,
	/** Ed25519 signature by `publicKey` over `linkClaimMessage(handle, linkId, publicKey, deviceName)`. */
	signature,
	/** HMAC-SHA-256 under the code's MAC key over the claim (PROTOCOL.md): only whoever read the code can make it. */
	proof: base64url({ bytes: 32 }),
});
export type ClaimLinkRequest = Infer<typeof claimLinkRequest>;
export const claimLinkResponse = object({ accountId: id, deviceId: id, status: literal("pending") });
export type ClaimLinkResponse = Infer<typeof claimLinkResponse>;

/** The most a sealed key backup may be: the identity key and every contact key, with room to spare. */
export const MAX_BACKUP_BYTES = 1024 * 1024;

/** PUT /api/account/recovery: register (or replace) the account's recovery public key. */
export const recoveryKeyRequest = object({
	recoveryKey: publicKey,
	/** Ed25519 by the account's identity key over `recoveryKeyMessage(accountId, recoveryKey)`. */
	signature,
});
export type RecoveryKeyRequest = Infer<typeof recoveryKeyRequest>;
/**
 * GET /api/account/recovery answers what was registered, signature included: every device
 * checks it against the identity key before it seals a backup to that key, so a relay cannot
 * have backups sealed to a key of its own.
 */
export const recoveryKeyResponse = recoveryKeyRequest;

/**
 * The account's one sealed key backup (secretbox under the backup key the recovery key
 * derives): PUT /api/account/backup with `version` one more than the stored one (1 for the
 * first), GET /api/account/backup. The relay stores ciphertext only.
 */
export const sealedBackup = object({
	version: integer({ min: 1, max: 1_000_000_000 }),
	nonce,
	box: base64url({ minBytes: 16, maxBytes: MAX_BACKUP_BYTES }),
});
export type SealedBackup = Infer<typeof sealedBackup>;

/** POST /api/recovery (no token): a new device restores the account with the recovery key, and waits as `pending` to finish. */
export const recoverRequest = object({
	handle,
	/** A fresh challenge from POST /api/auth/challenge. */
	challenge: string({ min: 1, max: 200 }),
	recoveryKey: publicKey,
	/** Ed25519 by `recoveryKey` over `recoverMessage(challenge, handle, publicKey, deviceName)`. */
	signature,
	deviceName,
	publicKey,
	/** Ed25519 by `publicKey` over the same message: the new device holds its key. */
	deviceSignature: signature,
});
export type RecoverRequest = Infer<typeof recoverRequest>;
export const recoverResponse = object({
	accountId: id,
	deviceId: id,
	status: literal("pending"),
	backup: sealedBackup,
});
export type RecoverResponse = Infer<typeof recoverResponse>;

/** A contact key wrapped for one of this account's own devices (the new one, on approval). */
export const ownEnvelopeUpload = object({
	peerId: id,
	keyVersion,
	nonce,
	box: envelopeBox,
});
export type OwnEnvelopeUpload = Infer<typeof ownEnvelopeUpload>;

/** The one-time key of a history archive, sealed by the approving device for the new one. */
export const historyOffer = object({ transferId: id, nonce, box: base64url({ bytes: HISTORY_OFFER_BOX_BYTES }) });
export type HistoryOffer = Infer<typeof historyOffer>;

/**
 * Where a history transfer stands: `offered` at approval, `uploaded` once the sealed archive
 * is in the file store. The last three end it (the archive is deleted): `imported` by the
 * new device, `skipped` by either device, `expired` an hour after the offer or the upload.
 */
export const HISTORY_STATES = ["offered", "uploaded", "imported", "skipped", "expired"] as const;
export type HistoryState = (typeof HISTORY_STATES)[number];

/** A live history transfer as its two devices see it (GET /api/devices/history). */
export const historyTransfer = object({
	transferId: id,
	fromDevice: id,
	fromPublicKey: publicKey,
	toDevice: id,
	nonce,
	box: base64url({ bytes: HISTORY_OFFER_BOX_BYTES }),
	state: oneOf(["offered", "uploaded"] as const),
	/** The sealed archive's size, once uploaded. */
	size: optional(integer({ min: 0, max: 1e12 })),
	createdAt: timestamp,
	expiresAt: timestamp,
});
export type HistoryTransfer = Infer<typeof historyTransfer>;
export const historyTransferList = object({ transfers: array(historyTransfer, { max: 100 }) });
/** POST /api/devices/history/:transferId/end: the new device imported the archive, or either device gives up on it. */
export const endHistoryRequest = object({ outcome: oneOf(["imported", "skipped"] as const) });
export type EndHistoryRequest = Infer<typeof endHistoryRequest>;

export const approveDeviceRequest = object({
	/** The next device list, with the new device in it, signed by the identity key. */
	deviceList: signedDeviceList,
	/** The identity key, wrapped for the new device. */
	identityEnvelope: object({ nonce, box: base64url({ bytes: IDENTITY_BOX_BYTES }) }),
	/** HMAC-SHA-256 under the link code's MAC key: tells the new device the identity key is its approver's. */
	linkConfirm: base64url({ bytes: 32 }),
	/** Every contact key the approving device holds, wrapped for the new device (at least each contact's newest). */
	envelopes: array(ownEnvelopeUpload, { max: 20_000 }),
	/** An offer to transfer this device's history: the archive's one-time key, sealed for the new device. */
	history: optional(historyOffer),
});
export type ApproveDeviceRequest = Infer<typeof approveDeviceRequest>;

export const deviceInfo = object({
	deviceId: id,
	publicKey,
	name: deviceName,
	status: oneOf(DEVICE_STATUSES),
	createdAt: timestamp,
	lastSeenAt: optional(timestamp),
	/** In this account's own listing: the device has a socket open to the relay right now. */
	online: optional(boolean),
	/** A pending device: the link code it claimed and its proof, for the approver to check. */
	link: optional(object({ linkId: id, proof: base64url({ bytes: 32 }) })),
});
export type DeviceInfo = Infer<typeof deviceInfo>;
export const deviceResponse = object({ device: deviceInfo });
/**
 * GET /api/devices (every device of this account, any status) and GET /api/contacts/:id/devices
 * (a contact's approved devices): with the account's newest signed list, null until it has one.
 */
export const deviceList = object({ devices: array(deviceInfo, { max: 1000 }), deviceList: nullable(signedDeviceList) });
export type DeviceList = Infer<typeof deviceList>;

/** DELETE /api/account: the account's own handle, typed again, confirms it. */
export const deleteAccountRequest = object({ handle });
export type DeleteAccountRequest = Infer<typeof deleteAccountRequest>;

/** POST /api/devices/:deviceId/revoke: removing an approved device needs the next list, without it. */
export const revokeDeviceRequest = object({ deviceList: optional(signedDeviceList) });
export type RevokeDeviceRequest = Infer<typeof revokeDeviceRequest>;

/** POST /api/devices/:deviceId/recover, by that pending device itself: the next list with it, signed with the identity key from the backup. */
export const completeRecoveryRequest = object({ deviceList: signedDeviceList });
export type CompleteRecoveryRequest = Infer<typeof completeRecoveryRequest>;

/** GET /api/devices/identity: the identity key as the approver wrapped it for the calling device. */
export const identityEnvelope = object({
	fromDevice: id,
	fromPublicKey: publicKey,
	nonce,
	box: base64url({ bytes: IDENTITY_BOX_BYTES }),
	/** Absent for a key handed over by an identity reset, where no link code was involved. */
	linkConfirm: optional(base64url({ bytes: 32 })),
});
export type IdentityEnvelope = Infer<typeof identityEnvelope>;

export const CONTACT_STATES = ["outgoing", "incoming", "accepted", "declined", "blocked"] as const;
export type ContactState = (typeof CONTACT_STATES)[number];

export const contact = object({
	accountId: id,
	handle: string({ max: 32 }),
	state: oneOf(CONTACT_STATES),
	/** The newest contact key version, once accepted. */
	keyVersion: optional(keyVersion),
	/** Accepted contacts only: whether you take calls from them (your setting; off until you allow it). */
	callsAllowed: optional(boolean),
	createdAt: timestamp,
	updatedAt: timestamp,
});
export type Contact = Infer<typeof contact>;
export const contactList = object({ contacts: array(contact, { max: 100_000 }) });
export type ContactList = Infer<typeof contactList>;

export const contactRequest = object({ handle });

export const reportRequest = object({
	reason: string({ min: 1, max: 500 }),
	/** Also block the account, in the same step. */
	block: optional(boolean),
});
export type ReportRequest = Infer<typeof reportRequest>;

export const ledgerEntry = object({
	delta: integer({ min: -1e12, max: 1e12 }),
	balanceAfter: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	reason: string({ max: 200 }),
	ref: nullable(string({ max: 200 })),
	/** How many charges of one kind the row sums, when more than one (a flush writes one row per run). */
	count: optional(integer({ min: 2, max: 1e9 })),
	createdAt: timestamp,
});
export const creditHistory = object({ entries: array(ledgerEntry, { max: 1000 }) });
export type CreditHistory = Infer<typeof creditHistory>;

/** GET /api/credits/packs: what this deployment sells, if it sells credits (Stripe configured). */
export const creditPack = object({
	credits: integer({ min: 1, max: 1e9 }),
	/** In the currency's smallest unit (cents). */
	price: integer({ min: 1, max: 1e9 }),
});
export type CreditPack = Infer<typeof creditPack>;
export const creditPacksResponse = object({
	/** False: credits come from the operator's admin API only, and `packs` is empty. */
	forSale: boolean,
	/** ISO 4217, lower case (e.g. "usd"); null when nothing is for sale. */
	currency: nullable(string({ min: 3, max: 3, pattern: /^[a-z]{3}$/ })),
	packs: array(creditPack, { max: 20 }),
});
export type CreditPacksResponse = Infer<typeof creditPacksResponse>;
/** POST /api/credits/checkout: buy the pack of this many credits. */
export const checkoutRequest = object({ pack: integer({ min: 1, max: 1e9 }) });
export type CheckoutRequest = Infer<typeof checkoutRequest>;
/** Stripe's hosted payment page for the purchase; the client goes there. */
export const checkoutResponse = object({ url: string({ min: 8, max: 2000, pattern: /^https?:\/\// }) });
export type CheckoutResponse = Infer<typeof checkoutResponse>;
export type ContactRequest = Infer<typeof contactRequest>;
export const contactResponse = object({ contact });
export type ContactResponse = Infer<typeof contactResponse>;

/** A contact key sealed with crypto_box for one device (so only that device can open it), as uploaded by the wrapping device. */
export const envelopeUpload = object({ accountId: id, deviceId: id, nonce, box: envelopeBox });
export type EnvelopeUpload = Infer<typeof envelopeUpload>;

/** A new contact key version after a device of either side was revoked. */
export const rotateRequest = object({
	keyVersion,
	envelopes: array(envelopeUpload, { min: 2, max: 128 }),
});
export type RotateRequest = Infer<typeof rotateRequest>;

export const acceptRequest = object({
	keyVersion,
	/** One envelope per approved device of both accounts, no more and no fewer. */
	envelopes: array(envelopeUpload, { min: 2, max: 128 }),
});
export type AcceptRequest = Infer<typeof acceptRequest>;

/** An envelope as a device downloads it: the wrapping device's key is needed to open it. */
export const envelope = object({
	keyVersion,
	fromAccount: id,
	fromDevice: id,
	fromPublicKey: publicKey,
	nonce,
	box: envelopeBox,
});
export type Envelope = Infer<typeof envelope>;
export const envelopeList = object({ envelopes: array(envelope, { max: 100_000 }) });
export type EnvelopeList = Infer<typeof envelopeList>;

/** POST /api/attachments: reserve (and pay for) an upload of a sealed file to a contact. */
export const reserveAttachmentRequest = object({
	to: id,
	/** Plaintext size in bytes; the sealed upload must be exactly `sealedSize` bytes. */
	size: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
});
export type ReserveAttachmentRequest = Infer<typeof reserveAttachmentRequest>;
export const reserveAttachmentResponse = object({
	attachmentId: id,
	owner: id,
	sealedSize: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	price: integer({ min: 0, max: 1e9 }),
	/** Upload and send the message before this, or the reservation lapses and is refunded. */
	expiresAt: timestamp,
});
export type ReserveAttachmentResponse = Infer<typeof reserveAttachmentResponse>;

/** GET /api/limits: public prices and limits, so a client can show a price before an action. */
export const limitsResponse = object({
	prices: object({
		text: integer({ min: 0, max: 1e9 }),
		attachmentSmall: integer({ min: 0, max: 1e9 }),
		attachmentMedium: integer({ min: 0, max: 1e9 }),
		attachmentLarge: integer({ min: 0, max: 1e9 }),
		edit: integer({ min: 0, max: 1e9 }),
		delete: integer({ min: 0, max: 1e9 }),
		reaction: integer({ min: 0, max: 1e9 }),
	}),
	rateLimit: object({ count: integer({ min: 0, max: 1e9 }), windowMs: integer({ min: 0, max: 1e12 }) }),
	quotaPerDay: object({ untrusted: integer({ min: 0, max: 1e9 }), trusted: integer({ min: 0, max: 1e9 }) }),
	maxSealedTextBytes: integer({ min: 0, max: 1e9 }),
	/** Size tiers of the attachment prices, in plaintext bytes: see common/pricing.ts. */
	attachmentTiers: object({
		smallBelowBytes: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
		mediumUpToBytes: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
		maxBytes: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	}),
	/** The largest sealed history archive the relay takes (HISTORY_ARCHIVE_MAX_MB), so the app can size one to fit. */
	historyArchiveMaxBytes: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
});
export type LimitsResponse = Infer<typeof limitsResponse>;

// ---------------------------------------------------------------------------------------
// HTTP: Web Push for a closed tab (PROTOCOL.md, "Web Push")

/** The longest push service URL taken; the browsers' own are a few hundred characters. */
export const PUSH_ENDPOINT_MAX = 2048;
/** An uncompressed P-256 point (0x04 || x || y): a browser's p256dh and a VAPID public key alike. */
const p256Point = base64url({ bytes: 65 });
/**
 * PUT /api/devices/push: the calling device's subscription, as `PushSubscription.toJSON()`
 * gives it (without `expirationTime`). The relay also checks that the endpoint is an https
 * URL and that p256dh is a point on the curve.
 */
export const pushSubscriptionRequest = object({
	endpoint: string({ min: 12, max: PUSH_ENDPOINT_MAX, pattern: /^https:\/\/\S+$/ }),
	keys: object({ p256dh: p256Point, auth: base64url({ bytes: 16 }) }),
});
export type PushSubscriptionRequest = Infer<typeof pushSubscriptionRequest>;
/** GET /api/push/key: the VAPID public key to subscribe with (applicationServerKey), or null: this relay sends no pushes. */
export const pushKeyResponse = object({ publicKey: nullable(p256Point) });
export type PushKeyResponse = Infer<typeof pushKeyResponse>;
/** The payload of a push (push-payload.ts): `{"v":1,"kind":"message"|"call","count":N}`, nothing else. */
export { PUSH_KINDS, type PushPayload, pushPayload } from "./push-payload.ts";

// ---------------------------------------------------------------------------------------
// HTTP: admin (Authorization: Bearer <ADMIN_TOKEN>)

export const adminTrustRequest = object({ trust: oneOf(TRUST_LEVELS) });
export const adminGrantRequest = object({ amount: integer({ min: 1, max: 1_000_000_000 }), reason: string({ min: 1, max: 200 }) });

/** A report's weight toward a suspension (docs/decisions.md, "Abuse rules"). */
const reportWeight = finite({ min: 0, max: 1000 });
const count = integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const report = object({
	id: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	reporterId: id,
	reportedId: id,
	reason: string({ max: 500 }),
	createdAt: timestamp,
	/** 0: the report does not count (the reporter was not an accepted contact who received a message from the account). */
	weight: reportWeight,
});
const flag = object({
	id: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	accountId: id,
	kind: string({ max: 64 }),
	detail: string({ max: 500 }),
	createdAt: timestamp,
});
export const reportList = object({ reports: array(report, { max: 1000 }) });
export const flagList = object({ flags: array(flag, { max: 1000 }) });

export const adminAccountView = object({
	account: object({
		id,
		handle: string({ max: 32 }),
		trust: oneOf(TRUST_LEVELS),
		credits: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
		suspendedUntil: nullable(timestamp),
		suspensionLevel: integer({ min: 0, max: 1000 }),
		createdAt: timestamp,
	}),
	devices: array(deviceInfo, { max: 1000 }),
	reports: array(report, { max: 1000 }),
	flags: array(flag, { max: 1000 }),
	ledger: array(ledgerEntry, { max: 1000 }),
});
export type AdminAccountView = Infer<typeof adminAccountView>;

/** An admin's word on a review of reports: apply the next suspension level, or let the wave go. */
export const REVIEW_DECISIONS = ["confirm", "dismiss"] as const;
export const adminReviewDecision = object({ decision: oneOf(REVIEW_DECISIONS) });
export const REVIEW_STATES = ["pending", "confirmed", "dismissed"] as const;

/** One account that reported in the wave under review, as it was when it reported: counts and levels only. */
const reviewReporter = object({
	reporterId: id,
	trust: oneOf(TRUST_LEVELS),
	/** How old the reporter's account was at its latest report in the wave. */
	accountAgeMs: count,
	contactState: nullable(oneOf(CONTACT_STATES)),
	/** Messages it had received from the reported account, at its latest report. */
	messagesReceived: count,
	reports: count,
	/** What it adds to the wave: the most any of its reports weighed. */
	weight: reportWeight,
});

export const adminReview = object({
	id: count,
	accountId: id,
	handle: string({ max: 32 }),
	state: oneOf(REVIEW_STATES),
	openedAt: timestamp,
	decidedAt: nullable(timestamp),
	/** The reported account: its age and standing now, its sending counts when the review opened. */
	account: object({
		createdAt: timestamp,
		trust: oneOf(TRUST_LEVELS),
		suspensionLevel: integer({ min: 0, max: 1000 }),
		suspendedUntil: nullable(timestamp),
		messagesSent: count,
		requestsSent: count,
		requestsAccepted: count,
		contacts: count,
	}),
	/** While pending, what confirming applies: the next level, for this long (null: until an admin lifts it). */
	next: nullable(object({ level: integer({ min: 1, max: 1001 }), durationMs: nullable(count) })),
	/** The wave: the reports after the last time reports were acted on (up to the decision), and what they add up to. */
	evidence: object({
		reports: count,
		countingReports: count,
		reporters: count,
		weight: finite({ min: 0, max: 1e9 }),
		weightNeeded: finite({ min: 0, max: 1e9 }),
	}),
	reporters: array(reviewReporter, { max: 1000 }),
	/** The wave's reports, newest first, with the reporters' own words. */
	reports: array(report, { max: 1000 }),
});
export type AdminReview = Infer<typeof adminReview>;
export const adminReviewList = object({ reviews: array(adminReview, { max: 1000 }) });

// ---------------------------------------------------------------------------------------
// WebSocket frames, client → server

/**
 * `attachment` carries `attachmentId` (uploaded first); `edit` and `delete` carry `replaces`,
 * the id of the sender's own earlier message. A `reaction` names its message inside the
 * sealed body only: `replaces` would have the relay swap or drop the queued original.
 */
export const MESSAGE_KINDS = ["text", "attachment", "edit", "delete", "reaction"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** The reactions there are; "" in a sealed reaction takes the sender's reaction back. */
export const REACTION_EMOJIS = ["👍", "❤️", "😂", "😮", "😢", "🙏"] as const;
export type ReactionEmoji = (typeof REACTION_EMOJIS)[number];
/**
 * The most a sealed reaction may be, header and tag included (a real one is under 400 bytes):
 * a reaction is outside the rate limit and the quota, so it must not carry a text's worth.
 */
export const MAX_SEALED_REACTION_BYTES = 1024;

const sealedBox = base64url({ minBytes: 16, maxBytes: MAX_SEALED_BYTES });

export const sendFrame = object({
	type: literal("send"),
	/**
	 * Chosen by the sender (16 random bytes). Unique per sender, not across senders: a
	 * recipient de-duplicates by (from, id), and edits, deletes and acks name a message by both.
	 */
	id,
	to: id,
	kind: oneOf(MESSAGE_KINDS),
	keyVersion,
	nonce,
	box: sealedBox,
	attachmentId: optional(id),
	replaces: optional(id),
});
export type SendFrame = Infer<typeof sendFrame>;

/**
 * Message ids are unique per sender only, so an ack names the sender of its ids: another
 * sender's message under one of them stays queued. Without `from` (clients before per-sender
 * ids) an id is acked from every sender.
 */
export const ACK_IDS_MAX = 500;

/**
 * The most a sealed receipt for `ids` message ids may be: the sealed header and envelope
 * (about 250 bytes), 25 bytes per id in the body, and the MAC. Bounded by the ids it names,
 * so a receipt (free, like the ack it rides on) cannot become a channel of its own.
 */
export const sealedReceiptMaxBytes = (ids: number): number => 320 + 25 * ids;

/**
 * A delivery receipt from the acking device to the sender of the acked messages, sealed with
 * their contact key (message-seal.ts, kind "receipt"; body `{kind: "delivered", ids}`), so
 * the relay can pass it on or drop it, but never write one.
 */
export const sealedReceipt = object({
	id,
	keyVersion,
	nonce,
	box: base64url({ minBytes: 16, maxBytes: sealedReceiptMaxBytes(ACK_IDS_MAX) }),
});
export type SealedReceipt = Infer<typeof sealedReceipt>;

type AckShape = { ids: string[]; from?: string; receipt?: { box: string } };

/** A receipt names the sender it is for, and is no larger than its ids need. */
function withReceiptRule<T extends AckShape>(schema: Schema<T>): Schema<T> {
	return {
		parse(value, path) {
			const frame = schema.parse(value, path);
			if (frame.receipt === undefined) return frame;
			const at = path ? `${path}.receipt` : "receipt";
			if (frame.from === undefined) throw new ValidationError(at, "a receipt needs `from`, the sender it is for");
			if (b64uByteLength(frame.receipt.box) > sealedReceiptMaxBytes(frame.ids.length)) {
				throw new ValidationError(`${at}.box`, `is larger than a receipt for ${frame.ids.length} ids`);
			}
			return frame;
		},
	};
}

/**
 * Message ids are unique per sender only, so an ack names the sender of its ids: another
 * sender's message under one of them stays queued. Without `from` (clients before per-sender
 * ids) an id is acked from every sender. `receipt` is passed on to that sender if the ack
 * removed at least one of its messages from this device's queue.
 */
export const ackFrame = withReceiptRule(
	object({ type: literal("ack"), ids: array(id, { min: 1, max: ACK_IDS_MAX }), from: optional(id), receipt: optional(sealedReceipt) }),
);
export type AckFrame = Infer<typeof ackFrame>;

/**
 * A sealed read receipt (body `{kind: "read", ids}`) for contact `to`: these messages of theirs
 * were seen. Not tied to an ack (people read later), so the relay meters it by a daily budget
 * of bytes per account instead; free of credits like every receipt.
 */
export const readFrame = object({ type: literal("read"), to: id, receipt: sealedReceipt });
export type ReadFrame = Infer<typeof readFrame>;

export const pingFrame = object({ type: literal("ping") });

/** "I am typing" to a contact: relayed to their online devices only, never queued or charged. */
export const typingFrame = object({ type: literal("typing"), to: id });

// ---------------------------------------------------------------------------------------
// Calls: signals relayed live between two devices, never queued or charged

/** POST /api/contacts/:accountId/calls: whether this account takes calls from that contact. */
export const callPermissionRequest = object({ allow: boolean });
export type CallPermissionRequest = Infer<typeof callPermissionRequest>;

/** As RTCPeerConnection takes it. */
export const iceServer = object({
	urls: array(string({ min: 1, max: 512 }), { min: 1, max: 16 }),
	username: optional(string({ max: 512 })),
	credential: optional(string({ max: 512 })),
});
export type IceServer = Infer<typeof iceServer>;
/** GET /api/turn: STUN, and TURN with a credential of this account's that stops working at `expiresAt`. */
export const turnResponse = object({ iceServers: array(iceServer, { max: 8 }), expiresAt: timestamp });
export type TurnResponse = Infer<typeof turnResponse>;

/**
 * What a device says about a call. Every one is sealed with the contact key (offer, answer
 * and ice carry a payload, the others an empty body), so a relay cannot forge an accept,
 * decline, busy or hangup.
 */
export const CALL_SIGNAL_KINDS = ["offer", "answer", "ice", "ringing", "accept", "decline", "busy", "hangup", "media"] as const;
export type CallSignalKind = (typeof CALL_SIGNAL_KINDS)[number];
const SEALED_CALL_SIGNALS: ReadonlySet<string> = new Set<string>(CALL_SIGNAL_KINDS);
/**
 * What the relay adds, unsealed and so only advisory: another device of yours took or turned
 * down the call (stop ringing), or nobody answered in time.
 */
export const CALL_EVENT_KINDS = [...CALL_SIGNAL_KINDS, "answered_elsewhere", "declined_elsewhere", "timeout"] as const;
export type CallEventKind = (typeof CALL_EVENT_KINDS)[number];
/**
 * The `kind` in a sealed signal's header. No message kind starts with "call:", so a sealed
 * signal can never be opened as a message, nor a message as a signal.
 */
export const sealedSignalKind = (kind: CallSignalKind): string => `call:${kind}`;
/**
 * How large each kind of sealed signal may be, header and tag included. A real ICE candidate
 * is a few hundred bytes and an SDP offer a few KB (a video offer with every codec Chromium
 * has is under 8 KB); anything larger is not signaling but a free channel beside the
 * messages, which are metered. The relay refuses a larger one as `too_large`.
 */
export const MAX_SEALED_SIGNAL_BYTES_BY_KIND: Readonly<Record<CallSignalKind, number>> = {
	offer: 16 * 1024,
	answer: 16 * 1024,
	ice: 2 * 1024,
	ringing: 1024,
	accept: 1024,
	decline: 1024,
	busy: 1024,
	hangup: 1024,
	/** `{ audio, video }`: whether the sender's microphone and camera are on, in an accepted call. */
	media: 1024,
};
/** The largest of them: what the frame schema lets through, before the per-kind check. */
export const MAX_SEALED_SIGNAL_BYTES = Math.max(...Object.values(MAX_SEALED_SIGNAL_BYTES_BY_KIND));
const signalBox = base64url({ minBytes: 16, maxBytes: MAX_SEALED_SIGNAL_BYTES });

type SignalShape = { kind: string; keyVersion?: number; nonce?: string; box?: string; fromDevice?: string };

/** A device's signal carries keyVersion, nonce and box, and relayed it names its device; the relay's own events carry neither. */
function withPayloadRule<T extends SignalShape>(schema: Schema<T>, opts: { relayed: boolean }): Schema<T> {
	return {
		parse(value, path) {
			const frame = schema.parse(value, path);
			const parts = [frame.keyVersion, frame.nonce, frame.box].filter((p) => p !== undefined).length;
			const at = path ? `${path}.box` : "box";
			if (!SEALED_CALL_SIGNALS.has(frame.kind)) {
				if (parts !== 0) throw new ValidationError(at, `a ${frame.kind} event carries no payload`);
			} else if (parts !== 3 || (opts.relayed && frame.fromDevice === undefined)) {
				throw new ValidationError(at, `a ${frame.kind} signal carries keyVersion, nonce and box`);
			}
			return frame;
		},
	};
}

export const callFrame = withPayloadRule(
	object({
		type: literal("call"),
		/** The call id: chosen by the caller (16 random bytes), shared by every signal of the call. */
		id,
		to: id,
		kind: oneOf(CALL_SIGNAL_KINDS),
		keyVersion: optional(keyVersion),
		nonce: optional(nonce),
		box: optional(signalBox),
	}),
	{ relayed: false },
);
export type CallFrame = Infer<typeof callFrame>;

export const clientFrame = taggedUnion({
	send: sendFrame,
	ack: ackFrame,
	read: readFrame,
	ping: pingFrame,
	typing: typingFrame,
	call: callFrame,
});
export type ClientFrame = Infer<typeof clientFrame>;

// ---------------------------------------------------------------------------------------
// WebSocket frames, server → client

export const readyFrame = object({ type: literal("ready"), accountId: id, deviceId: id, queued: integer({ min: 0, max: 1e9 }) });
export const messageFrame = object({
	type: literal("message"),
	id,
	from: id,
	fromDevice: id,
	to: id,
	kind: oneOf(MESSAGE_KINDS),
	keyVersion,
	nonce,
	box: sealedBox,
	attachmentId: optional(id),
	replaces: optional(id),
	/** When the relay accepted it. The sender's own clock is inside the sealed header. */
	sentAt: timestamp,
});
export type MessageFrame = Infer<typeof messageFrame>;
/** What a UI shows about its own account: balance, trust, what is left of today's quota. */
export const accountStatus = object({
	accountId: id,
	handle: string({ max: 32 }),
	trust: oneOf(TRUST_LEVELS),
	credits: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	/** Sends left in the rolling 24 h; null when unlimited (verified). */
	quotaLeft: nullable(integer({ min: 0, max: 1e9 })),
	/** When the next send is allowed by the rate limit, if it is not allowed now. */
	nextSendAt: optional(timestamp),
	suspendedUntil: optional(timestamp),
});
export type AccountStatus = Infer<typeof accountStatus>;

export const accountFrame = object({ type: literal("account"), account: accountStatus });

/** Committed to every recipient device; also says what the send cost and what is left. */
export const sentFrame = object({
	type: literal("sent"),
	id,
	at: timestamp,
	credits: optional(integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
	quotaLeft: optional(nullable(integer({ min: 0, max: 1e9 }))),
	/** After a send that reached the rate limit or the quota: when the account may send again (the relay's clock, as `at`). */
	nextSendAt: optional(timestamp),
});
/** Another device of the account sent and reached a limit: this one's sends wait until `nextSendAt` too. */
export const sendWindowFrame = object({
	type: literal("send_window"),
	at: timestamp,
	nextSendAt: timestamp,
	quotaLeft: nullable(integer({ min: 0, max: 1e9 })),
});
export const syncedFrame = object({ type: literal("synced") });
export const pongFrame = object({ type: literal("pong") });
export const contactFrame = object({
	type: literal("contact"),
	/**
	 * What changed: a request, an accept, a decline, a block; `devices_changed` when the
	 * contact's signed device list changed (fetch and verify it: it may carry a new identity
	 * key); `rotation_required` when the relay says a device of either side was removed — a
	 * client rotates only if a verified list shows the removal (PROTOCOL.md);
	 * `rotated` when a new key version was stored (fetch the keys); `calls_changed` when
	 * another of your devices allowed or stopped calls from this contact; `deleted` when the
	 * contact deleted their account (the contact, its keys and its undelivered messages are gone).
	 */
	event: oneOf([
		"requested",
		"accepted",
		"declined",
		"blocked",
		"devices_changed",
		"rotation_required",
		"rotated",
		"calls_changed",
		"deleted",
	] as const),
	contact,
});
export type ContactNotice = Infer<typeof contactFrame>["event"];

export const peerTypingFrame = object({ type: literal("typing"), from: id, fromDevice: id });
/**
 * A sealed receipt from device `fromDevice` of account `from` (a contact), passed on by the
 * relay as it came: pushed to this account's connected devices, and queued for the others.
 */
export const receiptFrame = object({ type: literal("receipt"), from: id, fromDevice: id, ...sealedReceipt.shape });
export type ReceiptFrame = Infer<typeof receiptFrame>;

/** A device of this account was added, approved, rejected or revoked. */
export const deviceFrame = object({
	type: literal("device"),
	event: oneOf(["pending", "approved", "revoked"] as const),
	device: deviceInfo,
});
/** This account's signed device list changed (a device approved or removed, or an identity reset): verify it. */
export const deviceListFrame = object({ type: literal("device_list"), deviceList: signedDeviceList });
/** A history transfer this device sends or receives changed state. */
export const historyFrame = object({
	type: literal("history"),
	transferId: id,
	state: oneOf(HISTORY_STATES),
	size: optional(integer({ min: 0, max: 1e12 })),
});
/** Messages for this device expired unread while it was away: the user may have missed some. */
export const missedFrame = object({ type: literal("missed"), count: integer({ min: 1, max: 1e9 }) });

export const errorFrame = object({
	type: literal("error"),
	code: oneOf(ERROR_CODES),
	message: string({ max: 500 }),
	/** The id of the frame this answers, when it answers one. */
	ref: optional(id),
	retryAfter: optional(integer({ min: 0, max: 1e12 })),
});
export type ErrorFrame = Infer<typeof errorFrame>;

/**
 * A call signal for this device: `from`/`fromDevice` sent it. For `answered_elsewhere` and
 * `declined_elsewhere` `from` is this account (the device that acted) and `to` the caller;
 * `timeout` names the peer in `from` and no device.
 */
export const peerCallFrame = withPayloadRule(
	object({
		type: literal("call"),
		id,
		from: id,
		fromDevice: optional(id),
		to: id,
		kind: oneOf(CALL_EVENT_KINDS),
		keyVersion: optional(keyVersion),
		nonce: optional(nonce),
		box: optional(signalBox),
		/** When the relay passed it on. */
		at: timestamp,
	}),
	{ relayed: true },
);
export type PeerCallFrame = Infer<typeof peerCallFrame>;

/**
 * A call request, which carries nothing but who asks whom and when. To the callee's devices:
 * `asked` (a contact called while their calls were not allowed; also sent again on connect
 * while it waits, up to CALL_REQUEST_TTL_MS), `answered` (a device of the callee allowed
 * calls or said not now: stop showing it); `from` is the caller. To the caller's devices:
 * `allowed` or `not_now`; `from` is the callee.
 */
export const callRequestFrame = object({
	type: literal("call_request"),
	event: oneOf(["asked", "answered", "allowed", "not_now"] as const),
	from: id,
	to: id,
	at: timestamp,
});
export type CallRequestFrame = Infer<typeof callRequestFrame>;
/** How long a call request waits for an answer before it lapses. */
export const CALL_REQUEST_TTL_MS = 24 * 60 * 60 * 1000;

export const serverFrame = taggedUnion({
	ready: readyFrame,
	account: accountFrame,
	message: messageFrame,
	sent: sentFrame,
	send_window: sendWindowFrame,
	synced: syncedFrame,
	pong: pongFrame,
	contact: contactFrame,
	device: deviceFrame,
	device_list: deviceListFrame,
	history: historyFrame,
	missed: missedFrame,
	typing: peerTypingFrame,
	receipt: receiptFrame,
	call: peerCallFrame,
	call_request: callRequestFrame,
	error: errorFrame,
});
export type ServerFrame = Infer<typeof serverFrame>;

/** Parse a JSON text into a schema's type, with one error type for both bad JSON and bad shape. */
export function parseJson<T>(schema: Schema<T>, text: string): T {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new ValidationError("", "is not valid JSON");
	}
	return schema.parse(value, "");
}

export { type Schema, ValidationError };
