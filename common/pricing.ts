// Types from the wire protocol only: the web app prices files with this same function.
import type { LimitsResponse, TrustLevel } from "./protocol/wire.ts";

type Prices = LimitsResponse["prices"];

/** The attachment size tiers (defaults 1 / 10 / 50 MB), from wrangler.toml's ATTACHMENT_*_MB vars. */
export interface AttachmentTiers {
	/** Below this: the small price, open to every trust level. */
	smallBelowBytes: number;
	/** From smallBelowBytes up to and including this: the medium price; above it, the large one. */
	mediumUpToBytes: number;
	/** Above this an attachment is refused. */
	maxBytes: number;
}

export type PricedAction = { kind: "text" } | { kind: "edit" } | { kind: "delete" } | { kind: "attachment"; bytes: number };

export type PriceVerdict = { ok: true; price: number } | { ok: false; code: "too_large" | "forbidden"; message: string };

/** "1 MB", "0.5 MB": tiers are configured in MB, so messages name them that way. */
export const megabytes = (bytes: number): string => `${Number((bytes / (1024 * 1024)).toFixed(2))} MB`;

/** What sending costs (the PRICE_* vars). Reading, receiving and acking are free, so they have no price at all. */
export function priceOf(action: PricedAction, trust: TrustLevel, prices: Prices, tiers: AttachmentTiers): PriceVerdict {
	switch (action.kind) {
		case "text":
			return { ok: true, price: prices.text };
		case "edit":
			return { ok: true, price: prices.edit };
		case "delete":
			return { ok: true, price: prices.delete };
		case "attachment": {
			if (action.bytes > tiers.maxBytes)
				return { ok: false, code: "too_large", message: `Attachments may be at most ${megabytes(tiers.maxBytes)}.` };
			if (action.bytes < tiers.smallBelowBytes) return { ok: true, price: prices.attachmentSmall };
			if (trust === "untrusted") {
				const message = `Attachments of ${megabytes(tiers.smallBelowBytes)} or more need a trusted account.`;
				return { ok: false, code: "forbidden", message };
			}
			return { ok: true, price: action.bytes <= tiers.mediumUpToBytes ? prices.attachmentMedium : prices.attachmentLarge };
		}
	}
}
