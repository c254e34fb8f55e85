import { describe, expect, it } from "vitest";
import { receivedKey, sentKey } from "../../client/app/chat-message.ts";
import { Conversations, readConversation, unreadDividerFor, withMessage, withoutMessage } from "../../client/app/features/conversations.ts";
import { ALICE, BOB, MemoryHistory, received, sent, settle, storeWith } from "./client-fakes.ts";

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

describe("the contact list's last messages", () => {
	it("are read from the history, and a message shown meanwhile is kept over an older one read", async () => {
		const history = new MemoryHistory([incoming("m1", 1, false), sent("s1", ALICE, 2)]);
		const store = storeWith();
		const conversations = new Conversations(store, history, () => true);
		conversations.show(received("m9", BOB, 9));
		await conversations.loadLast();
		expect(store.state.lastMessages[BOB]?.id).toBe("m9");
		expect(store.state.lastMessages[ALICE]?.id).toBe("s1");
	});

	it("follow what is shown, loaded or not, and not a late older message", async () => {
		const store = storeWith();
		const conversations = new Conversations(store, new MemoryHistory(), () => true);
		conversations.show(received("m2", BOB, 2));
		conversations.show(received("m1", BOB, 1));
		expect(store.state.lastMessages[BOB]?.id).toBe("m2");
		expect(store.state.conversations).toEqual({});
	});

	it("go back to the message before when the last one is removed", async () => {
		const history = new MemoryHistory([sent("s1", BOB, 1), sent("s2", BOB, 2)]);
		const store = storeWith();
		const conversations = new Conversations(store, history, () => true);
		await conversations.open(BOB);
		expect(store.state.lastMessages[BOB]?.id).toBe("s2");
		await history.delete(sentKey("s2"));
		conversations.remove(BOB, sentKey("s2"));
		expect(store.state.lastMessages[BOB]).toBeUndefined();
		await settle();
		expect(store.state.lastMessages[BOB]?.id).toBe("s1");
	});
});

describe("the unread divider", () => {
	it("marks where the unread messages began when the chat opened, and counts them, though they are read now", async () => {
		const history = new MemoryHistory([incoming("m1", 1, false), sent("s1", BOB, 2), incoming("m2", 3), incoming("m3", 4)]);
		const store = storeWith({ unread: { [BOB]: 2 } });
		const conversations = new Conversations(store, history, () => true);
		await conversations.open(BOB);
		expect(store.state.unreadDivider).toEqual({ peerId: BOB, key: receivedKey(BOB, "m2"), count: 2 });
		expect(store.state.unread).toEqual({});
		// Still there while the chat stays open; gone when it opens again with nothing unread.
		await conversations.markReadIfVisible();
		expect(store.state.unreadDivider?.count).toBe(2);
		await conversations.open(null);
		expect(store.state.unreadDivider).toBeNull();
		await conversations.open(BOB);
		expect(store.state.unreadDivider).toBeNull();
	});

	it("waits for a hidden page to be seen, and counts what came while the chat stayed open", async () => {
		let visible = false;
		const history = new MemoryHistory([incoming("m1", 1)]);
		const store = storeWith({ unread: { [BOB]: 1 } });
		const conversations = new Conversations(store, history, () => visible);
		await conversations.open(BOB);
		expect(store.state.unreadDivider).toBeNull();
		visible = true;
		await Promise.all([conversations.markReadIfVisible(), conversations.markReadIfVisible()]);
		expect(store.state.unreadDivider).toEqual({ peerId: BOB, key: receivedKey(BOB, "m1"), count: 1 });
		visible = false;
		const late = incoming("m2", 2);
		await history.put(late);
		conversations.show(late);
		store.update({ unread: { [BOB]: 1 } });
		visible = true;
		await conversations.markReadIfVisible();
		expect(store.state.unreadDivider).toEqual({ peerId: BOB, key: receivedKey(BOB, "m1"), count: 2 });
	});

	it("places nothing for a conversation with nothing unread", () => {
		expect(unreadDividerFor(null, BOB, [incoming("m1", 1, false)])).toBeNull();
		expect(unreadDividerFor({ peerId: ALICE, key: "x", count: 3 }, BOB, [incoming("m1", 1)])).toEqual({
			peerId: BOB,
			key: receivedKey(BOB, "m1"),
			count: 1,
		});
	});
});

describe("opening a message found by a search", () => {
	it("searches all conversations, from two characters, case and accents aside", async () => {
		const history = new MemoryHistory([received("m1", BOB, 1, { text: "Rendez-vous au CAFÉ" }), sent("s1", ALICE, 2, { text: "cafe?" })]);
		const conversations = new Conversations(storeWith(), history, () => true);
		expect((await conversations.search("Café")).map((m) => m.id)).toEqual(["s1", "m1"]);
		expect(await conversations.search("c")).toEqual([]);
	});

	it("loads a message older than the loaded window beside it, so that it can be brought into view", async () => {
		const old = received("old", BOB, 1);
		const history = new MemoryHistory([old, received("new", BOB, 2)]);
		// The window holds the newest message only.
		history.conversation = async () => [received("new", BOB, 2)];
		const store = storeWith();
		const conversations = new Conversations(store, history, () => true);
		conversations.highlight(old.key);
		await conversations.open(BOB);
		expect(store.state.conversations[BOB]?.map((m) => m.id)).toEqual(["old", "new"]);
		expect(store.state.highlight).toBe(old.key);
		conversations.highlight(null);
		expect(store.state.highlight).toBeNull();
	});
});
