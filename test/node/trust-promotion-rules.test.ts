import { describe, expect, it } from "vitest";
import { earnsTrust, type TrustHistory } from "../../worker/abuse/trust-promotion.ts";

// wrangler.toml's defaults: trusted after 7 days and 20 messages, unless suspended now or held by an admin.
const DAY = 24 * 60 * 60 * 1000;
const RULES = { minAgeMs: 7 * DAY, minMessages: 20 };
const NOW = 1_700_000_000_000;

/** Exactly at every boundary: 7 days old to the millisecond, exactly 20 messages, not suspended, not held. */
const atTheLine: TrustHistory = { createdAt: NOW - 7 * DAY, messagesSent: 20, suspendedUntil: null, heldByAdmin: false };

describe("earnsTrust", () => {
	it("promotes an account exactly 7 days old with exactly 20 messages", () => {
		expect(earnsTrust(atTheLine, NOW, RULES)).toBe(true);
	});

	it("promotes an older, busier account", () => {
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

	it("does not promote while a suspension lasts, and does once it ended", () => {
		expect(earnsTrust({ ...atTheLine, suspendedUntil: NOW + 1 }, NOW, RULES)).toBe(false);
		expect(earnsTrust({ ...atTheLine, suspendedUntil: NOW }, NOW, RULES)).toBe(true);
		expect(earnsTrust({ ...atTheLine, suspendedUntil: NOW - 30 * DAY }, NOW, RULES)).toBe(true);
	});

	it("does not promote an account an admin holds back, however old and busy", () => {
		expect(earnsTrust({ ...atTheLine, createdAt: NOW - 365 * DAY, messagesSent: 10_000, heldByAdmin: true }, NOW, RULES)).toBe(false);
	});

	it("fails on each condition alone while the others are met", () => {
		const failing: [string, Partial<TrustHistory>][] = [
			["too young", { createdAt: NOW - DAY }],
			["too few messages", { messagesSent: 0 }],
			["suspended now", { suspendedUntil: NOW + DAY }],
			["held by an admin", { heldByAdmin: true }],
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
		// With no thresholds, a brand-new account is trusted at once; a running suspension still bars it.
		const none = { minAgeMs: 0, minMessages: 0 };
		expect(earnsTrust({ createdAt: NOW, messagesSent: 0, suspendedUntil: null, heldByAdmin: false }, NOW, none)).toBe(true);
		expect(earnsTrust({ createdAt: NOW, messagesSent: 0, suspendedUntil: NOW + 1, heldByAdmin: false }, NOW, none)).toBe(false);
	});
});
