import { describe, expect, it, vi } from "vitest";
import { type ChatMessage, receivedKey, sentKey } from "../../client/app/chat-message.ts";
import { sentMessage } from "../../client/app/features/outgoing-messages.ts";
import type { MessengerState } from "../../client/app/store.ts";
import type { AttachmentInfo } from "../../client/core/message-body.ts";
import { ALICE, BOB, incoming, MemoryHistory, receipt, received, relayId, sent, storeWith } from "./client-fakes.ts";
import { receivingApp } from "./receiving-app.ts";

/** The receiving side of the app, with the conversation with Bob loaded (open if `open`). */
function inbox({ open = false, visible = true, history = new MemoryHistory(), patch = {} as Partial<MessengerState> } = {}) {
	const store = storeWith({
		phase: "ready",
		me: { accountId: ALICE, deviceId: relayId("alice_laptop"), handle: "alice" },
		activePeer: open ? BOB : null,
		conversations: { [BOB]: [] },
		...patch,
	});
	const client = {
		editMessage: vi.fn(async () => receipt(relayId("edit"), 9_000)),
		deleteMessage: vi.fn(async () => receipt(relayId("del"), 9_000)),
		react: vi.fn(async () => receipt(relayId("react"), 9_000)),
		downloadFile: vi.fn(),
		sendTyping: vi.fn(),
		accountStatus: vi.fn(async () => {
			throw new Error("not asked in these tests");
		}),
		creditHistory: vi.fn(),
		limits: vi.fn(),
	};
	const { receipts, typing, messages, changes, arrive } = receivingApp(store, history, client, () => visible);
	return { store, history, client, receipts, typing, messages, changes, arrive, shown: () => store.state.conversations[BOB] ?? [] };
}

const m1 = relayId("m1");

