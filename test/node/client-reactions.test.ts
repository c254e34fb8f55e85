/**
 * Replies, reactions and "delete for me" in the web app's history: the pure folding of a
 * reaction into its message's record, and the features that keep them, against the
 * in-memory history.
 */
import { describe, expect, it, vi } from "vitest";
import { receivedKey, sentKey } from "../../client/app/chat-message.ts";
import { OutgoingMessages } from "../../client/app/features/outgoing-messages.ts";
import { archivable } from "../../client/app/history-archive.ts";
import { reactionCounts, refKey, refOf, withReaction } from "../../client/app/reactions.ts";
import type { ContactKeyRing } from "../../client/core/contact-key-ring.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { MessageReceiver } from "../../client/core/message-receiver.ts";
import { sealMessage } from "../../client/core/message-seal.ts";
import { MessengerClient } from "../../client/core/sdk.ts";
import { randomBytes } from "../../common/nacl.ts";
import { REACTION_EMOJIS } from "../../common/protocol/wire.ts";
import { ALICE, BOB, incoming, MemoryHistory, receipt, received, relayId, sent, storeWith } from "./client-fakes.ts";
import { receivingApp } from "./receiving-app.ts";

const m1 = relayId("m1");
const mine = relayId("mine");
const CAROL = relayId("carol");

describe("folding a reaction into a message's record", () => {
	const base = received(m1, BOB, 1_000);

	it("keeps one reaction per account: a new one replaces it, an empty one takes it back", () => {
		const liked = withReaction(base, ALICE, "👍");
		expect(liked?.reactions).toEqual({ [ALICE]: "👍" });
		const both = withReaction(liked!, BOB, "❤️");
		expect(both?.reactions).toEqual({ [ALICE]: "👍", [BOB]: "❤️" });
		const changed = withReaction(both!, ALICE, "😂");
		expect(changed?.reactions).toEqual({ [ALICE]: "😂", [BOB]: "❤️" });
		const taken = withReaction(changed!, ALICE, "");
		expect(taken?.reactions).toEqual({ [BOB]: "❤️" });
		// The last one gone leaves no empty record behind.
		expect(withReaction(taken!, BOB, "")).not.toHaveProperty("reactions");
	});

	it("answers null when nothing changes, and never touches a deleted or unreadable message", () => {
		expect(withReaction(base, ALICE, "")).toBeNull();
		expect(withReaction(withReaction(base, ALICE, "👍")!, ALICE, "👍")).toBeNull();
		expect(withReaction({ ...base, deleted: true, text: "" }, ALICE, "👍")).toBeNull();
		expect(withReaction({ ...base, state: "unreadable", text: "" }, ALICE, "👍")).toBeNull();
	});

	it("counts the chips in the order of the set, marking this account's own", () => {
		const message = { ...base, reactions: { [ALICE]: "🙏" as const, [BOB]: "👍" as const } };
		expect(reactionCounts(message, REACTION_EMOJIS, ALICE)).toEqual([
			{ emoji: "👍", count: 1, mine: false },
			{ emoji: "🙏", count: 1, mine: true },
		]);
		expect(reactionCounts({ ...message, reactions: { [ALICE]: "👍", [BOB]: "👍" } }, REACTION_EMOJIS, ALICE)).toEqual([
			{ emoji: "👍", count: 2, mine: true },
		]);
	});

	it("names messages across senders: ours under our account id, the contact's under theirs, nobody else's", () => {
		expect(refKey({ id: m1, from: ALICE }, BOB, ALICE)).toBe(sentKey(m1));
		expect(refKey({ id: m1, from: BOB }, BOB, ALICE)).toBe(receivedKey(BOB, m1));
		expect(refKey({ id: m1, from: CAROL }, BOB, ALICE)).toBeNull();
		expect(refOf(sent(mine, BOB, 1), ALICE)).toEqual({ id: mine, from: ALICE });
		expect(refOf(base, ALICE)).toEqual({ id: m1, from: BOB });
	});

	it("travels to a new device in the history archive with the reply it is part of", () => {
		const record = { ...received(m1, BOB, 1_000), replyTo: { id: mine, from: ALICE }, reactions: { [ALICE]: "❤️" as const } };
		expect(archivable(record)).toMatchObject({ replyTo: { id: mine, from: ALICE }, reactions: { [ALICE]: "❤️" } });
		// A damaged record does not travel.
		expect(archivable({ ...record, reactions: { [ALICE]: "👎" } as never })).toBeNull();
		expect(archivable({ ...record, replyTo: { id: mine } as never })).toBeNull();
	});
});

