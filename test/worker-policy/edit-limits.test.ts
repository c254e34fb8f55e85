import { describe, expect, it } from "vitest";
import { useFakeClock } from "../worker/fake-clock.ts";
import { contactPair, sealedSend } from "../worker/fixtures.ts";
import { connect, type TestSocket, type TestUser } from "../worker/helpers.ts";

const SECOND = 1000;
const advance = useFakeClock();

/** Send a text, or an edit or delete of `replaces`; the relay's answer to it. */
async function send(
	socket: TestSocket,
	from: TestUser,
	to: TestUser,
	key: Uint8Array,
	change?: { kind: "edit" | "delete"; replaces: string },
) {
	const frame = { ...sealedSend(from, to, key, change?.kind === "delete" ? "" : "hi"), ...change };
	socket.send(frame);
	return {
		id: frame.id,
		reply: await Promise.race([socket.next("sent", (s) => s.id === frame.id), socket.next("error", (e) => e.ref === frame.id)]),
	};
}

describe("edits and deletes under the send limits", () => {
	it("refuses an edit inside 10 s of a send as rate_limited, charging nothing, and counts a passed edit as a send against the rate and the quota", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const original = await send(a, alice, bob, key);
		expect(original.reply).toMatchObject({ type: "sent", quotaLeft: 19 });
		const credits = original.reply.type === "sent" ? original.reply.credits : undefined;
		advance(4 * SECOND);
		const early = await send(a, alice, bob, key, { kind: "edit", replaces: original.id });
		expect(early.reply).toMatchObject({ type: "error", code: "rate_limited", retryAfter: 6 * SECOND });
		advance(6 * SECOND);
		const edit = await send(a, alice, bob, key, { kind: "edit", replaces: original.id });
		expect(edit.reply).toMatchObject({ type: "sent", quotaLeft: 18, credits: (credits as number) - 2 });
		// The edit holds the window like a send.
		advance(SECOND);
		expect((await send(a, alice, bob, key)).reply).toMatchObject({ code: "rate_limited", retryAfter: 9 * SECOND });
	});

	it("does not count a delete: it passes right after a send, leaves the quota as it was, and the next send waits only for that send", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const original = await send(a, alice, bob, key);
		expect(original.reply).toMatchObject({ type: "sent", quotaLeft: 19 });
		advance(SECOND);
		const del = await send(a, alice, bob, key, { kind: "delete", replaces: original.id });
		const credits = original.reply.type === "sent" ? original.reply.credits : undefined;
		expect(del.reply).toMatchObject({ type: "sent", quotaLeft: 19, credits: (credits as number) - 1 });
		advance(9 * SECOND);
		expect((await send(a, alice, bob, key)).reply).toMatchObject({ type: "sent", quotaLeft: 18 });
	});
});
