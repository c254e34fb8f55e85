import { describe, expect, it } from "vitest";
import { mergeContacts } from "../../client/app/contact-merge.ts";
import type { Contact } from "../../common/protocol/wire.ts";

const contact = (accountId: string, state: Contact["state"], updatedAt: number): Contact => ({
	accountId,
	handle: `h_${accountId}`,
	state,
	createdAt: 1,
	updatedAt,
});

describe("mergeContacts", () => {
	it("keeps a request that arrived while an older snapshot loaded", () => {
		const snapshot = [contact("a", "accepted", 10)];
		const merged = mergeContacts(snapshot, [contact("b", "incoming", 20)]);
		expect(merged).toEqual([contact("a", "accepted", 10), contact("b", "incoming", 20)]);
	});

	it("takes the snapshot's state of a contact when it is newer than the event, the event's on a tie", () => {
		expect(mergeContacts([contact("a", "accepted", 30)], [contact("a", "incoming", 20)])).toEqual([contact("a", "accepted", 30)]);
		expect(mergeContacts([contact("a", "incoming", 20)], [contact("a", "accepted", 20)])).toEqual([contact("a", "accepted", 20)]);
	});

	it("is the snapshot when nothing changed meanwhile", () => {
		const snapshot = [contact("a", "accepted", 10), contact("b", "blocked", 11)];
		expect(mergeContacts(snapshot, [])).toEqual(snapshot);
	});
});