/** Alice's app, with the conversation with Bob loaded and open. */
function app(history = new MemoryHistory()) {
	const store = storeWith({
		phase: "ready",
		me: { accountId: ALICE, deviceId: relayId("alice_laptop"), handle: "alice" },
		activePeer: BOB,
		conversations: { [BOB]: [] },
	});
	const client = {
		editMessage: vi.fn(async () => receipt(relayId("edit"), 9_000)),
		deleteMessage: vi.fn(async () => receipt(relayId("del"), 9_000)),
		react: vi.fn(async () => receipt(relayId("react"), 9_000, { credits: 90 })),
		sendText: vi.fn(async () => receipt(relayId("reply"), 9_000)),
		sendFile: vi.fn(),
		downloadFile: vi.fn(),
		sendTyping: vi.fn(),
		accountStatus: vi.fn(async () => {
			throw new Error("not asked in these tests");
		}),
		creditHistory: vi.fn(),
		limits: vi.fn(),
	};
	const { conversations, receipts, typing, account, changes, arrive } = receivingApp(store, history, client, () => true);
	const outgoing = new OutgoingMessages(store, client, history, conversations, receipts, typing, account);
	const load = () => conversations.load(BOB);
	return { store, history, client, changes, outgoing, arrive, load, shown: () => store.state.conversations[BOB] ?? [] };
}

describe("reactions and replies in the app", () => {
	it("puts a contact's reaction on the message it names, changes and removes it, and ignores one for a message not held", async () => {
		const a = app(new MemoryHistory([sent(mine, BOB, 1_000)]));
		await a.load();
		const reaction = (emoji: "👍" | "😮" | "", id: string, to = mine) =>
			incoming(relayId(id), { kind: "reaction", text: "", reaction: { to: { id: to, from: ALICE }, emoji } });
		await a.arrive(reaction("👍", "r1"));
		expect(a.shown()).toEqual([expect.objectContaining({ key: sentKey(mine), reactions: { [BOB]: "👍" } })]);
		await a.arrive(reaction("😮", "r2"));
		expect((await a.history.get(sentKey(mine)))?.reactions).toEqual({ [BOB]: "😮" });
		await a.arrive(reaction("", "r3"));
		expect(await a.history.get(sentKey(mine))).not.toHaveProperty("reactions");
		// Not a message of its own: nothing new in the history, nothing unread.
		await a.arrive(reaction("👍", "r4", relayId("never")));
		expect([...a.history.messages.keys()]).toEqual([sentKey(mine)]);
		expect(a.store.state.unread).toEqual({});
	});

	it("takes this account's own reaction from another device under its own id, and a contact cannot react as us", async () => {
		const a = app(new MemoryHistory([received(m1, BOB, 1_000)]));
		await a.load();
		await a.arrive(
			incoming(relayId("r1"), {
				kind: "reaction",
				from: ALICE,
				outgoing: true,
				text: "",
				reaction: { to: { id: m1, from: BOB }, emoji: "🙏" },
			}),
		);
		expect((await a.history.get(receivedKey(BOB, m1)))?.reactions).toEqual({ [ALICE]: "🙏" });
		// Bob's reaction is Bob's, whatever it names.
		await a.arrive(incoming(relayId("r2"), { kind: "reaction", text: "", reaction: { to: { id: m1, from: BOB }, emoji: "😢" } }));
		expect((await a.history.get(receivedKey(BOB, m1)))?.reactions).toEqual({ [ALICE]: "🙏", [BOB]: "😢" });
	});

	it("sends this account's reaction, charges it and keeps it on the record once the relay took it", async () => {
		const a = app(new MemoryHistory([received(m1, BOB, 1_000)]));
		await a.load();
		const target = a.shown()[0]!;
		await a.changes.react(target, "❤️", ALICE);
		expect(a.client.react).toHaveBeenCalledWith(BOB, { id: m1, from: BOB }, "❤️");
		expect(a.shown()[0]?.reactions).toEqual({ [ALICE]: "❤️" });
		await a.changes.react(a.shown()[0]!, "", ALICE);
		expect(a.shown()[0]).not.toHaveProperty("reactions");
		// Refused: nothing is kept.
		a.client.react.mockRejectedValueOnce(new Error("insufficient_credits"));
		await expect(a.changes.react(a.shown()[0]!, "👍", ALICE)).rejects.toThrow();
		expect(await a.history.get(receivedKey(BOB, m1))).not.toHaveProperty("reactions");
	});

	it("keeps a reply's reference on both the sent and the received record", async () => {
		const a = app(new MemoryHistory([received(m1, BOB, 1_000)]));
		await a.load();
		await a.outgoing.send(BOB, "yes!", { id: m1, from: BOB });
		expect(a.client.sendText).toHaveBeenCalledWith(BOB, "yes!", expect.objectContaining({ replyTo: { id: m1, from: BOB } }));
		expect(await a.history.get(sentKey(relayId("reply")))).toMatchObject({ text: "yes!", replyTo: { id: m1, from: BOB } });
		await a.arrive(incoming(relayId("answer"), { text: "great", replyTo: { id: relayId("reply"), from: ALICE } }));
		expect(await a.history.get(receivedKey(BOB, relayId("answer")))).toMatchObject({ replyTo: { id: relayId("reply"), from: ALICE } });
	});

	it("deletes a message for this device only: its record and its kept file go, and the relay is not asked", async () => {
		const attachment = { id: relayId("file"), owner: BOB, key: "k".repeat(43), size: 3, type: "text/plain", name: "a.txt", sha256: "s" };
		const history = new MemoryHistory([received(m1, BOB, 1_000, { attachment }), sent(mine, BOB, 2_000)]);
		await history.putFile(attachment.id, new Blob(["abc"]));
		const a = app(history);
		await a.load();
		await a.changes.deleteForMe(a.shown()[0]!);
		expect([...history.messages.keys()]).toEqual([sentKey(mine)]);
		expect(await history.file(attachment.id)).toBeUndefined();
		expect(a.shown().map((m) => m.key)).toEqual([sentKey(mine)]);
		expect(a.client.deleteMessage).not.toHaveBeenCalled();
		expect(a.client.react).not.toHaveBeenCalled();
	});

	it("keeps a message deleted for me gone when its sender edits it or the relay delivers it again", async () => {
		const history = new MemoryHistory([received(m1, BOB, 1_000)]);
		const a = app(history);
		await a.load();
		await a.changes.deleteForMe(a.shown()[0]!);
		// An edit of a message this device never had stands in for it; of one deleted here it does not.
		await a.arrive(incoming(relayId("edit1"), { kind: "edit", replaces: m1, text: "edited", editSeq: 1 }));
		await a.arrive(incoming(m1, { text: "the original again" }));
		expect([...history.messages.keys()]).toEqual([]);
		expect(a.shown()).toEqual([]);
	});
});

