import { sealedFileSize } from "../common/file-layout.ts";
import type { AttachmentTiers } from "../common/pricing.ts";
import type { FlagRules } from "./abuse/behaviour-flags.ts";
import type { DeviceJoinRules } from "./abuse/device-joins.ts";
import { ApiError } from "./api-error.ts";
import type { TurnConfig } from "./auth/turn-credentials.ts";
import type { CallLimitRules } from "./relay/calls/call-signaling.ts";
import type { FlushPolicy } from "./relay/credits/credit-flush-policy.ts";

export interface Config {
	authSecret: string;
	sessionTtlMs: number;
	challengeTtlMs: number;
	queueTtlMs: number;
	queueMaxMessages: number;
	queueMaxBytes: number;
	/**
	 * DELIVERY_HOLD_MS: how long a message pushed to a caught-up device that acks at once is
	 * held in memory for its ack before it is queued after all; 0 queues every message.
	 */
	deliveryHoldMs: number;
	maxSealedTextBytes: number;
	startingCredits: number;
	maxDevicesPerAccount: number;
	rateLimit: { count: number; windowMs: number };
	quotaPerDay: { untrusted: number; trusted: number };
	prices: Prices;
	attachmentTiers: AttachmentTiers;
	contactRequestsPerHour: number;
	/** New devices that may claim a link code of one account within an hour. */
	deviceRequestsPerHour: number;
	deviceJoins: DeviceJoinRules;
	/** How long a link code stays claimable after an approved device opened it. */
	linkCodeTtlMs: number;
	/** Failed restores with the recovery key one account takes within an hour before it refuses every attempt. */
	recoveryAttemptsPerHour: number;
	/** How long a history transfer to a newly linked device waits, after the offer and again after the upload. */
	historyTransferTtlMs: number;
	/** Largest sealed history archive a device may upload. */
	historyArchiveMaxBytes: number;
	/** Reports one account may file in any rolling 24 h (abuse/report-allowance.ts). */
	reportsPerDay: number;
	suspension: {
		/** The weight of counting reports that suspends (abuse/report-weight.ts), from SUSPEND_AFTER_REPORTERS. */
		reporters: number;
		reportWindowMs: number;
		violations: number;
		violationWindowMs: number;
		/** The first and second suspension's length; the third has no end (abuse/suspension.ts). */
		escalationMs: number[];
	};
	flags: FlagRules;
	trustPromotion: { minAgeMs: number; minMessages: number };
	/** When the credit journal goes to D1: relay/credit-flush-policy.ts. */
	creditFlush: FlushPolicy;
	uploadTtlMs: number;
	/** How long a call rings, and the signaling limits (apart from the message limit). */
	calls: { ringTimeoutMs: number; limits: CallLimitRules };
	turn: TurnConfig;
	/** Buying credits through Stripe Checkout; null when the deployment has no Stripe secrets. */
	purchases: PurchaseConfig | null;
	/** Web Push to devices whose tab is closed (relay/push/); null when the deployment has no VAPID keys. */
	push: PushConfig | null;
}

export interface PushConfig {
	/** VAPID_PUBLIC_KEY: the uncompressed P-256 point, base64url (87 characters). */
	publicKey: string;
	/** VAPID_PRIVATE_KEY, a secret: the private scalar d, base64url (43 characters). */
	privateKey: string;
	/** VAPID_SUBJECT: how a push service reaches the operator, a mailto: or https: URL. */
	subject: string;
	/** PUSH_COALESCE_MS: at most one push per device within this long (push-rules.ts). */
	coalesceMs: number;
}

/** A fixed pack of credits and what it costs, in the currency's smallest unit (cents). */
export interface CreditPack {
	credits: number;
	price: number;
}

export interface PurchaseConfig {
	secretKey: string;
	webhookSecret: string;
	/** Stripe's API, or a local stand-in for it in tests. */
	apiBase: URL;
	currency: string;
	packs: CreditPack[];
}

