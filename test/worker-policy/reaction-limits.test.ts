import { describe, expect, it } from "vitest";
import { useFakeClock } from "../worker/fake-clock.ts";
import { contactPair, sealedSend } from "../worker/fixtures.ts";
import { connect } from "../worker/helpers.ts";
import { answerTo, sealedReaction } from "../worker/reaction-frames.ts";

const SECOND = 1000;
const advance = useFakeClock();

describe("reactions under the send limits", () => {
	it("pass right after a send and after each other, use none of the quota, and do not hold the rate window", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const text = sealedSend(alice, bob, key, "hi");
		expect(await answerTo(a, text)).toMatchObject({ type: "sent", quotaLeft: 19 });
		const to = { id: text.id, from: alice.accountId };
		for (const emoji of ["👍", "❤️", "😮", ""]) {
			advance(100);
			expect(await answerTo(a, sealedReaction(alice, bob, key, to, emoji))).toMatchObject({ type: "sent", quotaLeft: 19 });
		}
		// The rate window is the text's alone: 10 s after it, not after the last reaction.
		expect(await answerTo(a, sealedSend(alice, bob, key, "too soon"))).toMatchObject({
			code: "rate_limited",
			retryAfter: 10 * SECOND - 400,
		});
		advance(10 * SECOND - 400);
		expect(await answerTo(a, sealedSend(alice, bob, key, "now"))).toMatchObject({ type: "sent", quotaLeft: 18 });
	});

	it("still pass once the day's quota of messages is spent", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		let last = sealedSend(alice, bob, key, "0");
		for (let i = 0; i < 20; i++) {
			last = sealedSend(alice, bob, key, String(i));
			expect(await answerTo(a, last)).toMatchObject({ type: "sent", quotaLeft: 19 - i });
			advance(10 * SECOND);
		}
		expect(await answerTo(a, sealedSend(alice, bob, key, "one more"))).toMatchObject({ code: "quota_exceeded" });
		expect(await answerTo(a, sealedReaction(alice, bob, key, { id: last.id, from: alice.accountId }, "🙏"))).toMatchObject({
			type: "sent",
			quotaLeft: 0,
		});
	});
});
