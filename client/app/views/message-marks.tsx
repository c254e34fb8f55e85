import type { RefObject } from "preact";
import { useEffect } from "preact/hooks";
import type { ChatMessage } from "../chat-message.ts";
import { plural } from "../format.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";

/** How long a message brought into view from a search stays marked. */
export const HIGHLIGHT_MS = 2_000;

/**
 * What goes just before a message in the list: the unread divider, where the conversation's
 * unread messages began when it was opened, and the anchor of a message to bring into view
 * (the element after it is that message's, whatever the message item renders inside).
 */
export function MessageMarks({ state, message }: { state: MessengerState; message: ChatMessage }) {
	const divider = state.unreadDivider;
	const unread = divider?.key === message.key && divider.peerId === message.peerId ? divider.count : 0;
	return (
		<>
			{unread > 0 && (
				<li class="unread-divider" aria-label={plural(unread, "unread message")}>
					{plural(unread, "unread message")}
				</li>
			)}
			{state.highlight === message.key && <li class="jump-anchor" hidden />}
		</>
	);
}

/**
 * Brings the marks into view in the scrolling list: the unread divider when it comes (only if
 * it is above what shows, so the first unread message is where reading starts), and a message
 * opened from a search, centred, marked for a moment and focused, once the list shows it.
 * `pinned` is the list's "stay at the bottom": it lets go, or the next message would scroll away.
 */
export function useMessageMarks(
	controller: Pick<MessengerController, "highlight">,
	scroller: RefObject<HTMLElement>,
	pinned: { current: boolean },
	state: MessengerState,
	messages: readonly ChatMessage[],
): void {
	const dividerKey = state.unreadDivider?.key;
	useEffect(() => {
		const list = scroller.current;
		const divider = list?.querySelector<HTMLElement>("li.unread-divider");
		if (!list || !divider) return;
		if (divider.getBoundingClientRect().top < list.getBoundingClientRect().top) {
			pinned.current = false;
			divider.scrollIntoView({ block: "start" });
		}
	}, [dividerKey]);

	const wanted = state.highlight;
	useEffect(() => {
		if (wanted === null) return;
		// After the chat's own focus (its heading, when it opens) and layout: this one wins.
		const frame = requestAnimationFrame(() => {
			const target = scroller.current?.querySelector("li.jump-anchor")?.nextElementSibling;
			if (!(target instanceof HTMLElement)) return;
			pinned.current = false;
			target.scrollIntoView({ block: "center" });
			target.dataset.highlight = "";
			// Focusable from here, so that the keyboard and a screen reader are where the eyes are.
			if (!target.hasAttribute("tabindex")) target.tabIndex = -1;
			target.focus({ preventScroll: true });
			setTimeout(() => delete target.dataset.highlight, HIGHLIGHT_MS);
			controller.highlight(null);
		});
		return () => cancelAnimationFrame(frame);
	}, [wanted, messages]);
}
