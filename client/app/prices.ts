import type { LimitsResponse, TrustLevel } from "../../worker/protocol/wire.ts";

const MB = 1024 * 1024;
/** The relay's attachment tiers (worker/abuse/pricing.ts), to show a price before a file is sent. */
export const MAX_ATTACHMENT_BYTES = 50 * MB;

export type FilePrice = { ok: true; price: number } | { ok: false; reason: string };

export function filePrice(size: number, trust: TrustLevel | undefined, limits: LimitsResponse): FilePrice {
	if (size > MAX_ATTACHMENT_BYTES) return { ok: false, reason: "Files may be at most 50 MB." };
	if (size < MB) return { ok: true, price: limits.prices.attachmentSmall };
	if (trust === undefined || trust === "untrusted") return { ok: false, reason: "Files of 1 MB or more need a trusted account." };
	return { ok: true, price: size <= 10 * MB ? limits.prices.attachmentMedium : limits.prices.attachmentLarge };
}

/** "820 KB", "3.4 MB". */
export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < MB) return `${Math.ceil(bytes / 1024)} KB`;
	return `${(bytes / MB).toFixed(1)} MB`;
}
