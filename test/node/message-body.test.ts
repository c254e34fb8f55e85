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
