import type { RefObject } from "preact";
import { useCallback, useLayoutEffect, useRef } from "preact/hooks";
import { controlStep, listMove, movedIndex } from "../list-keys.ts";

/** A message of the list (an unshowable one too); the unread divider and anchors are not. */
const ITEM = ":scope > li.message";
/** What can take the focus inside a message. */
const CONTROL = "a[href], button, input, textarea, select, summary, [tabindex]";
/**
 * An open menu, edit form or confirmation, and the image viewer, keep the keyboard (and the
 * tab order) they have: they are entered on purpose and closed with Escape.
 */
const OWN_KEYS = ".message-actions, .reaction-menu, dialog";

const itemsOf = (list: HTMLElement): HTMLElement[] => Array.from(list.querySelectorAll<HTMLElement>(ITEM));

/** The controls of a message the arrow keys visit, in reading order. */
function controlsOf(item: HTMLElement): HTMLElement[] {
	return Array.from(item.querySelectorAll<HTMLElement>(CONTROL)).filter(
		(el) => !el.closest(OWN_KEYS) && !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
	);
}

/**
 * The message list as one tab stop (WAI-ARIA APG roving tabindex, as in its layout grid):
 * Tab enters on the message last focused, or the newest; ArrowUp/ArrowDown/Home/End move
 * between messages; Enter or ArrowRight goes into the focused message's controls (actions,
 * quote, links, reaction chips, image, download), ArrowLeft/ArrowRight step through them and
 * Escape or ArrowLeft from the first comes back to the message. Every control inside a message
 * is tabindex=-1, so Tab from anywhere in the list leaves it: a 30-message chat no longer
 * costs 30-odd Tabs to reach the composer. The DOM is the source of truth here (messages come
 * and go, a control appears when a reaction arrives): a MutationObserver keeps it so.
 */
export function useMessageFocus(
	list: RefObject<HTMLOListElement>,
	/** Whether the list is rendered (an empty conversation shows a line instead). */
	shown: boolean,
): {
	onKeyDown: (e: KeyboardEvent) => void;
	onFocusIn: (e: FocusEvent) => void;
} {
	const current = useRef<HTMLElement | null>(null);
	const apply = useCallback(() => {
		const el = list.current;
		if (!el) return;
		const items = itemsOf(el);
		const active = current.current?.isConnected && items.includes(current.current) ? current.current : (items.at(-1) ?? null);
		for (const item of items) {
			const wanted = item === active ? 0 : -1;
			if (item.tabIndex !== wanted) item.tabIndex = wanted;
			for (const control of item.querySelectorAll<HTMLElement>(CONTROL)) {
				if (!control.closest(OWN_KEYS) && control.tabIndex !== -1) control.tabIndex = -1;
			}
		}
	}, [list]);
	useLayoutEffect(() => {
		const el = list.current;
		if (!el) return;
		apply();
		// Only added and removed nodes: the tabindex written here is an attribute, not observed.
		const observer = new MutationObserver(apply);
		observer.observe(el, { childList: true, subtree: true });
		return () => observer.disconnect();
	}, [list, apply, shown]);

	const onFocusIn = useCallback(
		(e: FocusEvent) => {
			const item = (e.target as HTMLElement).closest<HTMLElement>("li.message");
			if (!item || item.parentElement !== list.current || current.current === item) return;
			current.current = item;
			apply();
		},
		[list, apply],
	);

	const onKeyDown = useCallback(
		(e: KeyboardEvent) => {
			const el = list.current;
			const target = e.target as HTMLElement;
			if (!el || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || target.closest(OWN_KEYS)) return;
			const item = target.closest<HTMLElement>("li.message");
			if (!item || item.parentElement !== el) return;
			const items = itemsOf(el);
			const move = listMove(e.key);
			if (target === item) {
				if (move) {
					e.preventDefault();
					items[movedIndex(move, items.indexOf(item), items.length)]?.focus();
				} else if (e.key === "Enter" || e.key === "ArrowRight") {
					const first = controlsOf(item)[0];
					if (!first) return;
					e.preventDefault();
					first.focus();
				}
				return;
			}
			// A text field inside a message keeps its keys.
			if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
			if (e.key === "Escape") {
				e.preventDefault();
				item.focus();
				return;
			}
			if (e.key === "ArrowUp" || e.key === "ArrowDown") {
				e.preventDefault();
				items[movedIndex(move ?? "next", items.indexOf(item), items.length)]?.focus();
				return;
			}
			const controls = controlsOf(item);
			const step = controlStep(e.key, controls.indexOf(target), controls.length);
			if (step === null) return;
			e.preventDefault();
			(step < 0 ? item : controls[step])?.focus();
		},
		[list],
	);
	return { onKeyDown, onFocusIn };
}