export interface Prices {
	text: number;
	attachmentSmall: number;
	attachmentMedium: number;
	attachmentLarge: number;
	edit: number;
	delete: number;
	/** A reaction to a message: outside the rate limit and the quota (its box is capped small instead). */
	reaction: number;
}

/** Marks a secret made by `npm start` for local development; production refuses it. */
export const DEV_SECRET_PREFIX = "dev-only:";
const MIN_SECRET_LENGTH = 32;

type VarName = keyof Env & string;

function misconfigured(message: string): ApiError {
	console.error(JSON.stringify({ event: "config_error", problem: message }));
	return new ApiError("server_misconfigured", message);
}

function numberVar(env: Env, name: VarName, fallback: number): number {
	const raw = (env as unknown as Record<string, unknown>)[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value) || value < 0) throw misconfigured(`The variable ${name} must be a non-negative number.`);
	return value;
}

/** A count that code slices or loops by: a fractional one would silently round. */
function wholeVar(env: Env, name: VarName, fallback: number, min = 0): number {
	const value = numberVar(env, name, fallback);
	if (!Number.isInteger(value) || value < min) throw misconfigured(`The variable ${name} must be a whole number of at least ${min}.`);
	return value;
}

function percentVar(env: Env, name: VarName, fallback: number): number {
	const value = numberVar(env, name, fallback);
	if (value > 100) throw misconfigured(`The variable ${name} is a percentage: at most 100.`);
	return value / 100;
}

const MB = 1024 * 1024;

/** ATTACHMENT_*_MB: the tiers must rise, or a size could fall in two tiers or none. */
function attachmentTiers(env: Env): AttachmentTiers {
	const tiers = {
		smallBelowBytes: Math.round(numberVar(env, "ATTACHMENT_SMALL_BELOW_MB", 1) * MB),
		mediumUpToBytes: Math.round(numberVar(env, "ATTACHMENT_MEDIUM_UP_TO_MB", 10) * MB),
		maxBytes: Math.round(numberVar(env, "ATTACHMENT_MAX_MB", 50) * MB),
	};
	if (!(tiers.smallBelowBytes <= tiers.mediumUpToBytes && tiers.mediumUpToBytes <= tiers.maxBytes)) {
		throw misconfigured("ATTACHMENT_SMALL_BELOW_MB, ATTACHMENT_MEDIUM_UP_TO_MB and ATTACHMENT_MAX_MB must not decrease in that order.");
	}
	return tiers;
}

/**
 * HISTORY_ARCHIVE_MAX_MB: a cap below an empty sealed archive would refuse every upload, which
 * is a typo, not a policy. Workers cap request bodies at 100 MB on most plans, so the default
 * stays under that.
 */
function historyArchiveMaxBytes(env: Env): number {
	const bytes = Math.floor(numberVar(env, "HISTORY_ARCHIVE_MAX_MB", 90) * MB);
	if (bytes < sealedFileSize(0)) throw misconfigured(`The variable HISTORY_ARCHIVE_MAX_MB must allow at least ${sealedFileSize(0)} bytes.`);
	return bytes;
}

const cache = new WeakMap<Env, Config>();

/**
 * Read and check the deployment's configuration. A missing or development secret in
 * production is a hard error on every request, not a silent default: a relay signing
 * tokens with a known key would let anyone log in as anyone.
 */
