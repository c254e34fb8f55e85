import { describe, expect, it } from "vitest";
import { INDEFINITE, nextSuspension, suspensionMessage } from "../../worker/abuse/suspension.ts";

// wrangler.toml's defaults: 24 h, then 7 days, then indefinite.
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ESCALATION = [24 * HOUR, 7 * DAY];
const NOW = 1_700_000_000_000;

describe("nextSuspension", () => {
	it("suspends a first offender for 24 h", () => {
		expect(nextSuspension(0, NOW, ESCALATION)).toEqual({ level: 1, until: NOW + 24 * HOUR });
	});

	it("suspends a second-time offender for 7 days", () => {
		expect(nextSuspension(1, NOW, ESCALATION)).toEqual({ level: 2, until: NOW + 7 * DAY });
	});

	it("suspends a third-time offender indefinitely", () => {
		expect(nextSuspension(2, NOW, ESCALATION)).toEqual({ level: 3, until: INDEFINITE });
	});

	it("stays indefinite for every later suspension, and keeps counting them", () => {
		expect(nextSuspension(3, NOW, ESCALATION)).toEqual({ level: 4, until: INDEFINITE });
		expect(nextSuspension(10, NOW, ESCALATION)).toEqual({ level: 11, until: INDEFINITE });
	});

	it("counts each duration from now, not from the end of the previous suspension", () => {
		const later = NOW + 30 * DAY;
		expect(nextSuspension(1, later, ESCALATION).until).toBe(later + 7 * DAY);
	});

	it("makes even the first suspension indefinite when no durations are configured", () => {
		expect(nextSuspension(0, NOW, [])).toEqual({ level: 1, until: INDEFINITE });
	});

	it("follows a longer configured ladder step by step", () => {
		const ladder = [HOUR, DAY, 30 * DAY];
		const levels = [0, 1, 2, 3].map((level) => nextSuspension(level, NOW, ladder));
		expect(levels).toEqual([
			{ level: 1, until: NOW + HOUR },
			{ level: 2, until: NOW + DAY },
			{ level: 3, until: NOW + 30 * DAY },
			{ level: 4, until: INDEFINITE },
		]);
	});

	it("stands for 'indefinite' with the latest instant a Date can hold, so it is still a valid time", () => {
		expect(new Date(INDEFINITE).toISOString()).toBe("+275760-09-13T00:00:00.000Z");
		expect(Number.isNaN(new Date(INDEFINITE + 1).getTime())).toBe(true);
		expect(Number.isSafeInteger(INDEFINITE)).toBe(true);
	});
});

describe("suspensionMessage", () => {
	it("names the end of a timed suspension as an ISO time and says messages can still be read", () => {
		expect(suspensionMessage(Date.UTC(2030, 0, 2, 3, 4, 5))).toBe(
			"This account is suspended until 2030-01-02T03:04:05.000Z. You can still read messages.",
		);
	});

	it("says an indefinite suspension lasts until an administrator reviews it, with no date", () => {
		const message = suspensionMessage(INDEFINITE);
		expect(message).toBe("This account is suspended until an administrator reviews it. You can still read messages.");
		expect(message).not.toMatch(/\d{4}-\d{2}-\d{2}/);
	});
});
