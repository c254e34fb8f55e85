import { describe, expect, it, vi } from "vitest";
import { sentKey } from "../../client/app/chat-message.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { ReadReceiptSetting, ReadReceipts } from "../../client/app/features/read-receipts.ts";
import { Receipts } from "../../client/app/features/receipts.ts";
import { ACK_IDS_MAX } from "../../common/protocol/wire.ts";
import { ALICE, BOB, contactOf, MemoryHistory, memoryStorage, received, relayId, sent, storeWith } from "./client-fakes.ts";

function readReceipts(storage = memoryStorage(), contacts = [contactOf(BOB, "accepted"), contactOf(ALICE, "blocked")]) {
	const store = storeWith({ contacts });
	const client = { sendReadReceipt: vi.fn(async () => true) };
	const errors: unknown[] = [];
	const receipts = new ReadReceipts(store, client, new ReadReceiptSetting("profile", () => storage), (err) => errors.push(err));
	return { store, client, receipts, storage, errors };
}

describe("read receipts this device sends", () => {
	it("tell an accepted contact which of their messages were seen, in frames of at most 500 ids", () => {
		const { client, receipts } = readReceipts();
		const ids = Array.from({ length: ACK_IDS_MAX + 3 }, (_, i) => relayId(`m${i}`));
		receipts.seen(BOB, ids);
		expect(client.sendReadReceipt.mock.calls).toEqual([
			[BOB, ids.slice(0, ACK_IDS_MAX)],
			[BOB, ids.slice(ACK_IDS_MAX)],
		]);
	});

	it("go to nobody who is not an accepted contact (a blocked one, a stranger)", () => {
		const { client, receipts } = readReceipts();
		receipts.seen(ALICE, [relayId("m1")]);
		receipts.seen(relayId("stranger"), [relayId("m2")]);
		expect(client.sendReadReceipt).not.toHaveBeenCalled();
	});

	it("stop when the person turns them off on this device, and the choice outlives the page", () => {
		const storage = memoryStorage();
		const first = readReceipts(storage);
		expect(first.store.state.sendReadReceipts).toBe(true);
		first.receipts.setEnabled(false);
		first.receipts.seen(BOB, [relayId("m1")]);
		expect(first.client.sendReadReceipt).not.toHaveBeenCalled();
		const next = readReceipts(storage);
		expect(next.store.state.sendReadReceipts).toBe(false);
		next.receipts.setEnabled(true);
		expect(readReceipts(storage).store.state.sendReadReceipts).toBe(true);
	});

	it("go out for the contact's unread messages once the conversation is read on a visible page, and not for our own", async () => {
		const history = new MemoryHistory([
			received("m1", BOB, 1, { unread: 1 }),
			received("m2", BOB, 2, { unread: 1 }),
			received("a1", ALICE, 3, { unread: 1 }),
			sent("s1", BOB, 4),
		]);
		const store = storeWith({ unread: { [BOB]: 2, [ALICE]: 1 } });
		const seen: Array<[string, string[]]> = [];
		await new Conversations(
			store,
			history,
			() => true,
			(peerId, ids) => seen.push([peerId, ids]),
		).open(BOB);
		expect(seen.map(([peer, ids]) => [peer, [...ids].sort()])).toEqual([[BOB, ["m1", "m2"]]]);
	});
});

describe("read receipts this account's messages get", () => {
	it("show a message as read on that device, which also counts as delivered there, once", async () => {
		const history = new MemoryHistory([sent("s1", BOB, 1)]);
		const shown: unknown[] = [];
		const receipts = new Receipts(history, { show: (m) => shown.push(m) });
		await receipts.read(["s1"], "bob-phone");
		await receipts.read(["s1"], "bob-phone");
		const message = await history.get(sentKey("s1"));
		expect(message).toMatchObject({ state: "delivered", deliveredTo: ["bob-phone"], readBy: ["bob-phone"] });
		expect(shown).toHaveLength(1);
	});
});