export function readConfig(env: Env): Config {
	const cached = cache.get(env);
	if (cached) return cached;
	const secret = env.AUTH_SECRET;
	if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
		console.error(JSON.stringify({ event: "config_error", problem: "AUTH_SECRET missing or shorter than 32 characters" }));
		throw new ApiError("server_misconfigured", "The server has no AUTH_SECRET. Set it with `wrangler secret put AUTH_SECRET`.");
	}
	if (secret.startsWith(DEV_SECRET_PREFIX) && env.ENVIRONMENT === "production") {
		console.error(JSON.stringify({ event: "config_error", problem: "development AUTH_SECRET in production" }));
		throw new ApiError("server_misconfigured", "The server runs in production with a development AUTH_SECRET. Set a real one.");
	}
	const day = 24 * 60 * 60 * 1000;
	const config: Config = {
		authSecret: secret,
		sessionTtlMs: numberVar(env, "SESSION_TTL_SECONDS", 900) * 1000,
		challengeTtlMs: numberVar(env, "CHALLENGE_TTL_SECONDS", 60) * 1000,
		queueTtlMs: numberVar(env, "QUEUE_TTL_DAYS", 30) * day,
		queueMaxMessages: numberVar(env, "QUEUE_MAX_MESSAGES", 10_000),
		queueMaxBytes: numberVar(env, "QUEUE_MAX_BYTES", 100 * 1024 * 1024),
		deliveryHoldMs: wholeVar(env, "DELIVERY_HOLD_MS", 1000),
		maxSealedTextBytes: numberVar(env, "MAX_SEALED_TEXT_BYTES", 64 * 1024),
		startingCredits: numberVar(env, "STARTING_CREDITS", 100),
		maxDevicesPerAccount: wholeVar(env, "MAX_DEVICES_PER_ACCOUNT", 10, 1),
		rateLimit: { count: numberVar(env, "RATE_LIMIT_COUNT", 1), windowMs: numberVar(env, "RATE_LIMIT_WINDOW_SECONDS", 10) * 1000 },
		quotaPerDay: { untrusted: numberVar(env, "QUOTA_UNTRUSTED_PER_DAY", 20), trusted: numberVar(env, "QUOTA_TRUSTED_PER_DAY", 200) },
		prices: {
			text: numberVar(env, "PRICE_TEXT", 4),
			attachmentSmall: numberVar(env, "PRICE_ATTACHMENT_SMALL", 8),
			attachmentMedium: numberVar(env, "PRICE_ATTACHMENT_MEDIUM", 20),
			attachmentLarge: numberVar(env, "PRICE_ATTACHMENT_LARGE", 40),
			edit: numberVar(env, "PRICE_EDIT", 2),
			delete: numberVar(env, "PRICE_DELETE", 1),
			reaction: numberVar(env, "PRICE_REACTION", 1),
		},
		attachmentTiers: attachmentTiers(env),
		contactRequestsPerHour: numberVar(env, "CONTACT_REQUESTS_PER_HOUR", 20),
		deviceRequestsPerHour: wholeVar(env, "DEVICE_REQUESTS_PER_HOUR", 5, 1),
		deviceJoins: {
			lapseMs: numberVar(env, "DEVICE_ASK_LAPSE_HOURS", 24) * 3_600_000,
		},
		linkCodeTtlMs: wholeVar(env, "LINK_CODE_TTL_MS", 600_000, 1),
		recoveryAttemptsPerHour: wholeVar(env, "RECOVERY_ATTEMPTS_PER_HOUR", 5, 1),
		historyTransferTtlMs: wholeVar(env, "HISTORY_TRANSFER_TTL_MS", 3_600_000, 1),
		historyArchiveMaxBytes: historyArchiveMaxBytes(env),
		reportsPerDay: wholeVar(env, "REPORTS_PER_DAY", 5, 1),
		suspension: {
			reporters: numberVar(env, "SUSPEND_AFTER_REPORTERS", 3),
			reportWindowMs: numberVar(env, "SUSPEND_REPORT_WINDOW_DAYS", 7) * day,
			violations: numberVar(env, "SUSPEND_AFTER_VIOLATIONS", 20),
			violationWindowMs: numberVar(env, "SUSPEND_VIOLATION_WINDOW_MINUTES", 10) * 60_000,
			escalationMs: [numberVar(env, "SUSPEND_FIRST_HOURS", 24) * 3_600_000, numberVar(env, "SUSPEND_SECOND_DAYS", 7) * day],
		},
		flags: {
			burstDistinct: numberVar(env, "FLAG_CONTACT_BURST_DISTINCT", 10),
			burstWindowMs: numberVar(env, "FLAG_CONTACT_BURST_MINUTES", 60) * 60_000,
			lowAcceptMinRequests: numberVar(env, "FLAG_LOW_ACCEPT_MIN_REQUESTS", 10),
			lowAcceptRatio: percentVar(env, "FLAG_LOW_ACCEPT_PERCENT", 20),
			// Two gaps at least: the spread of a single gap is always zero.
			regularSample: wholeVar(env, "FLAG_REGULAR_SAMPLE", 10, 2),
			regularMaxVariation: percentVar(env, "FLAG_REGULAR_VARIATION_PERCENT", 2),
		},
		trustPromotion: { minAgeMs: numberVar(env, "TRUST_AFTER_DAYS", 7) * day, minMessages: numberVar(env, "TRUST_AFTER_MESSAGES", 20) },
		creditFlush: {
			charges: numberVar(env, "CREDIT_FLUSH_CHARGES", 50),
			maxAgeMs: numberVar(env, "CREDIT_FLUSH_SECONDS", 300) * 1000,
			idleMs: 1000,
		},
		uploadTtlMs: numberVar(env, "UPLOAD_TTL_MINUTES", 60) * 60_000,
		calls: {
			ringTimeoutMs: numberVar(env, "CALL_RING_SECONDS", 45) * 1000,
			limits: {
				bytesPerCall: numberVar(env, "CALL_SIGNAL_KIB_PER_CALL", 256) * 1024,
				signals: numberVar(env, "CALL_SIGNALS_PER_MINUTE", 200),
				signalWindowMs: 60_000,
				starts: numberVar(env, "CALLS_PER_WINDOW", 10),
				startWindowMs: numberVar(env, "CALL_WINDOW_MINUTES", 10) * 60_000,
			},
		},
		turn: turnConfig(env),
		purchases: purchaseConfig(env),
		push: pushConfig(env),
	};
	cache.set(env, config);
	return config;
}

