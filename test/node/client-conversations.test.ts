import { describe, expect, it } from "vitest";
import { receivedKey, sentKey } from "../../client/app/chat-message.ts";
import { Conversations, readConversation, withMessage, withoutMessage } from "../../client/app/features/conversations.ts";
import { ALICE, BOB, MemoryHistory, received, sent, storeWith } from "./client-fakes.ts";

const incoming = (id: string, at: number, unread = true) => received(id, BOB, at, unread ? { unread: 1 } : {});

describe("conversations", () => {
	it("shows a message in time order, ties broken by key so that the order never changes", () => {
		const a = sent("a", BOB, 2);
		const b = sent("b", BOB, 1);
		const c = sent("c", BOB, 2);
		const after = withMessage({ [BOB]: [b, c] }, a);
		expect(after?.[BOB]?.map((m) => m.key)).toEqual(["b", "a", "c"].map(sentKey));
	});

	it("shows a confirmed send in place of its local copy", () => {
		const { id: _, ...sending } = sent("1", BOB, 5);
		const local = { ...sending, key: "local:1", state: "sending" as const };
		const confirmed = sent("m1", BOB, 3);
		expect(withMessage({ [BOB]: [local] }, confirmed, "local:1")).toEqual({ [BOB]: [confirmed] });
	});

	it("leaves a conversation that is not loaded alone: it is read from the history when opened", () => {
		expect(withMessage({ [ALICE]: [] }, sent("m1", BOB, 1))).toBeNull();
		expect(withoutMessage({ [ALICE]: [] }, BOB, sentKey("m1"))).toBeNull();
		expect(withoutMessage({ [BOB]: [sent("m1", BOB, 1), sent("m2", BOB, 2)] }, BOB, sentKey("m1"))).toEqual({
			[BOB]: [sent("m2", BOB, 2)],
		});
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
			[receivedKey(BOB, "m1"), undefined],
			[receivedKey(BOB, "m2"), undefined],
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
