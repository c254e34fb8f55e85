import { priceOf } from "../../common/pricing.ts";
import type { LimitsResponse, TrustLevel } from "../../common/protocol/wire.ts";

const MB = 1024 * 1024;

export type FilePrice = { ok: true; price: number } | { ok: false; reason: string };

/** The relay's own pricing rule (common/pricing.ts) over the tiers GET /api/limits publishes, to show a price before a file is sent. */
export function filePrice(size: number, trust: TrustLevel | undefined, limits: LimitsResponse): FilePrice {
	const verdict = priceOf({ kind: "attachment", bytes: size }, trust ?? "untrusted", limits.prices, limits.attachmentTiers);
	return verdict.ok ? verdict : { ok: false, reason: verdict.message };
}

/** "820 KB", "3.4 MB". */
export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < MB) return `${Math.ceil(bytes / 1024)} KB`;
	return `${(bytes / MB).toFixed(1)} MB`;
}

/** A price in the currency's smallest unit (cents; yen have none), as `locale` writes money: "$2.00", "¥500". */
export function formatPrice(amount: number, currency: string, locale?: string): string {
	const format = new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() });
	return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}
