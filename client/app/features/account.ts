import type { AccountStatus, CreditHistory } from "../../../common/protocol/wire.ts";
import type { MessengerClient, SentReceipt } from "../../core/sdk.ts";
import type { SdkError } from "../../core/sdk-error.ts";
import type { MessengerStore } from "../store.ts";
import type { Notices } from "./notices.ts";

export type AccountClient = Pick<MessengerClient, "accountStatus" | "creditHistory" | "limits">;

/**
 * When the rate limit next allows a send, on this device's clock (`clockOffset`: the relay's
 * clock minus this one); null when it allows one now.
 */
export function localNextSendAt(relayNextSendAt: number | undefined, clockOffset: number, now: number): number | null {
	if (relayNextSendAt === undefined) return null;
	const local = relayNextSendAt - clockOffset;
	return local > now ? local : null;
}

/** The account once a receipt told what a send left of the credits and today's allowance. */
export function accountAfterReceipt(account: AccountStatus, { credits, quotaLeft }: SentReceipt): AccountStatus {
	return { ...account, ...(credits !== undefined && { credits }), ...(quotaLeft !== undefined && { quotaLeft }) };
}

/** A refusal of a send that means the account's credits, allowance or standing changed. */
export function refusalChangesAccount(error: SdkError): boolean {
	return error.code === "quota_exceeded" || error.code === "insufficient_credits" || error.code === "suspended";
}

/** The account's standing (credits, allowance, trust, suspension), the relay's limits and prices, and the rate limit. */
export class Account {
	/** Relay clock minus this device's clock, estimated from the receipts of sends. */
	private clockOffset = 0;

	constructor(
		private readonly store: MessengerStore,
		private readonly client: AccountClient,
		private readonly notices: Notices,
	) {}

	/** The limits and prices, which need no account; without them the views show no prices. */
	loadLimits(): void {
		this.client.limits().then(
			(limits) => this.store.update({ limits }),
			() => {},
		);
	}

	async refresh(): Promise<void> {
		try {
			this.apply(await this.client.accountStatus());
		} catch (err) {
			this.notices.report(err);
		}
	}

	apply(account: AccountStatus): void {
		this.store.update({ account, nextSendAt: localNextSendAt(account.nextSendAt, this.clockOffset, Date.now()) });
	}

	/** The relay accepted a send at `acceptedAt`, by its clock. */
	noteRelayClock({ acceptedAt }: SentReceipt): void {
		this.clockOffset = acceptedAt - Date.now();
	}

	/** Show at once what a receipt says the send cost, then ask the relay for the rest. */
	charged(receipt: SentReceipt): void {
		const account = this.store.state.account;
		if (account) this.store.update({ account: accountAfterReceipt(account, receipt) });
		if (receipt.nextSendAt !== undefined) this.store.update({ nextSendAt: receipt.nextSendAt });
		void this.refresh();
	}

	/** Another device of the account sent and reached a limit: the next send from here waits too. */
	sendWindow({ nextSendAt, quotaLeft }: { nextSendAt: number; quotaLeft: number | null }): void {
		const account = this.store.state.account;
		this.store.update({ nextSendAt, ...(account && { account: { ...account, quotaLeft } }) });
	}

	creditHistory(): Promise<CreditHistory> {
		return this.client.creditHistory();
	}
}
