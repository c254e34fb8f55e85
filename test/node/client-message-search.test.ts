import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../../client/app/chat-message.ts";
import { findMatch, foldText, keepNewest, matchesQuery, SEARCH_LIMIT, searchQuery, snippet } from "../../client/app/message-search.ts";
import { ALICE, BOB, MemoryHistory, received, sent } from "./client-fakes.ts";

describe("folding a text for search", () => {
	it("drops case and accents, written precomposed or apart", () => {
		expect(foldText("Crème BRÛLÉE")).toBe("creme brulee");
		expect(foldText("Cre\u0300me")).toBe("creme");
		expect(foldText("ΟΔΥΣΣΕΥΣ")).toBe(foldText("οδυσσευς"));
		expect(foldText("İstanbul")).toBe("istanbul");
	});

	it("searches only with two characters or more, once trimmed", () => {
		expect(searchQuery(" a ")).toBeNull();
		expect(searchQuery("é")).toBeNull();
		expect(searchQuery("  Ça ")).toBe("ca");
	});

	it("matches the text of readable messages that are still there", () => {
		const folded = searchQuery("CAFE") as string;
		expect(matchesQuery(received("1", BOB, 1, { text: "a café later?" }), folded)).toBe(true);
		expect(matchesQuery(received("1", BOB, 1, { text: "a tea later?" }), folded)).toBe(false);
		expect(matchesQuery(received("1", BOB, 1, { text: "café", deleted: true }), folded)).toBe(false);
		expect(matchesQuery(received("1", BOB, 1, { text: "café", state: "unreadable" }), folded)).toBe(false);
		// A damaged record is passed over, not a failed search.
		expect(matchesQuery(received("1", BOB, 1, { text: 42 as unknown as string }), folded)).toBe(false);
	});
});

describe("the matching line", () => {
	it("finds the match as written, accents and marks written apart included", () => {
		const text = "Meet at the Cafe\u0301 Noir";
		const found = findMatch(text, "cafe");
		expect(found && text.slice(found.start, found.end)).toBe("Cafe\u0301");
		expect(findMatch("Crème brûlée", "brulee")).toEqual({ start: 6, end: 12 });
		expect(findMatch("nothing here", "cafe")).toBeNull();
	});

	it("keeps a little before the match and cuts a long text, on one line", () => {
		const long = `${"word ".repeat(40)}the Crème\nbrûlée ${"more ".repeat(60)}`;
		const line = snippet(long, "creme brulee");
		expect(line.match).toBe("Crème brûlée");
		expect(line.before.startsWith("…")).toBe(true);
		expect(line.before.endsWith("the ")).toBe(true);
		expect([...line.before].length).toBeLessThanOrEqual(25);
		expect(line.after.endsWith("…")).toBe(true);
		expect(line.after).not.toContain("\n");
		expect(snippet("short Café", "cafe")).toEqual({ before: "short ", match: "Café", after: "" });
	});

	it("keeps a surrogate pair whole", () => {
		const line = snippet("🎉🎉 party time", "party");
		expect(line).toEqual({ before: "🎉🎉 ", match: "party", after: " time" });
	});
});

describe("searching the history", () => {
	const messages = (n: number): ChatMessage[] => Array.from({ length: n }, (_, i) => received(`m${i}`, BOB, i, { text: `note ${i}` }));

	it("keeps the newest few, newest first, as it walks messages in any order", () => {
		const found: ChatMessage[] = [];
		for (const m of [5, 1, 9, 3, 7, 2].map((at) => received(`m${at}`, BOB, at))) keepNewest(found, m, 3);
		expect(found.map((m) => m.at)).toEqual([9, 7, 5]);
	});

	it("finds across conversations, newest first, at most the limit", async () => {
		const history = new MemoryHistory([
			...messages(SEARCH_LIMIT + 10),
			sent("s1", ALICE, 1_000, { text: "a NOTE to Alice" }),
			received("x", ALICE, 2_000, { text: "nothing to see" }),
		]);
		const found = await history.search(searchQuery("note") as string);
		expect(found).toHaveLength(SEARCH_LIMIT);
		expect(found[0]?.id).toBe("s1");
		expect(found[1]?.id).toBe(`m${SEARCH_LIMIT + 9}`);
		expect(await history.search("nothing to", 5)).toEqual([received("x", ALICE, 2_000, { text: "nothing to see" })]);
	});

	it("gives the newest message of each conversation", async () => {
		const history = new MemoryHistory([received("b1", BOB, 1), sent("b2", BOB, 3), received("a1", ALICE, 2)]);
		expect(await history.lastMessages()).toEqual({ [BOB]: sent("b2", BOB, 3), [ALICE]: received("a1", ALICE, 2) });
	});
});
