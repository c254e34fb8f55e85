import { describe, expect, it } from "vitest";
import { earnsTrust, type TrustHistory } from "../../worker/abuse/trust-promotion.ts";

// wrangler.toml's defaults: trusted after 7 days and 20 messages, with a clean history.
const DAY = 24 * 60 * 60 * 1000;
const RULES = { minAgeMs: 7 * DAY, minMessages: 20 };
const NOW = 1_700_000_000_000;

/** Exactly at every boundary: 7 days old to the millisecond, exactly 20 messages, never suspended, never reported. */
const atTheLine: TrustHistory = { createdAt: NOW - 7 * DAY, messagesSent: 20, everSuspended: false, reportsAgainst: 0 };

describe("earnsTrust", () => {
	it("promotes an account exactly 7 days old with exactly 20 messages and a clean history", () => {
		expect(earnsTrust(atTheLine, NOW, RULES)).toBe(true);
	});

	it("promotes an older, busier account with a clean history", () => {
		expect(earnsTrust({ ...atTheLine, createdAt: NOW - 400 * DAY, messagesSent: 10_000 }, NOW, RULES)).toBe(true);
	});

	it("does not promote an account one millisecond short of 7 days", () => {
		expect(earnsTrust({ ...atTheLine, createdAt: NOW - 7 * DAY + 1 }, NOW, RULES)).toBe(false);
	});

	it("promotes the same account one millisecond later", () => {
		const young = { ...atTheLine, createdAt: NOW - 7 * DAY + 1 };
		expect(earnsTrust(young, NOW + 1, RULES)).toBe(true);
	});

	it("does not promote an account with 19 messages, however old", () => {
		expect(earnsTrust({ ...atTheLine, createdAt: NOW - 365 * DAY, messagesSent: 19 }, NOW, RULES)).toBe(false);
	});

	it("never promotes an account that was ever suspended, however old and busy", () => {
		expect(earnsTrust({ ...atTheLine, createdAt: NOW - 365 * DAY, messagesSent: 10_000, everSuspended: true }, NOW, RULES)).toBe(false);
	});

	it("does not promote an account with a single report against it", () => {
		expect(earnsTrust({ ...atTheLine, reportsAgainst: 1 }, NOW, RULES)).toBe(false);
		expect(earnsTrust({ ...atTheLine, reportsAgainst: 50 }, NOW, RULES)).toBe(false);
	});

	it("fails on each condition alone while the other three are met", () => {
		const failing: [string, Partial<TrustHistory>][] = [
			["too young", { createdAt: NOW - DAY }],
			["too few messages", { messagesSent: 0 }],
			["once suspended", { everSuspended: true }],
			["reported", { reportsAgainst: 2 }],
		];
		for (const [why, change] of failing) expect([why, earnsTrust({ ...atTheLine, ...change }, NOW, RULES)]).toEqual([why, false]);
	});

	it("does not promote an account whose creation time lies in the future (a clock that ran ahead)", () => {
		expect(earnsTrust({ ...atTheLine, createdAt: NOW + DAY }, NOW, RULES)).toBe(false);
	});

	it("follows the configured thresholds, not fixed ones", () => {
		const strict = { minAgeMs: 30 * DAY, minMessages: 100 };
		expect(earnsTrust(atTheLine, NOW, strict)).toBe(false);
		expect(earnsTrust({ ...atTheLine, createdAt: NOW - 30 * DAY, messagesSent: 100 }, NOW, strict)).toBe(true);
		// With no thresholds, a brand-new clean account is trusted at once; a suspension still bars it.
		const none = { minAgeMs: 0, minMessages: 0 };
		expect(earnsTrust({ createdAt: NOW, messagesSent: 0, everSuspended: false, reportsAgainst: 0 }, NOW, none)).toBe(true);
		expect(earnsTrust({ createdAt: NOW, messagesSent: 0, everSuspended: true, reportsAgainst: 0 }, NOW, none)).toBe(false);
	});
});
