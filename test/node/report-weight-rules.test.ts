import { describe, expect, it } from "vitest";
import { reportRetryAfter } from "../../worker/abuse/report-allowance.ts";
import {
	MIN_REPORTERS,
	NEW_ACCOUNT_MS,
	type Reporter,
	type ReporterStanding,
	reportCounts,
	reportOutcome,
	reportWeight,
	waveReached,
} from "../../worker/abuse/report-weight.ts";

const DAY = 86_400_000;
const NOW = 1_700_000_000_000;
/** wrangler.toml's SUSPEND_AFTER_REPORTERS: the weight that suspends. */
const NEEDED = 3;

const talkedTo: ReporterStanding = { contactState: "accepted", messagesReceived: 1 };
const oldUntrusted: Reporter = { trust: "untrusted", createdAt: NOW - 30 * DAY };

describe("reportCounts", () => {
	it("counts an accepted contact who received at least one message, and one who blocked after receiving", () => {
		expect(reportCounts(talkedTo)).toBe(true);
		expect(reportCounts({ contactState: "blocked", messagesReceived: 3 })).toBe(true);
	});

	it("does not count a stranger who was only sent a request, however they answered it", () => {
		for (const contactState of ["incoming", "declined", "blocked", "outgoing"] as const) {
			expect([contactState, reportCounts({ contactState, messagesReceived: 0 })]).toEqual([contactState, false]);
		}
	});

	it("does not count an accepted contact the account never wrote to", () => {
		expect(reportCounts({ contactState: "accepted", messagesReceived: 0 })).toBe(false);
	});

	it("does not count a pending or declined contact even with messages on record (they came before a decline)", () => {
		expect(reportCounts({ contactState: "declined", messagesReceived: 5 })).toBe(false);
		expect(reportCounts({ contactState: "incoming", messagesReceived: 5 })).toBe(false);
	});
});

describe("reportWeight", () => {
	it("weighs 0.5 for an untrusted account under a day old, 1 from a day on, 2 trusted, 3 verified", () => {
		expect(reportWeight({ trust: "untrusted", createdAt: NOW }, talkedTo, NOW)).toBe(0.5);
		expect(reportWeight({ trust: "untrusted", createdAt: NOW - NEW_ACCOUNT_MS + 1 }, talkedTo, NOW)).toBe(0.5);
		expect(reportWeight({ trust: "untrusted", createdAt: NOW - NEW_ACCOUNT_MS }, talkedTo, NOW)).toBe(1);
		expect(reportWeight(oldUntrusted, talkedTo, NOW)).toBe(1);
		expect(reportWeight({ trust: "trusted", createdAt: NOW }, talkedTo, NOW)).toBe(2);
		expect(reportWeight({ trust: "verified", createdAt: NOW }, talkedTo, NOW)).toBe(3);
	});

	it("weighs 0 for a report that does not count, whoever files it", () => {
		const stranger: ReporterStanding = { contactState: "incoming", messagesReceived: 0 };
		for (const trust of ["untrusted", "trusted", "verified"] as const) {
			expect([trust, reportWeight({ trust, createdAt: NOW - 365 * DAY }, stranger, NOW)]).toEqual([trust, 0]);
		}
	});
});

describe("waveReached", () => {
	it("needs the weight from at least two reporters", () => {
		expect(MIN_REPORTERS).toBe(2);
		expect(waveReached({ reporters: 1, weight: 3 }, NEEDED)).toBe(false);
		expect(waveReached({ reporters: 2, weight: 3 }, NEEDED)).toBe(true);
		expect(waveReached({ reporters: 2, weight: 2.5 }, NEEDED)).toBe(false);
		// Six accounts made today that were written to: 6 × 0.5.
		expect(waveReached({ reporters: 6, weight: 3 }, NEEDED)).toBe(true);
		expect(waveReached({ reporters: 5, weight: 2.5 }, NEEDED)).toBe(false);
	});

	it("never reaches with weightless reports, however many", () => {
		expect(waveReached({ reporters: 0, weight: 0 }, NEEDED)).toBe(false);
	});
});

describe("reportOutcome", () => {
	const reached = { reporters: 3, weight: 3 };
	const clean = { suspensionLevel: 0, suspendedNow: false, reviewPending: false };

	it("suspends a first offender (the first level only)", () => {
		expect(reportOutcome(clean, reached, NEEDED)).toBe("suspend");
	});

	it("sends anyone suspended before to review instead, during a suspension too", () => {
		expect(reportOutcome({ ...clean, suspensionLevel: 1 }, reached, NEEDED)).toBe("review");
		expect(reportOutcome({ ...clean, suspensionLevel: 1, suspendedNow: true }, reached, NEEDED)).toBe("review");
		expect(reportOutcome({ ...clean, suspensionLevel: 2 }, reached, NEEDED)).toBe("review");
	});

	it("does nothing below the threshold, or while a review already waits", () => {
		expect(reportOutcome(clean, { reporters: 3, weight: 2.5 }, NEEDED)).toBe("none");
		expect(reportOutcome({ ...clean, suspensionLevel: 1, reviewPending: true }, reached, NEEDED)).toBe("none");
	});

	it("follows the configured weight", () => {
		expect(reportOutcome(clean, { reporters: 2, weight: 2 }, 2)).toBe("suspend");
		expect(reportOutcome(clean, { reporters: 3, weight: 3 }, 4)).toBe("none");
	});
});

describe("reportRetryAfter", () => {
	it("lets the fifth report of the day through and refuses the sixth until the oldest leaves the window", () => {
		expect(reportRetryAfter(4, NOW - 10 * 3_600_000, NOW, 5)).toBeNull();
		expect(reportRetryAfter(5, NOW - 10 * 3_600_000, NOW, 5)).toBe(14 * 3_600_000);
	});

	it("never answers a wait of 0", () => {
		expect(reportRetryAfter(5, NOW - DAY, NOW, 5)).toBe(1);
	});
});