const ICE_URL = /^(stun|stuns|turn|turns):[^\s,]+$/;

/** STUN_URLS / TURN_URLS: separated by spaces or commas; anything that is not a STUN or TURN URL is dropped and logged. */
function iceUrls(env: Env, name: "STUN_URLS" | "TURN_URLS"): string[] {
	const raw: unknown = env[name];
	if (typeof raw !== "string") return [];
	const urls = raw.split(/[\s,]+/).filter(Boolean);
	const valid = urls.filter((url) => ICE_URL.test(url));
	if (valid.length !== urls.length) {
		console.error(
			JSON.stringify({ event: "config_error", problem: `${name} has entries that are not STUN or TURN URLs; they are ignored` }),
		);
	}
	return valid;
}

const nonEmpty = (value: unknown): string | null => (typeof value === "string" && value.length > 0 ? value : null);

/** TURN is optional: without a secret (or a Cloudflare TURN key) only STUN is handed out. */
function turnConfig(env: Env): TurnConfig {
	const keyId = nonEmpty(env.TURN_CLOUDFLARE_KEY_ID);
	const apiToken = nonEmpty(env.TURN_CLOUDFLARE_API_TOKEN);
	return {
		stunUrls: iceUrls(env, "STUN_URLS"),
		turnUrls: iceUrls(env, "TURN_URLS"),
		secret: nonEmpty(env.TURN_SECRET),
		ttlSeconds: Math.max(60, numberVar(env, "TURN_TTL_SECONDS", 43_200)),
		cloudflare: keyId !== null && apiToken !== null ? { keyId, apiToken } : null,
	};
}

/** Stripe's smallest charge is around 50 cents in most currencies; a pack far below it is a typo. */
const MIN_PACK_PRICE = 50;

