import type { AccountStatus } from "../../../common/protocol/wire.ts";
import { type FlagKind, isMachineRegular, regularTimesNeeded } from "../../abuse/behaviour-flags.ts";
import { DAY_MS } from "../../abuse/send-limits.ts";
import { nextSuspension, suspensionMessage } from "../../abuse/suspension.ts";
import { earnsTrust } from "../../abuse/trust-promotion.ts";
import { heldByAdmin, insertFlag, promoteToTrusted, suspendAccount } from "../../db/abuse.ts";
import { getAccount } from "../../db/accounts.ts";
import type { ActivityCounts } from "../../db/reviews.ts";
import { acceptedPeerIds } from "../contacts/contact-book.ts";
import type { CreditAccount } from "../credits/credit-account.ts";
import type { RelayHost } from "../host.ts";
import { lifetimeSends, newestSendTimes } from "../messaging/sent-messages.ts";
import { type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { readMeta, writeMeta } from "../storage/storage-schema.ts";
import { type CachedAccount, readAccountCache, readCounter, writeAccountCache } from "./account-cache.ts";
import { countSince, logActivity } from "./activity-log.ts";
import type { SendAllowance } from "./send-allowance.ts";

interface Needs {
	readonly hub: SocketHub;
	readonly credits: CreditAccount;
	readonly allowance: SendAllowance;
	readonly devices: { reload(): Promise<unknown> };
}

/**
 * The account as its object knows it: trust, suspension and balance cached from D1 (the
 * authority), its status as devices see it, and the abuse rules that act on it — suspension
 * after repeated refused sends, behavioural flags, promotion to trusted.
 */
export class AccountState {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	/** Fills the caches from D1 on first use: every entry point calls this before anything else. */
	async ensure(): Promise<void> {
		const { sql } = this.host;
		if (readMeta(sql, "devices_loaded") === undefined) await this.s.devices.reload();
		if (readAccountCache(sql) === undefined) await this.reload();
	}

	/** Re-read the account (trust, suspension) and its balance from D1, and tell the devices. */
	async reload(): Promise<AccountStatus> {
		const account = await getAccount(this.host.db, this.host.accountId);
		if (!account) throw new Error("account missing from D1");
		writeAccountCache(this.host.sql, account);
		await this.s.credits.refresh(this.host.now());
		const status = this.status();
		this.s.hub.broadcast({ type: "account", account: status });
		return status;
	}

	cached(): CachedAccount {
		const account = readAccountCache(this.host.sql);
		if (!account) throw new Error("account cache read before it was loaded");
		return account;
	}

	status(): AccountStatus {
		const account = this.cached();
		const now = this.host.now();
		const { allowance } = this.s;
		const rules = allowance.rules(account);
		const counts = allowance.counts(now, rules);
		const verdict = allowance.verdict(counts, now, rules);
		return {
			accountId: this.host.accountId,
			handle: account.handle,
			trust: account.trust,
			credits: this.s.credits.available(),
			quotaLeft: allowance.quotaLeft(account, counts.inDay),
			...(!verdict.ok && { nextSendAt: now + verdict.retryAfterMs }),
			...(account.suspendedUntil !== null && account.suspendedUntil > now && { suspendedUntil: account.suspendedUntil }),
		};
	}

	suspensionRefusal(): RelayResult<never> | null {
		const { suspendedUntil } = this.cached();
		const now = this.host.now();
		if (suspendedUntil === null || suspendedUntil <= now) return null;
		return refuse("suspended", suspensionMessage(suspendedUntil), suspendedUntil - now);
	}

	/** Repeated refused sends suspend the account. */
	async noteRefusedSend(now: number): Promise<void> {
		const { violations, violationWindowMs } = this.host.config().suspension;
		logActivity(this.host.sql, "refused_send", now);
		if (countSince(this.host.sql, "refused_send", now - violationWindowMs) >= violations) {
			await this.suspend(`${violations} refused sends within ${violationWindowMs / 60_000} minutes`);
		}
	}

	/** Escalating suspension, written to D1 first: D1 is the authority. */
	private async suspend(reason: string): Promise<void> {
		const { accountId } = this.host;
		const now = this.host.now();
		const next = nextSuspension(this.cached().suspensionLevel, now, this.host.config().suspension.escalationMs);
		await suspendAccount(this.host.db, accountId, { until: next.until, level: next.level, reason, now });
		console.log(JSON.stringify({ event: "account_suspended", accountId, reason, level: next.level }));
		await this.reload();
	}

	/** A behavioural flag for admins, raised at most once a day per kind. */
	async raiseFlag(kind: FlagKind, detail: string): Promise<void> {
		const now = this.host.now();
		const last = Number(readMeta(this.host.sql, `flag:${kind}`) ?? 0);
		if (now - last < DAY_MS) return;
		writeMeta(this.host.sql, `flag:${kind}`, String(now));
		await insertFlag(this.host.db, { accountId: this.host.accountId, kind, detail, now });
	}

	/** Flags and trust promotion look at the send history; both are rare D1 writes. */
	async afterSend(now: number): Promise<void> {
		const flagRules = this.host.config().flags;
		if (isMachineRegular(newestSendTimes(this.host.sql, regularTimesNeeded(flagRules)).reverse(), flagRules)) {
			await this.raiseFlag("regular_intervals", "messages sent at machine-regular intervals");
		}
		await this.maybePromote(now);
	}

	/** What an admin reviewing reports against this account sees of it: counts only. */
	activityCounts(): ActivityCounts {
		const { sql } = this.host;
		return {
			messagesSent: lifetimeSends(sql),
			requestsSent: readCounter(sql, "requests_sent"),
			requestsAccepted: readCounter(sql, "requests_accepted"),
			contacts: acceptedPeerIds(sql).length,
		};
	}

	private async maybePromote(now: number): Promise<void> {
		const { sql } = this.host;
		const account = this.cached();
		if (account.trust !== "untrusted") return;
		const history = {
			createdAt: account.createdAt,
			messagesSent: lifetimeSends(sql),
			suspendedUntil: account.suspendedUntil,
			heldByAdmin: false,
		};
		if (!earnsTrust(history, now, this.host.config().trustPromotion)) return;
		// An admin's hold lives in D1; ask at most once a day, and only once the local checks pass.
		const lastCheck = Number(readMeta(sql, "trust_checked_at") ?? 0);
		if (now - lastCheck < DAY_MS) return;
		writeMeta(sql, "trust_checked_at", String(now));
		if (
			!earnsTrust({ ...history, heldByAdmin: await heldByAdmin(this.host.db, this.host.accountId) }, now, this.host.config().trustPromotion)
		)
			return;
		if (await promoteToTrusted(this.host.db, this.host.accountId)) await this.reload();
	}
}
