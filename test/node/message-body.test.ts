import { describe, expect, it } from "vitest";
import { readBody } from "../../client/core/message-body.ts";
import type { MessageFrame } from "../../common/protocol/wire.ts";

const id = (c: string) => c.repeat(22);
const editFrame = {
	type: "message",
	id: id("e"),
	from: id("b"),
	fromDevice: id("d"),
	to: id("a"),
	kind: "edit",
	keyVersion: 1,
	replaces: id("m"),
} as unknown as MessageFrame;

describe("the sealed body of an edit", () => {
	it("carries its number among the message's edits, and counts as the first without one", () => {
		expect(readBody(editFrame, { text: "fixed", replaces: id("m"), seq: 3 })).toEqual({
			kind: "edit",
			text: "fixed",
			replaces: id("m"),
			editSeq: 3,
		});
		expect(readBody(editFrame, { text: "fixed", replaces: id("m") })).toMatchObject({ editSeq: 1 });
	});

	it("refuses a number that is not a whole number from 1 to 10⁹, and anything else unknown", () => {
		for (const seq of [0, -1, 1.5, "2", 1e10, null]) expect(readBody(editFrame, { text: "x", replaces: id("m"), seq })).toBeNull();
		expect(readBody(editFrame, { text: "x", replaces: id("m"), seq: 2, extra: true })).toBeNull();
		expect(readBody(editFrame, { text: "x", replaces: id("n"), seq: 2 })).toBeNull();
	});
});

const ALICE_ID = id("a");
const BOB_ID = id("b");
const frameOf = (kind: MessageFrame["kind"], extra: Partial<MessageFrame> = {}) =>
	({
		type: "message",
		id: id("x"),
		from: BOB_ID,
		fromDevice: id("d"),
		to: ALICE_ID,
		kind,
		keyVersion: 1,
		...extra,
	}) as unknown as MessageFrame;

describe("the sealed body of a reply", () => {
	it("is a text that names the message it answers by its sender and id, either account's", () => {
		expect(readBody(frameOf("text"), { text: "yes", replyTo: { id: id("m"), from: ALICE_ID } })).toEqual({
			kind: "text",
			text: "yes",
			replyTo: { id: id("m"), from: ALICE_ID },
		});
		expect(readBody(frameOf("text"), { text: "and me", replyTo: { id: id("m"), from: BOB_ID } })).toMatchObject({
			replyTo: { from: BOB_ID },
		});
		// A text without one is a plain text, as before.
		expect(readBody(frameOf("text"), { text: "hi" })).toEqual({ kind: "text", text: "hi" });
	});

	it("refuses a reference that is not exactly {id, from} of this conversation, or carries the quoted text", () => {
		for (const replyTo of [
			null,
			"m",
			{ id: id("m") },
			{ id: "short", from: ALICE_ID },
			{ id: id("m"), from: id("c") },
			{ id: id("m"), from: ALICE_ID, text: "the quoted text" },
			[id("m"), ALICE_ID],
		]) {
			expect(readBody(frameOf("text"), { text: "yes", replyTo })).toBeNull();
		}
		expect(readBody(frameOf("text"), { text: "yes", replyTo: { id: id("m"), from: ALICE_ID }, quote: "x" })).toBeNull();
	});
});

describe("the sealed body of a reaction", () => {
	const to = { id: id("m"), from: ALICE_ID };

	it("is one of the set, or an empty emoji that takes the reaction back", () => {
		expect(readBody(frameOf("reaction"), { reaction: { to, emoji: "👍" } })).toEqual({
			kind: "reaction",
			text: "",
			reaction: { to, emoji: "👍" },
		});
		expect(readBody(frameOf("reaction"), { reaction: { to, emoji: "❤️" } })).toMatchObject({ reaction: { emoji: "❤️" } });
		expect(readBody(frameOf("reaction"), { reaction: { to, emoji: "" } })).toMatchObject({ reaction: { emoji: "" } });
	});

	it("refuses any other emoji or text, a message outside the conversation, other keys, and routing fields", () => {
		for (const emoji of ["👎", "❤", "👍👍", "hello", 1, null, undefined]) {
			expect(readBody(frameOf("reaction"), { reaction: { to, emoji } })).toBeNull();
		}
		expect(readBody(frameOf("reaction"), { reaction: { to: { id: id("m"), from: id("c") }, emoji: "👍" } })).toBeNull();
		expect(readBody(frameOf("reaction"), { reaction: { to: { id: id("m") }, emoji: "👍" } })).toBeNull();
		expect(readBody(frameOf("reaction"), { reaction: { to, emoji: "👍", extra: 1 } })).toBeNull();
		expect(readBody(frameOf("reaction"), { reaction: { to, emoji: "👍" }, text: "a free channel" })).toBeNull();
		expect(readBody(frameOf("reaction"), { to, emoji: "👍" })).toBeNull();
		// The relay would swap or drop the original for a `replaces`; a reaction never carries one.
		expect(readBody(frameOf("reaction", { replaces: id("m") }), { reaction: { to, emoji: "👍" } })).toBeNull();
	});
});
