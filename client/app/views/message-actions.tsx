import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { REACTION_EMOJIS, type ReactionEmoji } from "../../../common/protocol/wire.ts";
import { errorText } from "../error-text.ts";
import { plural } from "../format.ts";
import type { ChatMessage } from "../history-store.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";

type Mode = "closed" | "menu" | "react" | "edit" | "delete" | "delete-for-me";

/** What can be done with a message: each action needs the message confirmed by the relay, and the own ones a live original. */
export function messageAbilities(message: ChatMessage): { answer: boolean; change: boolean; remove: boolean } {
	const confirmed = message.id !== undefined && !message.pending && message.state !== "sending";
	const readable = confirmed && !message.deleted && message.state !== "unreadable" && message.state !== "failed";
	return {
		// Reply and React: any message of either side that can be read.
		answer: readable,
		// Edit and Delete for everyone: our own, once the relay has it.
		change: readable && message.outgoing && (message.state === "sent" || message.state === "delivered"),
		// Delete for me: anything kept here but a send in flight (a failed one has its own Remove).
		remove: confirmed && message.state !== "failed",
	};
}

const price = (n: number | undefined) => (n === undefined ? "" : ` · ${plural(n, "credit")}`);

/**
 * Arrow keys move between the items of an open menu, Home and End go to the ends, Escape
 * closes it (the caller puts the focus back on the button that opened it).
 */
