import type { Prices } from "../config.ts";
import type { TrustLevel } from "../db/accounts.ts";

const MB = 1024 * 1024;
export const MAX_ATTACHMENT_BYTES = 50 * MB;

export type PricedAction = { kind: "text" } | { kind: "edit" } | { kind: "delete" } | { kind: "attachment"; bytes: number };

export type PriceVerdict = { ok: true; price: number } | { ok: false; code: "too_large" | "forbidden"; message: string };

/** DESIGN §6. Reading, receiving and acking are free, so they have no price at all. */
export function priceOf(action: PricedAction, trust: TrustLevel, prices: Prices): PriceVerdict {
	switch (action.kind) {
		case "text":
			return { ok: true, price: prices.text };
		case "edit":
			return { ok: true, price: prices.edit };
		case "delete":
			return { ok: true, price: prices.delete };
		case "attachment": {
			if (action.bytes > MAX_ATTACHMENT_BYTES) return { ok: false, code: "too_large", message: "Attachments may be at most 50 MB." };
			if (action.bytes < MB) return { ok: true, price: prices.attachmentSmall };
			if (trust === "untrusted") {
				return { ok: false, code: "forbidden", message: "Attachments of 1 MB or more need a trusted account." };
			}
			return { ok: true, price: action.bytes <= 10 * MB ? prices.attachmentMedium : prices.attachmentLarge };
		}
	}
}