/** CREDIT_PACKS: "credits:price" pairs (price in cents), separated by commas, e.g. "100:200,500:1000". */
export function parseCreditPacks(raw: string): CreditPack[] {
	const entries = raw
		.split(",")
		.map((entry) => entry.trim())
		.filter(Boolean);
	const packs = entries.map((entry) => {
		const match = /^(\d{1,9}):(\d{1,9})$/.exec(entry);
		const credits = Number(match?.[1]);
		const price = Number(match?.[2]);
		if (!match || credits < 1 || price < MIN_PACK_PRICE) {
			throw misconfigured(
				`CREDIT_PACKS must list credits:price-in-cents pairs (price at least ${MIN_PACK_PRICE}), like "100:200,500:1000".`,
			);
		}
		return { credits, price };
	});
	// A pack is named by its credits (POST /api/credits/checkout {pack}), so two of one size would be ambiguous.
	if (new Set(packs.map((p) => p.credits)).size !== packs.length) throw misconfigured("CREDIT_PACKS lists two packs of the same size.");
	return packs.sort((a, b) => a.credits - b.credits);
}

/**
 * Selling credits needs both Stripe secrets: without them the credits panel tells how this
 * deployment grants credits instead (the admin API). With them, a missing or malformed pack
 * list or currency is a configuration error, not a shop that sells nothing.
 */
function purchaseConfig(env: Env): PurchaseConfig | null {
	const secretKey = nonEmpty(env.STRIPE_SECRET_KEY);
	const webhookSecret = nonEmpty(env.STRIPE_WEBHOOK_SECRET);
	if (secretKey === null && webhookSecret === null) return null;
	if (secretKey === null || webhookSecret === null)
		throw misconfigured("Set both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or neither.");
	const packs = parseCreditPacks(typeof env.CREDIT_PACKS === "string" ? env.CREDIT_PACKS : "");
	if (packs.length === 0) throw misconfigured("CREDIT_PACKS lists no pack, but Stripe is configured.");
	const currency = typeof env.CREDIT_CURRENCY === "string" ? env.CREDIT_CURRENCY.trim().toLowerCase() : "";
	if (!/^[a-z]{3}$/.test(currency)) throw misconfigured("CREDIT_CURRENCY must be a three-letter ISO currency code, like usd.");
	let apiBase: URL;
	try {
		apiBase = new URL(nonEmpty(env.STRIPE_API_BASE) ?? "https://api.stripe.com");
	} catch {
		throw misconfigured("STRIPE_API_BASE must be a URL, like https://api.stripe.com.");
	}
	if (apiBase.protocol !== "https:" && apiBase.protocol !== "http:") throw misconfigured("STRIPE_API_BASE must be an http(s) URL.");
	return { secretKey, webhookSecret, apiBase, currency, packs };
}

const VAPID_PUBLIC = /^[A-Za-z0-9_-]{87}$/;
const VAPID_PRIVATE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Web Push needs the VAPID key pair and a subject: without any of the keys the relay sends no
 * pushes (GET /api/push/key says so and the client does not subscribe). Half a pair, or a
 * subject a push service could not use to reach the operator, is a configuration error. That
 * the private key belongs to the public one is checked where it is imported (push-notifier.ts).
 */
function pushConfig(env: Env): PushConfig | null {
	const publicKey = nonEmpty(env.VAPID_PUBLIC_KEY);
	const privateKey = nonEmpty(env.VAPID_PRIVATE_KEY);
	if (publicKey === null && privateKey === null) return null;
	if (publicKey === null || privateKey === null) throw misconfigured("Set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither.");
	if (!VAPID_PUBLIC.test(publicKey) || !publicKey.startsWith("B")) {
		throw misconfigured("VAPID_PUBLIC_KEY must be an uncompressed P-256 public key in base64url (87 characters, starting with B).");
	}
	if (!VAPID_PRIVATE.test(privateKey)) throw misconfigured("VAPID_PRIVATE_KEY must be a P-256 private key in base64url (43 characters).");
	const subject = nonEmpty(env.VAPID_SUBJECT);
	if (subject === null || !/^(mailto:\S+@\S+|https:\/\/\S+)$/.test(subject)) {
		throw misconfigured("VAPID_SUBJECT must be a mailto: or https: URL where push services can reach the operator.");
	}
	return { publicKey, privateKey, subject, coalesceMs: wholeVar(env, "PUSH_COALESCE_MS", 30_000) };
}
