import { describe, expect, it } from "vitest";
import { Conversations, readConversation, withMessage, withoutMessage } from "../../client/app/features/conversations.ts";
import { ALICE, BOB, MemoryHistory, sent, storeWith } from "./client-fakes.ts";

const incoming = (key: string, at: number, unread = true) => ({
	...sent(key, BOB, at),
	outgoing: false,
	state: "received" as const,
	...(unread && { unread: 1 as const }),
});

describe("conversations", () => {
	it("shows a message in time order, ties broken by key so that the order never changes", () => {
		const a = sent("a", BOB, 2);
		const b = sent("b", BOB, 1);
		const c = sent("c", BOB, 2);
		const after = withMessage({ [BOB]: [b, c] }, a);
		expect(after?.[BOB]?.map((m) => m.key)).toEqual(["b", "a", "c"]);
	});

	it("shows a confirmed send in place of its local copy", () => {
		const local = { ...sent("local:1", BOB, 5), state: "sending" as const };
		const confirmed = sent("m1", BOB, 3);
		expect(withMessage({ [BOB]: [local] }, confirmed, "local:1")).toEqual({ [BOB]: [confirmed] });
	});

	it("leaves a conversation that is not loaded alone: it is read from the history when opened", () => {
		expect(withMessage({ [ALICE]: [] }, sent("m1", BOB, 1))).toBeNull();
		expect(withoutMessage({ [ALICE]: [] }, BOB, "m1")).toBeNull();
		expect(withoutMessage({ [BOB]: [sent("m1", BOB, 1), sent("m2", BOB, 2)] }, BOB, "m1")).toEqual({ [BOB]: [sent("m2", BOB, 2)] });
	});

	it("reading a conversation clears its unread count and marks, and no other", () => {
		const read = readConversation(
			{ unread: { [BOB]: 2, [ALICE]: 1 }, conversations: { [BOB]: [incoming("m1", 1), incoming("m2", 2)] } },
			BOB,
		);
		expect(read.unread).toEqual({ [ALICE]: 1 });
		expect(read.conversations[BOB]).toEqual([incoming("m1", 1, false), incoming("m2", 2, false)]);
	});

	it("opening a conversation on a visible page loads it and marks it read, in the history too", async () => {
		const history = new MemoryHistory([incoming("m2", 2), incoming("m1", 1)]);
		const store = storeWith({ unread: { [BOB]: 2 } });
		await new Conversations(store, history, () => true).open(BOB);
		expect(store.state.activePeer).toBe(BOB);
		expect(store.state.unread).toEqual({});
		expect(store.state.conversations[BOB]?.map((m) => [m.key, m.unread])).toEqual([
			["m1", undefined],
			["m2", undefined],
		]);
		expect(await history.unreadCounts()).toEqual({});
	});

	it("leaves a conversation opened on a hidden page unread until the page is visible", async () => {
		let visible = false;
		const history = new MemoryHistory([incoming("m1", 1)]);
		const store = storeWith({ unread: { [BOB]: 1 } });
		const conversations = new Conversations(store, history, () => visible);
		await conversations.open(BOB);
		expect(store.state.unread).toEqual({ [BOB]: 1 });
		visible = true;
		await conversations.markReadIfVisible();
		expect(store.state.unread).toEqual({});
		await conversations.open(null);
		expect(store.state.activePeer).toBeNull();
	});
});
