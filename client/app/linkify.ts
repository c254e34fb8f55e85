/**
 * Web addresses in a message's text, as parts a view can render as text and links. The text
 * is the sender's to choose, so only an address written out with http:// or https:// becomes
 * a link: no other scheme (javascript:, data:, file:, a custom app's) is ever one, and no
 * markup in the text means anything. The link shows as it was written; its href is what the
 * URL parser made of it, so what the browser opens is exactly a parsed http(s) URL.
 */

export type TextPart = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

/**
 * An address starts with the scheme, not inside a word ("xhttps://" is not one), and runs to
 * the first space, quote, angle bracket, or control or invisible formatting character: a
 * right-to-left override inside a link would make it read as some other address.
 */
const CANDIDATE = /(?<![\p{L}\p{N}])https?:\/\/[^\s<>"`\p{Cc}\p{Cf}\p{Z}]+/giu;

/** Punctuation that ends a sentence or a quote after an address far more often than the address itself. */
const TRAILING = new Set([".", ",", "!", "?", ";", ":", "'", "*", "…", "’", "”", "»"]);

/** A closing bracket stays part of an address only while it closes one opened inside it ("…/Foo_(bar)"). */
const OPENER: Readonly<Record<string, string>> = { ")": "(", "]": "[", "}": "{" };

/**
 * Past this many links the rest of a text stays text: each link is an element, and a text
 * made of nothing but addresses should cost no more to show than its length says.
 */
export const MAX_LINKS = 200;

function count(text: string, char: string): number {
	let n = 0;
	for (const c of text) if (c === char) n++;
	return n;
}

/** The candidate without the punctuation that follows it in the sentence. One pass from the end. */
function trimTrailing(candidate: string): string {
	const open: Record<string, number> = {};
	const close: Record<string, number> = {};
	for (const [closer, opener] of Object.entries(OPENER)) {
		open[closer] = count(candidate, opener);
		close[closer] = count(candidate, closer);
	}
	let end = candidate.length;
	while (end > 0) {
		const last = candidate[end - 1] as string;
		if (TRAILING.has(last)) {
			end--;
		} else if (last in OPENER && (close[last] ?? 0) > (open[last] ?? 0)) {
			close[last] = (close[last] ?? 0) - 1;
			end--;
		} else {
			break;
		}
	}
	return candidate.slice(0, end);
}

/** The parsed http(s) URL, or null for anything the parser refuses or gives another scheme or no host. */
function webUrl(written: string): string | null {
	let url: URL;
	try {
		url = new URL(written);
	} catch {
		return null;
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return null;
	return url.hostname === "" ? null : url.href;
}

/** The text split into text and link parts, in order; joined, the parts' texts are the text. */
export function linkify(text: string): TextPart[] {
	const parts: TextPart[] = [];
	let from = 0;
	let links = 0;
	// Lazily, one match at a time: the scan stops at the last link allowed.
	for (const match of text.matchAll(CANDIDATE)) {
		if (links === MAX_LINKS) break;
		const written = trimTrailing(match[0]);
		const href = webUrl(written);
		if (href === null) continue;
		if (match.index > from) parts.push({ kind: "text", text: text.slice(from, match.index) });
		parts.push({ kind: "link", text: written, href });
		from = match.index + written.length;
		links++;
	}
	if (from < text.length) parts.push({ kind: "text", text: text.slice(from) });
	return parts;
}
