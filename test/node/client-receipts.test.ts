import { describe, expect, it } from "vitest";
import { sentKey } from "../../client/app/chat-message.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { Receipts } from "../../client/app/features/receipts.ts";
import { keepBounded } from "../../client/app/keep-bounded.ts";
import { BOB, MemoryHistory, relayId, sent, storeWith } from "./client-fakes.ts";

function receiptsOver(history: MemoryHistory) {
	const store = storeWith({ conversations: { [BOB]: [...history.messages.values()] } });
	return { store, receipts: new Receipts(history, new Conversations(store, history, () => true)) };
}

const m1 = relayId("m1");
const phone = relayId("bob_phone");
const laptop = relayId("bob_laptop");

describe("delivery receipts", () => {
	it("mark a sent message delivered, once per recipient device", async () => {
		const history = new MemoryHistory([sent(m1, BOB, 1)]);
		const { store, receipts } = receiptsOver(history);
		await receipts.delivered([m1], phone);
		await receipts.delivered([m1], phone);
		await receipts.delivered([m1], laptop);
		expect(store.state.conversations[BOB]).toEqual([sent(m1, BOB, 1, { state: "delivered", deliveredTo: [phone, laptop] })]);
		expect(await history.get(sentKey(m1))).toEqual(store.state.conversations[BOB]?.[0]);
	});

	it("hold a receipt for a message not known here yet, and hand it over once, to whoever stores the message", async () => {
		const { receipts } = receiptsOver(new MemoryHistory());
		await receipts.delivered([m1], phone);
		await receipts.delivered([m1], laptop);
		expect(receipts.heldFor(m1)).toEqual([phone, laptop]);
		expect(receipts.takeHeld(m1)).toEqual([phone, laptop]);
		expect(receipts.takeHeld(m1)).toBeUndefined();
	});

	it("count a receipt for an edit this device sent as one for the message it replaced", async () => {
		const history = new MemoryHistory([sent(m1, BOB, 1, { text: "edited", edited: true })]);
		const { store, receipts } = receiptsOver(history);
		receipts.edited(relayId("e1"), m1);
		await receipts.delivered([relayId("e1")], phone);
		expect(store.state.conversations[BOB]?.[0]).toMatchObject({ id: m1, state: "delivered", deliveredTo: [phone] });
		expect(receipts.heldFor(relayId("e1"))).toBeUndefined();
	});

	it("leave incoming messages alone", async () => {
		const theirs = { ...sent(m1, BOB, 1), outgoing: false, state: "received" as const };
		const history = new MemoryHistory([theirs]);
		const { store, receipts } = receiptsOver(history);
		await receipts.delivered([m1], phone);
		expect(store.state.conversations[BOB]).toEqual([theirs]);
	});

	it("hold receipts for at most 500 unknown messages, forgetting the oldest first", async () => {
		const { receipts } = receiptsOver(new MemoryHistory());
		for (let n = 0; n <= 500; n++) await receipts.delivered([relayId(`x${n}`)], phone);
		expect(receipts.heldFor(relayId("x0"))).toBeUndefined();
		expect(receipts.heldFor(relayId("x1"))).toEqual([phone]);
		expect(receipts.heldFor(relayId("x500"))).toEqual([phone]);
	});
});

describe("a bounded map", () => {
	it("forgets its oldest entry past the bound, and keeps an updated key in its old place", () => {
		const map = new Map<string, number>();
		for (const key of ["a", "b", "c"]) keepBounded(map, key, 1, 3);
		keepBounded(map, "a", 2, 3);
		keepBounded(map, "d", 1, 3);
		expect([...map]).toEqual([
			["b", 1],
			["c", 1],
			["d", 1],
		]);
	});
});