function menuKeys(e: KeyboardEvent, close: () => void): void {
	if (e.key === "Escape") {
		e.preventDefault();
		e.stopPropagation();
		close();
		return;
	}
	const items = Array.from((e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[role^="menuitem"]'));
	const at = items.indexOf(document.activeElement as HTMLElement);
	const next =
		e.key === "ArrowDown"
			? (at + 1) % items.length
			: e.key === "ArrowUp"
				? (at - 1 + items.length) % items.length
				: e.key === "Home"
					? 0
					: e.key === "End"
						? items.length - 1
						: -1;
	if (next < 0) return;
	e.preventDefault();
	items[next]?.focus();
}

/** The reaction set as a menu: the current one marked, choosing it again (or "Remove") takes it back. */
function ReactionMenu({
	mine,
	reactionPrice,
	onPick,
	onClose,
}: {
	mine: ReactionEmoji | undefined;
	reactionPrice: number | undefined;
	onPick: (emoji: ReactionEmoji | "") => void;
	onClose: () => void;
}) {
	const menu = useRef<HTMLDivElement>(null);
	// In the commit, not after paint: a key pressed right after opening goes to the menu, not the button.
	useLayoutEffect(() => menu.current?.querySelector<HTMLElement>('[role^="menuitem"]')?.focus(), []);
	return (
		<div
			class="reaction-menu"
			role="menu"
			aria-label={`Reactions${price(reactionPrice)}`}
			ref={menu}
			onKeyDown={(e) => menuKeys(e, onClose)}
		>
			{REACTION_EMOJIS.map((emoji) => (
				<button
					key={emoji}
					type="button"
					role="menuitemradio"
					aria-checked={mine === emoji}
					aria-label={`React with ${emoji}${price(reactionPrice)}`}
					onClick={() => onPick(mine === emoji ? "" : emoji)}
				>
					{emoji}
				</button>
			))}
			{mine !== undefined && (
				<button type="button" role="menuitem" class="link" onClick={() => onPick("")}>
					Remove reaction
				</button>
			)}
		</div>
	);
}

/** A message as the views show it, with what they need to act on it. */
export interface MessageProps {
	controller: MessengerController;
	state: MessengerState;
	message: ChatMessage;
	/** Start a reply to this message in the composer. */
	onReply?: (message: ChatMessage) => void;
}

/**
 * One actions menu per message, behind a "⋯" button: Reply and React on any readable message,
 * Edit and Delete for everyone on our own, Delete for me on anything kept here. The paid ones
 * show their price first; the deleting ones ask once more.
 */
export function MessageActions({ controller, state, message, onReply }: MessageProps) {
	const [mode, setMode] = useState<Mode>("closed");
	const [text, setText] = useState(message.text);
	const opener = useRef<HTMLButtonElement>(null);
	const menu = useRef<HTMLDivElement>(null);
	const root = useRef<HTMLSpanElement>(null);
	const menuOpen = mode === "menu" || mode === "react";
	const menuOpenNow = useRef(menuOpen);
	menuOpenNow.current = menuOpen;
	const prices = state.limits?.prices;
	const can = messageAbilities(message);
	const me = state.me?.accountId;
	const mine = me === undefined ? undefined : message.reactions?.[me];
	const save = useAction(
		(t: string) => controller.editMessage(message, t),
		(err) => errorText(err, "send"),
	);
	const remove = useAction(
		() => controller.deleteMessage(message),
		(err) => errorText(err, "send"),
	);
	const react = useAction(
		(emoji: ReactionEmoji | "") => controller.react(message, emoji),
		(err) => errorText(err, "send"),
	);
	const forget = useAction(
		() => controller.deleteForMe(message),
		(err) => errorText(err, "general"),
	);
	useLayoutEffect(() => {
		if (mode === "menu") menu.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
	}, [mode]);
	// A click anywhere else closes an open menu, as menus do; the focus stays where that click put it.
	useEffect(() => {
		if (!menuOpen) return;
		const away = (e: PointerEvent) => {
			if (!root.current?.contains(e.target as Node)) setMode("closed");
		};
		document.addEventListener("pointerdown", away);
		return () => document.removeEventListener("pointerdown", away);
	}, [menuOpen]);
	if (!can.answer && !can.change && !can.remove) return null;
	const close = () => {
		setMode("closed");
		opener.current?.focus();
	};
	const escapeCloses = (e: KeyboardEvent) => {
		if (e.key !== "Escape") return;
		e.preventDefault();
		close();
	};
	/**
	 * The focus left the open menu (Tab, a click elsewhere): it closes. Judged once the focus
	 * has landed: the menu turning into the reaction picker drops the focus for a moment, and a
	 * window that lost the focus as a whole keeps its menu.
	 */
	const focusLeft = () =>
		setTimeout(() => {
			if (menuOpenNow.current && document.hasFocus() && !root.current?.contains(document.activeElement)) setMode("closed");
		}, 0);
	const error = save.error ?? remove.error ?? react.error ?? forget.error;
	return (
		<span class="message-actions-root" ref={root} onFocusOut={menuOpen ? focusLeft : undefined}>
			<button
				type="button"
				class="link more"
				ref={opener}
				aria-label="Message actions"
				aria-haspopup="menu"
				aria-expanded={mode === "menu" || mode === "react"}
				onClick={() => (mode === "menu" ? close() : setMode("menu"))}
			>
				⋯
			</button>
			{mode === "menu" && (
				<div class="message-actions" role="menu" aria-label="Message actions" ref={menu} onKeyDown={(e) => menuKeys(e, close)}>
					{can.answer && onReply && (
						<button
							type="button"
							role="menuitem"
							onClick={() => {
								setMode("closed");
								onReply(message);
							}}
						>
							Reply
						</button>
					)}
					{can.answer && (
						<button type="button" role="menuitem" aria-haspopup="menu" onClick={() => setMode("react")}>
							React{price(prices?.reaction)}
						</button>
					)}
					{can.change && !message.attachment && (
						<button type="button" role="menuitem" onClick={() => setMode("edit")}>
							Edit{price(prices?.edit)}
						</button>
					)}
					{can.change && (
						<button type="button" role="menuitem" class="danger" onClick={() => setMode("delete")}>
							Delete for everyone{price(prices?.delete)}
						</button>
					)}
					{can.remove && (
						<button type="button" role="menuitem" class="danger" onClick={() => setMode("delete-for-me")}>
							Delete for me
						</button>
					)}
				</div>
			)}
			{mode === "react" && (
				<ReactionMenu
					mine={mine}
					reactionPrice={prices?.reaction}
					onClose={close}
					onPick={async (emoji) => {
						if (await react.run(emoji)) close();
					}}
				/>
			)}
			{mode === "edit" && (
				<form
					class="stack message-actions"
					onKeyDown={escapeCloses}
					onSubmit={async (e) => {
						e.preventDefault();
						const t = text.trim();
						if (t && t !== message.text && (await save.run(t))) close();
					}}
				>
					<label>
						New text
						<textarea rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
					</label>
					<div class="actions">
						<button type="submit" class="primary" disabled={save.busy || !text.trim()}>
							Save{price(prices?.edit)}
						</button>
						<button type="button" onClick={close}>
							Cancel
						</button>
					</div>
				</form>
			)}
			{mode === "delete" && (
				<fieldset class="actions message-actions" onKeyDown={escapeCloses}>
					<legend class="visually-hidden">Delete for everyone?</legend>
					<button
						type="button"
						class="danger"
						disabled={remove.busy}
						onClick={async () => {
							if (await remove.run()) close();
						}}
					>
						Yes, delete{price(prices?.delete)}
					</button>
					<button type="button" onClick={close}>
						Cancel
					</button>
				</fieldset>
			)}
			{mode === "delete-for-me" && (
				<fieldset class="stack message-actions" onKeyDown={escapeCloses}>
					<legend class="visually-hidden">Delete for me?</legend>
					<p>Delete this message from this device? The other person, and your other devices, keep it.</p>
					<div class="actions">
						<button type="button" class="danger" disabled={forget.busy} onClick={() => void forget.run()}>
							Yes, delete for me
						</button>
						<button type="button" onClick={close}>
							Cancel
						</button>
					</div>
				</fieldset>
			)}
			{error && (
				<p class="error" role="alert">
					{error}
				</p>
			)}
		</span>
	);
}
