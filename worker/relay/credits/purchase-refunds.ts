import { findPurchase, reverseRefund } from "../../db/purchases.ts";
import type { RelayHost } from "../host.ts";
import type { CreditAccount } from "./credit-account.ts";

/**
 * A refund of one of this account's purchases now covers `covered` of its credits: take back
 * what the refunds before had not, through the object (the only place that debits the
 * account, so no send can spend the credits as they go). Credits already spent stay spent:
 * the balance stops at zero (docs/decisions.md, "Buying credits"). Returns the credits taken
 * back, or null when the refund was already applied (Stripe delivers an event again until it
 * hears 200) or names no purchase of this account.
 */
export function takeBackRefund(
	host: Pick<RelayHost, "db" | "accountId" | "now">,
	credits: CreditAccount,
	paymentId: string,
	covered: number,
): Promise<number | null> {
	let before = 0;
	let target = 0;
	return credits.takeBack(
		async () => {
			const purchase = await findPurchase(host.db, paymentId);
			if (!purchase || purchase.accountId !== host.accountId) return null;
			target = Math.min(covered, purchase.credits);
			if (target <= purchase.refundedCredits) return null;
			before = purchase.refundedCredits;
			return target - before;
		},
		(take) => reverseRefund(host.db, { paymentId, accountId: host.accountId, before, covered: target, take }, host.now()),
	);
}