describe("receiving", () => {
	it("counts a message as unread unless its conversation is open on a visible page", async () => {
		const away = inbox();
		await away.arrive(incoming(m1));
		expect(away.store.state.unread).toEqual({ [BOB]: 1 });
		expect(away.shown()).toEqual([expect.objectContaining({ id: m1, state: "received", unread: 1 })]);

		const hidden = inbox({ open: true, visible: false });
		await hidden.arrive(incoming(m1));
		expect(hidden.store.state.unread).toEqual({ [BOB]: 1 });

		const reading = inbox({ open: true });
		await reading.arrive(incoming(m1));
		expect(reading.store.state.unread).toEqual({});
		expect(reading.shown()[0]).not.toHaveProperty("unread");
		expect(await reading.history.get(receivedKey(BOB, m1))).toEqual(reading.shown()[0]);
	});

	it("orders and dates messages by the time sealed into them, not the relay's, and marks a gap of more than five minutes", async () => {
		const app = inbox({ open: true });
		// The relay delivers the later message first and stamps both as it likes: the sealed times decide.
		await app.arrive(incoming(relayId("late"), { sentAt: 20_000, receivedAt: 21_000 }));
		await app.arrive(incoming(relayId("early"), { sentAt: 10_000, receivedAt: 30_000 }));
		await app.arrive(incoming(relayId("skewed"), { sentAt: 40_000, receivedAt: 40_000 + 5 * 60_000 + 1 }));
		expect(app.shown().map((m) => [m.id, m.at, m.clockSkew])).toEqual([
			[relayId("early"), 10_000, undefined],
			[relayId("late"), 20_000, undefined],
			[relayId("skewed"), 40_000, true],
		]);
		expect(sentMessage(sent(relayId("s"), BOB, 1), receipt(relayId("s"), 50_000, { sentAt: 49_000 }), undefined)).toMatchObject({
			at: 49_000,
		});
		expect(sentMessage(sent(relayId("s"), BOB, 1), receipt(relayId("s"), 6 * 60_000, { sentAt: 0 }), undefined).clockSkew).toBe(true);
	});

	it("keeps a message in the history before it is acked, so that it is there even if the page dies before the event", async () => {
		const app = inbox();
		await app.messages.persist(incoming(m1));
		expect(await app.history.has(receivedKey(BOB, m1))).toBe(true);
		expect(app.shown()).toEqual([]);
	});

	it("neither counts nor shows twice a message the relay delivers again after a crash, and keeps what the user did with it", async () => {
		const read: ChatMessage = {
			key: receivedKey(BOB, m1),
			id: m1,
			peerId: BOB,
			outgoing: false,
			text: "text of m1",
			at: 1_000,
			state: "received",
		};
		const app = inbox({ history: new MemoryHistory([read]), patch: { conversations: { [BOB]: [read] } } });
		await app.arrive(incoming(m1));
		expect(app.store.state.unread).toEqual({});
		expect(app.shown()).toEqual([read]);
		expect(await app.history.get(receivedKey(BOB, m1))).toEqual(read);
	});

	it("shows a message this account sent from another device as sent, or delivered if a receipt came first", async () => {
		const app = inbox();
		const device = relayId("bob_phone");
		await app.receipts.delivered([m1], device);
		await app.arrive(incoming(m1, { outgoing: true, from: ALICE }));
		expect(app.shown()).toEqual([expect.objectContaining({ id: m1, outgoing: true, state: "delivered", deliveredTo: [device] })]);
		expect(app.store.state.unread).toEqual({});
	});

	it("ends the contact's typing indicator when their message comes", async () => {
		const app = inbox();
		app.typing.peerTyping(BOB);
		expect(app.store.state.typing[BOB]).toBeGreaterThan(Date.now());
		await app.arrive(incoming(m1));
		expect(app.store.state.typing).toEqual({});
	});

	it("takes an edit of a message this device never had for that message, already edited", async () => {
		const app = inbox();
		await app.arrive(incoming(relayId("e1"), { kind: "edit", replaces: m1, text: "fixed" }));
		expect(app.shown()).toEqual([expect.objectContaining({ key: receivedKey(BOB, m1), id: m1, text: "fixed", edited: true })]);
		expect(app.store.state.unread).toEqual({ [BOB]: 1 });
		expect(await app.history.has(receivedKey(BOB, relayId("e1")))).toBe(false);
	});

	it("shows the edit with the highest number whatever order the edits come in, and breaks a tie by edit id on every device alike", async () => {
		const app = inbox();
		await app.arrive(incoming(m1, { text: "first" }));
		await app.arrive(incoming(relayId("e2"), { kind: "edit", replaces: m1, text: "second edit", editSeq: 2 }));
		// The first edit, held back and delivered last, does not win.
		await app.arrive(incoming(relayId("e1"), { kind: "edit", replaces: m1, text: "first edit", editSeq: 1 }));
		expect(app.shown()).toEqual([expect.objectContaining({ id: m1, text: "second edit", editSeq: 2, editId: relayId("e2") })]);
		expect((await app.history.get(receivedKey(BOB, m1)))?.text).toBe("second edit");
		// Two of Bob's devices made edit 3 at once: the larger id wins, in either order.
		const [lo, hi] = [relayId("e3a"), relayId("e3b")].sort();
		for (const order of [
			[lo, hi],
			[hi, lo],
		]) {
			const device = inbox();
			await device.arrive(incoming(m1, { text: "first" }));
			for (const e of order) await device.arrive(incoming(e as string, { kind: "edit", replaces: m1, text: `by ${e}`, editSeq: 3 }));
			expect(device.shown()[0]?.text).toBe(`by ${hi}`);
		}
	});

	it("numbers its own edits one past the highest it has seen", async () => {
		const app = inbox();
		await app.arrive(incoming(m1, { text: "mine", outgoing: true, from: ALICE }));
		const [held] = app.shown();
		await app.changes.edit({ ...(held as ChatMessage), editSeq: 4, editId: relayId("e4") }, "again");
		expect(app.client.editMessage).toHaveBeenCalledWith(BOB, m1, "again", { seq: 5 });
		expect(app.shown()[0]).toMatchObject({ text: "again", editSeq: 5, editId: relayId("edit") });
	});

	it("applies an edit by the sender to the message it replaces, without counting anything new", async () => {
		const app = inbox();
		await app.arrive(incoming(m1, { text: "teh" }));
		await app.arrive(incoming(relayId("e1"), { kind: "edit", replaces: m1, text: "the" }));
		expect(app.shown()).toEqual([expect.objectContaining({ id: m1, text: "the", edited: true })]);
		expect(app.store.state.unread).toEqual({ [BOB]: 1 });
	});

	it("lets only a message's sender change it: an edit or delete from the other side under the id of one of ours leaves ours as it is", async () => {
		const ours = sent(m1, BOB, 1_000, { text: "mine" });
		const app = inbox({ history: new MemoryHistory([ours]), patch: { conversations: { [BOB]: [ours] } } });
		await app.arrive(incoming(relayId("e1"), { kind: "edit", replaces: m1, text: "theirs now", receivedAt: 2_000 }));
		await app.arrive(incoming(relayId("d1"), { kind: "delete", replaces: m1, receivedAt: 3_000 }));
		// Bob's edit names his own message m1, which this device never had: it stands in for it.
		expect(app.shown()).toEqual([ours, expect.objectContaining({ key: receivedKey(BOB, m1), outgoing: false, deleted: true })]);
		expect(await app.history.get(sentKey(m1))).toEqual(ours);
	});

	it("keeps a contact's message under the id of one of ours beside ours, and lets his edit and delete reach only his", async () => {
		const ours = sent(m1, BOB, 1_000, { text: "mine" });
		const app = inbox({ history: new MemoryHistory([ours]), patch: { conversations: { [BOB]: [ours] } } });
		await app.arrive(incoming(m1, { text: "his, under my id", receivedAt: 2_000 }));
		await app.arrive(incoming(relayId("e1"), { kind: "edit", replaces: m1, text: "his, edited", receivedAt: 3_000 }));
		expect(app.shown()).toEqual([
			ours,
			expect.objectContaining({ key: receivedKey(BOB, m1), id: m1, text: "his, edited", outgoing: false }),
		]);
		await app.arrive(incoming(relayId("d1"), { kind: "delete", replaces: m1, receivedAt: 4_000 }));
		expect(app.shown()).toEqual([ours, expect.objectContaining({ key: receivedKey(BOB, m1), deleted: true })]);
		expect(await app.history.get(sentKey(m1))).toEqual(ours);
	});

	it("keeps the place of a message deleted for everyone, without its text or file, and drops the file kept here", async () => {
		const attachment: AttachmentInfo = {
			id: relayId("file1"),
			owner: BOB,
			key: "k",
			size: 3,
			type: "image/png",
			name: "cat.png",
			sha256: "h",
		};
		const app = inbox();
		await app.history.putFile(attachment.id, new Blob(["png"]));
		await app.arrive(incoming(m1, { kind: "attachment", text: "look", attachment }));
		await app.arrive(incoming(relayId("d1"), { kind: "delete", replaces: m1 }));
		const [deleted] = app.shown();
		expect(deleted).toMatchObject({ id: m1, text: "", deleted: true });
		expect(deleted).not.toHaveProperty("attachment");
		expect(app.history.files.has(attachment.id)).toBe(false);
	});

	it("shows a message no key of this device opens as unreadable, as ours if this account sent it", async () => {
		const app = inbox();
		const base = { peerId: BOB, fromDevice: relayId("x"), reason: "unknown_key" as const, receivedAt: 2_000 };
		await app.messages.unreadable({ ...base, id: relayId("u1"), from: BOB });
		await app.messages.unreadable({ ...base, id: relayId("u2"), from: ALICE });
		expect(app.shown().map((m) => [m.state, m.outgoing])).toEqual([
			["unreadable", false],
			["unreadable", true],
		]);
	});

	it("never lets a frame it cannot open take the place of a message it holds: another sender's is an entry of its own, the same sender's is dropped and told", async () => {
		const ours = sent(m1, BOB, 1_000, { text: "mine" });
		const theirs = received(relayId("m2"), BOB, 1_500, { text: "theirs" });
		const app = inbox({ history: new MemoryHistory([ours, theirs]), patch: { conversations: { [BOB]: [ours, theirs] } } });
		const base = { peerId: BOB, fromDevice: relayId("x"), reason: "bad_body" as const, receivedAt: 2_000 };
		// Bob's garbage under the id of our message: his own entry, ours untouched.
		await app.messages.unreadable({ ...base, id: m1, from: BOB });
		expect(app.shown()).toEqual([
			ours,
			theirs,
			expect.objectContaining({ key: receivedKey(BOB, m1), state: "unreadable", outgoing: false }),
		]);
		expect(app.store.state.notices).toEqual([]);
		// Frames under a held sender and id (only a relay can send them): dropped, and the user is told.
		await app.messages.unreadable({ ...base, id: m1, from: ALICE });
		await app.messages.unreadable({ ...base, id: relayId("m2"), from: BOB });
		expect(await app.history.get(sentKey(m1))).toEqual(ours);
		expect(await app.history.get(receivedKey(BOB, relayId("m2")))).toEqual(theirs);
		expect(app.shown()).toHaveLength(3);
		expect(app.store.state.notices.map((n) => n.text)).toEqual([
			"A message that could not be decrypted came under the id of one this device has; the one here was kept.",
		]);
		// The same unreadable frame delivered again changes nothing and tells nothing new.
		await app.messages.unreadable({ ...base, id: m1, from: BOB });
		expect(app.shown()).toHaveLength(3);
		expect(app.store.state.notices).toHaveLength(1);
	});

	it("marks where messages may be missing, on the message that noticed it or the one a change names, and clears it when they come", async () => {
		const app = inbox();
		const m3 = relayId("m3");
		await app.arrive(incoming(m1, { text: "one" }));
		await app.arrive(incoming(m3, { text: "three", missingBefore: 1 }));
		expect(app.shown().map((m) => [m.text, m.missingBefore])).toEqual([
			["one", undefined],
			["three", 1],
		]);
		// An edit of "one" that noticed two more: the mark goes on "one", which it changes.
		await app.arrive(incoming(relayId("e1"), { kind: "edit", replaces: m1, text: "one, fixed", editSeq: 1, missingBefore: 2 }));
		expect((await app.history.get(receivedKey(BOB, m1)))?.missingBefore).toBe(2);
		// A delete of a message this device never had: nothing to mark, so the person is told.
		await app.arrive(incoming(relayId("d9"), { kind: "delete", replaces: relayId("never"), text: "", missingBefore: 1 }));
		expect(app.store.state.notices.at(-1)?.text).toMatch(/may be missing/);

		await app.messages.gapsFilled(BOB, false, [m3, m1, relayId("unknown")]);
		expect(app.shown().every((m) => m.missingBefore === undefined)).toBe(true);
		expect((await app.history.get(receivedKey(BOB, m3)))?.missingBefore).toBeUndefined();
	});

	it("tells of messages that expired on the relay before this device fetched them", () => {
		const app = inbox();
		app.messages.expired(3);
		expect(app.store.state.notices.map((n) => [n.tone, n.text])).toEqual([
			["info", "3 messages expired on the relay before this device could fetch them."],
		]);
	});
});

describe("changing one's own messages", () => {
	it("marks an edited message delivered when the receipt names the edit, which the relay swapped in for the original", async () => {
		const ours = sent(m1, BOB, 1_000);
		const app = inbox({ history: new MemoryHistory([ours]), patch: { conversations: { [BOB]: [ours] } } });
		await app.changes.edit(ours, "better");
		expect(app.client.editMessage).toHaveBeenCalledWith(BOB, m1, "better", { seq: 1 });
		await app.receipts.delivered([relayId("edit")], relayId("bob_phone"));
		expect(app.shown()).toEqual([expect.objectContaining({ id: m1, text: "better", edited: true, state: "delivered" })]);
	});

	it("changes nothing of a message the relay has not confirmed yet", async () => {
		const app = inbox();
		const local: ChatMessage = { key: "local:1", peerId: BOB, outgoing: true, text: "x", at: 1, state: "sending", pending: 1 };
		await app.changes.edit(local, "y");
		await app.changes.delete(local);
		expect(app.client.editMessage).not.toHaveBeenCalled();
		expect(app.client.deleteMessage).not.toHaveBeenCalled();
	});
});
