import { Fragment } from "preact";
import { useMemo } from "preact/hooks";
import { linkify } from "../linkify.ts";

/**
 * A message's text with its web addresses as links. Every part is a text node or an anchor
 * built as an element, never markup: whatever the sender wrote shows as the characters they
 * typed. A link opens in a new tab without a handle back to this page (noopener) and without
 * telling the site where the click came from (noreferrer).
 */
export function LinkedText({ text }: { text: string }) {
	const parts = useMemo(() => linkify(text), [text]);
	let offset = 0;
	return (
		<>
			{parts.map((part) => {
				// Where the part starts in the text: stable for a given text, and unique.
				const key = offset;
				offset += part.text.length;
				return part.kind === "link" ? (
					<a key={key} href={part.href} target="_blank" rel="noopener noreferrer">
						{part.text}
					</a>
				) : (
					<Fragment key={key}>{part.text}</Fragment>
				);
			})}
		</>
	);
}
