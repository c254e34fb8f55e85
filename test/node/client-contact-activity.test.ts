import { describe, expect, it } from "vitest";
import { sentKey } from "../../client/app/chat-message.ts";
import { lastOf, mergeLast, orderContacts, previewText, withoutShown, withShown } from "../../client/app/contact-activity.ts";
import { formatShortTime } from "../../client/app/format.ts";
import type { AttachmentInfo } from "../../client/core/message-body.ts";
import { ALICE, BOB, contactOf, received, relayId, sent } from "./client-fakes.ts";

const CAROL = relayId("carol");
const DAVE = relayId("dave");
const ERIN = relayId("erin");

const file = (name: string, type: string): AttachmentInfo => ({ id: "f", owner: BOB, key: "k", size: 1, type, name, sha256: "h" });

describe("the contact list's order", () => {
	it("puts requests first, then the newest conversation, then contacts without messages by their last change, blocked last", () => {
		const contacts = [
			contactOf(ALICE, "accepted", 5),
			contactOf(BOB, "accepted", 1),
			contactOf(CAROL, "blocked", 9),
			contactOf(DAVE, "incoming", 2),
			contactOf(ERIN, "outgoing", 7),
			contactOf(relayId("frank"), "accepted", 3),
		];
		const last = { [ALICE]: received("a", ALICE, 100), [BOB]: sent("b", BOB, 200), [CAROL]: received("c", CAROL, 300) };
		expect(orderContacts(contacts, last).map((c) => c.handle)).toEqual(["h_dave", "h_bob", "h_alice", "h_erin", "h_frank", "h_carol"]);
	});

	it("moves a contact up when a message of theirs comes, and never changes the list it was given", () => {
		const contacts = [contactOf(ALICE, "accepted"), contactOf(BOB, "accepted")];
		const before = { [ALICE]: received("a", ALICE, 2), [BOB]: received("b", BOB, 1) };
		expect(orderContacts(contacts, before).map((c) => c.accountId)).toEqual([ALICE, BOB]);
		const after = withShown(before, received("b2", BOB, 3)) ?? before;
		expect(orderContacts(contacts, after).map((c) => c.accountId)).toEqual([BOB, ALICE]);
		expect(contacts.map((c) => c.accountId)).toEqual([ALICE, BOB]);
	});

	it("orders requests by handle, as before", () => {
		const contacts = [contactOf(BOB, "incoming", 9), contactOf(ALICE, "incoming", 1)];
		expect(orderContacts(contacts, {}).map((c) => c.handle)).toEqual(["h_alice", "h_bob"]);
	});
});

describe("the last message's preview", () => {
	it("shows the text on one line, with You: before one's own", () => {
		expect(previewText(received("a", BOB, 1, { text: "see you\n  at six" }))).toBe("see you at six");
		expect(previewText(sent("a", BOB, 1, { text: "on my way" }))).toBe("You: on my way");
	});

	it("names a file, calls an image a photo, also while it is sent", () => {
		expect(previewText(received("a", BOB, 1, { text: "", attachment: file("notes.txt", "text/plain") }))).toBe("📎 notes.txt");
		expect(previewText(received("a", BOB, 1, { text: "", attachment: file("cat.png", "image/png") }))).toBe("Photo");
		expect(previewText(sent("a", BOB, 1, { text: "", file: { name: "cat.jpg", size: 1, type: "image/jpeg" } }))).toBe("You: Photo");
		// The sender chose the name: shown as a download would save it.
		expect(previewText(received("a", BOB, 1, { text: "", attachment: file("../x\u202Egpj.exe", "application/x") }))).toBe("📎 _xgpj.exe");
	});

	it("says a deleted message was deleted and shows nothing of one no key opened", () => {
		expect(previewText(received("a", BOB, 1, { text: "", deleted: true }))).toBe("This message was deleted.");
		expect(previewText(received("a", BOB, 1, { text: "", state: "unreadable" }))).toBe("");
	});

	it("gives the time of today's message, the day of an older one", () => {
		const now = new Date(2026, 5, 15, 18, 0).getTime();
		const today = formatShortTime(new Date(2026, 5, 15, 9, 5).getTime(), now);
		expect(today).toMatch(/09.05/);
		const earlier = formatShortTime(new Date(2026, 2, 12, 9, 5).getTime(), now);
		expect(earlier).toMatch(/12/);
		expect(earlier).not.toMatch(/09.05/);
		expect(formatShortTime(new Date(2024, 2, 12).getTime(), now)).toMatch(/24/);
	});
});

describe("keeping the last messages", () => {
	it("takes a newer message, or the same one changed, and leaves an older one out", () => {
		const last = { [BOB]: received("b", BOB, 5) };
		expect(withShown(last, received("old", BOB, 4))).toBeNull();
		const edited = received("b", BOB, 5, { text: "edited", edited: true });
		expect(withShown(last, edited)?.[BOB]).toEqual(edited);
		expect(withShown(last, sent("s", ALICE, 1))).toEqual({ ...last, [ALICE]: sent("s", ALICE, 1) });
	});

	it("puts a confirmed send in place of its local copy, even at an earlier time", () => {
		const { id: _, ...local } = sent("x", BOB, 9);
		const last = { [BOB]: { ...local, key: "local:1", state: "sending" as const } };
		expect(withShown(last, sent("m1", BOB, 8), "local:1")?.[BOB]?.key).toBe(sentKey("m1"));
	});

	it("drops a removed last message (the one before comes from the history), and leaves the rest", () => {
		const last = { [BOB]: sent("b", BOB, 5), [ALICE]: sent("a", ALICE, 1) };
		expect(withoutShown(last, BOB, sentKey("other"))).toBeNull();
		expect(withoutShown(last, BOB, sentKey("b"))).toEqual({ [ALICE]: sent("a", ALICE, 1) });
	});

	it("merges what the history held with what was shown meanwhile, the newer winning", () => {
		const shown = { [BOB]: received("new", BOB, 9) };
		const loaded = { [BOB]: received("old", BOB, 2), [ALICE]: received("a", ALICE, 1) };
		expect(mergeLast(shown, loaded)).toEqual({ [BOB]: received("new", BOB, 9), [ALICE]: received("a", ALICE, 1) });
		expect(mergeLast({ [BOB]: received("old", BOB, 2) }, { [BOB]: received("new", BOB, 9) })[BOB]?.id).toBe("new");
		expect(lastOf([received("1", BOB, 1), received("2", BOB, 2)])?.id).toBe("2");
		expect(lastOf([])).toBeUndefined();
	});
});
