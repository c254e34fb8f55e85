/**
 * The `reaction` kind at the relay: priced apart, capped small, routed like a text (it names
 * its message only inside the sealed body, so no queued message is swapped or dropped for it),
 * between accepted contacts only.
 */
import { describe, expect, it } from "vitest";
import { fromB64u } from "../../common/encoding.ts";
import { MAX_SEALED_REACTION_BYTES } from "../../common/protocol/wire.ts";
import { contactPair, newMessageId, sealedSend } from "./fixtures.ts";
import { connect, registerUser } from "./helpers.ts";
import { answerTo, sealedReaction } from "./reaction-frames.ts";

describe("a reaction", () => {
	it("is charged the reaction price (1 credit), and another one, or an empty one, changes it for the same price", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const text = sealedSend(alice, bob, key, "lunch?");
		const sent = await answerTo(a, text);
		expect(sent).toMatchObject({ type: "sent" });
		const before = sent.type === "sent" ? (sent.credits as number) : Number.NaN;
		const to = { id: text.id, from: alice.accountId };
		expect(await answerTo(a, sealedReaction(alice, bob, key, to, "👍"))).toMatchObject({ type: "sent", credits: before - 1 });
		expect(await answerTo(a, sealedReaction(alice, bob, key, to, "❤️"))).toMatchObject({ type: "sent", credits: before - 2 });
		expect(await answerTo(a, sealedReaction(alice, bob, key, to, ""))).toMatchObject({ type: "sent", credits: before - 3 });
	});

	it("is refused as too_large above 1 KiB sealed, charging nothing; exactly 1 KiB passes", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const to = { id: newMessageId(), from: bob.accountId };
		// The box grows byte for byte with the body: pad it to the cap, and one byte past it.
		const bare = fromB64u(sealedReaction(alice, bob, key, to, "👍", { pad: 1 }).box).length;
		const exact = sealedReaction(alice, bob, key, to, "👍", { pad: 1 + MAX_SEALED_REACTION_BYTES - bare });
		const over = sealedReaction(alice, bob, key, to, "👍", { pad: 2 + MAX_SEALED_REACTION_BYTES - bare });
		expect([fromB64u(exact.box).length, fromB64u(over.box).length]).toEqual([MAX_SEALED_REACTION_BYTES, MAX_SEALED_REACTION_BYTES + 1]);
		const refused = await answerTo(a, over);
		expect(refused).toMatchObject({ type: "error", code: "too_large", ref: over.id });
		const passed = await answerTo(a, exact);
		expect(passed).toMatchObject({ type: "sent" });
		// A text of that size is a text: only the reaction kind has the small cap.
		const bigText = sealedSend(alice, bob, key, "x".repeat(4000));
		expect(await answerTo(a, bigText)).toMatchObject({ type: "sent" });
	});

	it("leaves the queued original alone: the away device gets the text and then the reaction", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const text = sealedSend(alice, bob, key, "still queued for Bob");
		expect(await answerTo(a, text)).toMatchObject({ type: "sent" });
		const reaction = sealedReaction(alice, bob, key, { id: text.id, from: alice.accountId }, "😂");
		expect(await answerTo(a, reaction)).toMatchObject({ type: "sent" });
		const b = await connect(bob.token);
		const first = await b.next("message");
		const second = await b.next("message");
		expect([first, second].map((m) => [m.id, m.kind, m.replaces])).toEqual([
			[text.id, "text", undefined],
			[reaction.id, "reaction", undefined],
		]);
	});

	it("carries no routing `replaces` (it would swap or drop the original), and can be neither edited nor deleted", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const text = sealedSend(alice, bob, key, "hello");
		expect(await answerTo(a, text)).toMatchObject({ type: "sent" });
		const routed = { ...sealedReaction(alice, bob, key, { id: text.id, from: alice.accountId }, "👍"), replaces: text.id };
		expect(await answerTo(a, routed)).toMatchObject({ type: "error", code: "bad_request" });
		const reaction = sealedReaction(alice, bob, key, { id: text.id, from: alice.accountId }, "👍");
		expect(await answerTo(a, reaction)).toMatchObject({ type: "sent" });
		const edit = { ...sealedSend(alice, bob, key, "👎"), kind: "edit", replaces: reaction.id };
		const del = { ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: reaction.id };
		expect(await answerTo(a, edit)).toMatchObject({ type: "error", code: "not_found" });
		expect(await answerTo(a, del)).toMatchObject({ type: "error", code: "not_found" });
		// The original was never touched: Bob receives it, and the reaction, as sent.
		const b = await connect(bob.token);
		expect((await b.next("message")).id).toBe(text.id);
		expect(await b.next("message")).toMatchObject({ id: reaction.id, kind: "reaction" });
	});

	it("goes to accepted contacts only", async () => {
		const { alice, key } = await contactPair();
		const carol = await registerUser("carol");
		const c = await connect(carol.token);
		const reaction = sealedReaction(carol, alice, key, { id: newMessageId(), from: alice.accountId }, "👍");
		expect(await answerTo(c, reaction)).toMatchObject({ type: "error", code: "not_a_contact", ref: reaction.id });
	});

	it("reaches the sender's other devices as a sent-sync copy", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 1 });
		const a = await connect(alice.token);
		const phone = await connect(aliceDevices[1]!.token);
		await phone.next("synced");
		const reaction = sealedReaction(alice, bob, key, { id: newMessageId(), from: bob.accountId }, "🙏");
		expect(await answerTo(a, reaction)).toMatchObject({ type: "sent" });
		expect(await phone.next("message", (m) => m.id === reaction.id)).toMatchObject({ from: alice.accountId, kind: "reaction" });
	});
});
