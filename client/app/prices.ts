import type { LimitsResponse, TrustLevel } from "../../worker/protocol/wire.ts";

const MB = 1024 * 1024;

/** A configured limit, "1 MB" or "0.5 MB" (formatBytes would say "1.0 MB"). */
const sizeLimit = (bytes: number): string => `${Number((bytes / MB).toFixed(2))} MB`;

export type FilePrice = { ok: true; price: number } | { ok: false; reason: string };

/** The relay's attachment tiers as GET /api/limits publishes them (worker/abuse/pricing.ts), to show a price before a file is sent. */
export function filePrice(size: number, trust: TrustLevel | undefined, limits: LimitsResponse): FilePrice {
	const tiers = limits.attachmentTiers;
	if (size > tiers.maxBytes) return { ok: false, reason: `Files may be at most ${sizeLimit(tiers.maxBytes)}.` };
	if (size < tiers.smallBelowBytes) return { ok: true, price: limits.prices.attachmentSmall };
	if (trust === undefined || trust === "untrusted")
		return { ok: false, reason: `Files of ${sizeLimit(tiers.smallBelowBytes)} or more need a trusted account.` };
	return { ok: true, price: size <= tiers.mediumUpToBytes ? limits.prices.attachmentMedium : limits.prices.attachmentLarge };
}

/** "820 KB", "3.4 MB". */
export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < MB) return `${Math.ceil(bytes / 1024)} KB`;
	return `${(bytes / MB).toFixed(1)} MB`;
}