describe("a malformed reply or reaction from a contact's device", () => {
	it("is refused as a typed bad_body, not shown as a message", async () => {
		const key = randomBytes(32);
		const store = new MemoryKeyStore();
		const keys = { get: async () => key } as unknown as ContactKeyRing;
		const receiver = new MessageReceiver(store, keys);
		const me = { accountId: ALICE, deviceId: relayId("alice_laptop") } as Parameters<MessageReceiver["receive"]>[0];
		const frameFor = (kind: "text" | "reaction", body: unknown, id: string) => {
			const header = { id, from: BOB, fromDevice: relayId("bob_phone"), to: ALICE, keyVersion: 1, kind, sentAt: 1_000 };
			return { type: "message" as const, ...header, ...sealMessage(key, header, body), sentAt: 1_000 };
		};
		const bad = [
			frameFor("text", { text: "yes", replyTo: { id: m1, from: CAROL } }, relayId("b1")),
			frameFor("text", { text: "yes", replyTo: { id: m1, from: BOB, text: "quoted" } }, relayId("b2")),
			frameFor("reaction", { reaction: { to: { id: m1, from: ALICE }, emoji: "👎" } }, relayId("b3")),
			frameFor("reaction", { reaction: { to: { id: m1, from: ALICE }, emoji: "👍" }, text: "extra" }, relayId("b4")),
		];
		for (const frame of bad) {
			expect(await receiver.receive(me, frame)).toEqual({
				kind: "undecryptable",
				message: expect.objectContaining({ id: frame.id, reason: "bad_body" }),
			});
		}
		const good = frameFor("reaction", { reaction: { to: { id: m1, from: ALICE }, emoji: "👍" } }, relayId("g1"));
		expect(await receiver.receive(me, good)).toMatchObject({ kind: "new", message: { kind: "reaction", reaction: { emoji: "👍" } } });
	});
});

describe("the SDK sending a reply or a reaction", () => {
	it("refuses, with a typed bad_request and before anything is sent, an emoji outside the set or a message outside the conversation", async () => {
		const store = new MemoryKeyStore();
		await store.setIdentity({
			seed: randomBytes(32),
			publicKey: randomBytes(32),
			accountId: ALICE,
			deviceId: relayId("alice_laptop"),
			handle: "alice",
		});
		const socket = vi.fn();
		const fetch = vi.fn();
		const client = new MessengerClient({ baseUrl: "https://relay.invalid", store, WebSocket: socket as never, fetch });
		const refusal = (p: Promise<unknown>) =>
			p.then(
				() => "sent",
				(err: { code?: string }) => err.code,
			);
		expect(await refusal(client.react(BOB, { id: m1, from: BOB }, "👎" as never))).toBe("bad_request");
		expect(await refusal(client.react(BOB, { id: m1, from: CAROL }, "👍"))).toBe("bad_request");
		expect(await refusal(client.react(BOB, { id: "short", from: BOB }, "👍"))).toBe("bad_request");
		expect(await refusal(client.sendText(BOB, "yes", { replyTo: { id: m1, from: CAROL } }))).toBe("bad_request");
		expect(await refusal(client.sendText(BOB, "yes", { replyTo: { id: m1, from: BOB, text: "quoted" } as never }))).toBe("bad_request");
		expect(socket).not.toHaveBeenCalled();
		expect(fetch).not.toHaveBeenCalled();
		client.close();
	});
});
