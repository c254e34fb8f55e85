import type { ChatMessage } from "./chat-message.ts";

/**
 * Search over the local history, on the device only: the relay holds no plaintext, so it could
 * not search, and a query is as private as the messages it finds. Pure, so that HistoryStore
 * (IndexedDB) and the in-memory history of the tests match alike.
 */

/** The most results one search lists: the newest ones. */
export const SEARCH_LIMIT = 50;
/** Fewer characters (once folded) than this match too much to be worth listing. */
export const SEARCH_MIN_CHARS = 2;

/**
 * A text as it is compared: decomposed (NFD) with its combining marks dropped, so that "é"
 * matches "e" and "E", and lower-cased. Greek final sigma is folded to σ, because lower-casing
 * picks it by context, and a query has a different context from the text it should find.
 * Any white space is a space: a line break in a message does not keep two words from matching.
 * Folding code point by code point gives the same result (see foldedWithOrigins).
 */
export function foldText(text: string): string {
	return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().replace(/ς/g, "σ").replace(/\s/g, " ");
}

/** The folded query, or null when it is too short to search with. */
export function searchQuery(raw: string): string | null {
	const folded = foldText(raw.trim());
	return [...folded].length >= SEARCH_MIN_CHARS ? folded : null;
}

/** Whether a message's text holds the folded query; a deleted message and one no key opens have none. */
export function matchesQuery(message: ChatMessage, folded: string): boolean {
	// A damaged record (no text, or not a string) is passed over, not a failed search.
	if (message.state === "unreadable" || message.deleted || typeof message.text !== "string" || !message.text) return false;
	return foldText(message.text).includes(folded);
}

/** Newest first; the key settles messages of one instant, as in the conversations. */
const newestFirst = (a: ChatMessage, b: ChatMessage): number => b.at - a.at || b.key.localeCompare(a.key);

/**
 * `found` (newest first, at most `limit`) with `message` in its place, or as it was when
 * `message` is older than all of a full list. Changes `found` in place: a search walks the
 * whole history and keeps only the newest few.
 */
export function keepNewest(found: ChatMessage[], message: ChatMessage, limit = SEARCH_LIMIT): void {
	const last = found[found.length - 1];
	if (found.length >= limit && last && newestFirst(message, last) >= 0) return;
	let i = found.length;
	while (i > 0 && newestFirst(message, found[i - 1] as ChatMessage) < 0) i--;
	found.splice(i, 0, message);
	if (found.length > limit) found.pop();
}

/** The folded text and, per folded code unit, where the code point it came from starts and ends in `text`. */
function foldedWithOrigins(text: string): { folded: string; starts: number[]; ends: number[] } {
	let folded = "";
	const starts: number[] = [];
	const ends: number[] = [];
	let at = 0;
	for (const char of text) {
		const piece = foldText(char);
		for (let i = 0; i < piece.length; i++) {
			starts.push(at);
			ends.push(at + char.length);
		}
		folded += piece;
		at += char.length;
	}
	return { folded, starts, ends };
}

/**
 * Where in `text` the folded query is first found, as [start, end) of `text`, combining
 * marks after it included (they belong to its last letter); null when it is not there.
 */
export function findMatch(text: string, folded: string): { start: number; end: number } | null {
	if (!folded) return null;
	const map = foldedWithOrigins(text);
	const i = map.folded.indexOf(folded);
	if (i < 0) return null;
	const start = map.starts[i] as number;
	let end = map.ends[i + folded.length - 1] as number;
	// Marks written apart (an "e" then U+0301) fold to nothing: they go with the letter before.
	while (end < text.length) {
		const next = String.fromCodePoint(text.codePointAt(end) as number);
		if (foldText(next) !== "") break;
		end += next.length;
	}
	return { start, end };
}

/** A line of a search result: the text around the match, and the match, to be marked. */
export interface Snippet {
	before: string;
	match: string;
	after: string;
}

/** Room kept before the match, so that the match stays in view when the line is cut at its end. */
const BEFORE_CHARS = 24;
/** The line is cut here anyway (the view ellipsizes it sooner on a narrow screen). */
const AFTER_CHARS = 120;

const oneLine = (text: string): string => text.replace(/\s+/g, " ");

/** Cut `text` to at most `max` code points at its start, at a space when one is near, with "…" where it was cut. */
function tail(text: string, max: number): string {
	const chars = [...text];
	if (chars.length <= max) return text;
	const cut = chars.slice(chars.length - max).join("");
	const space = cut.indexOf(" ");
	return `…${space >= 0 && space < max / 2 ? cut.slice(space + 1) : cut}`;
}

function head(text: string, max: number): string {
	const chars = [...text];
	return chars.length <= max ? text : `${chars.slice(0, max).join("")}…`;
}

/**
 * The line that shows where `text` holds the folded query: a little before the match, the
 * match as written (case and accents kept), and what follows; on one line. With no match
 * (it should not happen for a found message) the text's start.
 */
export function snippet(text: string, folded: string): Snippet {
	const found = findMatch(text, folded);
	if (!found) return { before: head(oneLine(text), AFTER_CHARS), match: "", after: "" };
	return {
		before: tail(oneLine(text.slice(0, found.start)).trimStart(), BEFORE_CHARS),
		match: oneLine(text.slice(found.start, found.end)),
		after: head(oneLine(text.slice(found.end)).trimEnd(), AFTER_CHARS),
	};
}
