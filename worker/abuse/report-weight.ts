import type { ContactState, TrustLevel } from "../../common/protocol/wire.ts";
import { DAY_MS } from "./send-limits.ts";

/**
 * What a report weighs, and what a wave of them does. Registration is free, so a report
 * from anyone must not be able to suspend anyone: only someone the reported account really
 * talked to counts, and an account made for the purpose counts least. Pure: the report
 * route gathers the facts (the reporter's object knows the contact and the messages, D1
 * the reporter's trust and age).
 */

/** What the reporter's own object knows about the account it reports. */
export interface ReporterStanding {
	/** The reporter's side of the contact. */
	contactState: ContactState;
	/** Messages (text, attachment, edit) the reporter's account received from the reported one. */
	messagesReceived: number;
}

export interface Reporter {
	trust: TrustLevel;
	createdAt: number;
}

/**
 * Weights by the reporter's trust, and for an untrusted one its age: an account made today
 * (the cheapest to make in bulk) weighs half of one that has been around for a day; trust is
 * earned over a week of sending (or given by an admin), so it weighs more; `verified` is only
 * ever an admin's word.
 */
export const REPORT_WEIGHTS = { untrustedNew: 0.5, untrusted: 1, trusted: 2, verified: 3 } as const;
/** Younger than this, an untrusted reporter is `untrustedNew`. */
export const NEW_ACCOUNT_MS = DAY_MS;
/**
 * However much they weigh, fewer distinct reporters than this never suspend: no single
 * account (a verified one weighs 3, the default SUSPEND_AFTER_REPORTERS) suspends anybody.
 */
export const MIN_REPORTERS = 2;

/**
 * A report counts only from someone the reported account talked to: an accepted contact
 * (or one who blocked it since, which is what people do to an abuser) who received at least
 * one message from it. Messages reach only accepted contacts, so a message received proves
 * the contact was accepted when it came; a stranger who was merely sent a request has none.
 */
export function reportCounts(standing: ReporterStanding): boolean {
	return (standing.contactState === "accepted" || standing.contactState === "blocked") && standing.messagesReceived >= 1;
}

/** 0 for a report that does not count (it is still kept, for admins). */
export function reportWeight(reporter: Reporter, standing: ReporterStanding, now: number): number {
	if (!reportCounts(standing)) return 0;
	if (reporter.trust === "verified") return REPORT_WEIGHTS.verified;
	if (reporter.trust === "trusted") return REPORT_WEIGHTS.trusted;
	return now - reporter.createdAt < NEW_ACCOUNT_MS ? REPORT_WEIGHTS.untrustedNew : REPORT_WEIGHTS.untrusted;
}

/**
 * The counting reports against an account since the last time reports were acted on: each
 * reporter once, at the most its reports weighed (a repeat report adds nothing).
 */
export interface Wave {
	reporters: number;
	weight: number;
}

export function waveReached(wave: Wave, weightNeeded: number): boolean {
	return wave.reporters >= MIN_REPORTERS && wave.weight >= weightNeeded;
}

export interface ReportedAccount {
	/** Suspensions so far (abuse/suspension.ts). */
	suspensionLevel: number;
	suspendedNow: boolean;
	/** A review already waits for an admin. */
	reviewPending: boolean;
}

/**
 * `suspend`: the first suspension (SUSPEND_FIRST_HOURS), the only one reports apply by
 * themselves. `review`: an account suspended before goes to the admins' review queue
 * instead; only an admin's confirmation applies the next, longer level, since a mistaken or
 * coordinated wave must never cost anyone a week or their account unseen.
 */
export type ReportOutcome = "none" | "suspend" | "review";

export function reportOutcome(account: ReportedAccount, wave: Wave, weightNeeded: number): ReportOutcome {
	if (!waveReached(wave, weightNeeded) || account.reviewPending) return "none";
	if (account.suspensionLevel === 0) return account.suspendedNow ? "none" : "suspend";
	return "review";
}
