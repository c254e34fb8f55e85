import { describe, expect, it } from "vitest";
import { quotaNotice } from "../../client/app/send-window-text.ts";
import type { AccountStatus } from "../../common/protocol/wire.ts";

const account = (quotaLeft: number | null): AccountStatus => ({
	accountId: "a".repeat(22),
	handle: "alice",
	trust: "untrusted",
	credits: 50,
	quotaLeft,
});

describe("the quota line of the composer", () => {
	const now = new Date(2026, 11, 2, 9, 0).getTime();

	it("says nothing while the quota has room or there is none", () => {
		expect(quotaNotice({ account: account(3), nextSendAt: null }, now)).toBeNull();
		expect(quotaNotice({ account: account(null), nextSendAt: null }, now)).toBeNull();
		expect(quotaNotice({ account: null, nextSendAt: null }, now)).toBeNull();
	});

	it("gives the time the quota frees when the relay said it, and that writing goes on", () => {
		const at = new Date(2026, 11, 2, 14, 32).getTime();
		const text = quotaNotice({ account: account(0), nextSendAt: at }, now);
		expect(text).toMatch(/^You have used today's message allowance\. What you write now waits and sends at 0?2:32 PM\.$|sends at 14:32\.$/);
	});

	it("says how it frees when the time is not known (or already past)", () => {
		expect(quotaNotice({ account: account(0), nextSendAt: now - 1 }, now)).toBe(
			"You have used today's message allowance. What you write now waits and sends as the day's first messages age.",
		);
	});
});
