import { useEffect, useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import type { ChatMessage } from "../chat-message.ts";
import { orderContacts, previewText } from "../contact-activity.ts";
import { contactRequestText, errorText } from "../error-text.ts";
import { formatShortTime, plural } from "../format.ts";
import { searchQuery, snippet } from "../message-search.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorBoundary } from "./error-boundary.tsx";
import { ErrorLine } from "./error-line.tsx";
import { TrustBadge } from "./safety-number.tsx";
import { UnreadBadge } from "./unread-badge.tsx";

/** Typing is searched once it pauses this long, not at every key. */
const SEARCH_DEBOUNCE_MS = 150;

export function AddContactForm({ controller }: { controller: MessengerController }) {
	const [handle, setHandle] = useState("");
	const [sent, setSent] = useState<string | null>(null);
	useEffect(() => {
		if (sent === null) return;
		const timer = setTimeout(() => setSent(null), 8_000);
		return () => clearTimeout(timer);
	}, [sent]);
	const action = useAction(
		(h: string) => controller.requestContact(h),
		// The handle as typed when the request was made: the field keeps it when the request is refused.
		(err) => contactRequestText(err, handle.trim().toLowerCase()),
	);
	return (
		<form
			class="add-contact"
			aria-label="Add a contact"
			onSubmit={async (e) => {
				e.preventDefault();
				const h = handle.trim();
				setSent(null);
				if (await action.run(h)) {
					setSent(h.toLowerCase());
					setHandle("");
				}
			}}
		>
			<label for="add-contact-handle" class="visually-hidden">
				Handle of the person to add
			</label>
			<div class="row">
				<input
					id="add-contact-handle"
					name="contact-handle"
					placeholder="Add a contact by handle"
					value={handle}
					onInput={(e) => setHandle(e.currentTarget.value)}
					autocapitalize="none"
					spellcheck={false}
					required
				/>
				<button type="submit" disabled={action.busy}>
					Add
				</button>
			</div>
			<ErrorLine text={action.error} />
			{sent && <output class="hint">Request sent to @{sent}.</output>}
		</form>
	);
}

function IncomingRequest({ controller, contact }: { controller: MessengerController; contact: Contact }) {
	const action = useAction(
		(what: "accept" | "decline" | "block") =>
			what === "accept"
				? controller.acceptContact(contact.accountId)
				: what === "decline"
					? controller.declineContact(contact.accountId)
					: controller.blockContact(contact.accountId),
		(err) => errorText(err),
	);
	return (
		<li class="contact request">
			<span class="contact-name">@{contact.handle}</span>
			<span class="contact-state">wants to be your contact</span>
			<span class="actions">
				<button type="button" class="primary" disabled={action.busy} onClick={() => void action.run("accept")}>
					Accept
				</button>
				<button type="button" disabled={action.busy} onClick={() => void action.run("decline")}>
					Decline
				</button>
				<button type="button" class="danger" disabled={action.busy} onClick={() => void action.run("block")}>
					Block
				</button>
			</span>
			<ErrorLine text={action.error} />
		</li>
	);
}

const STATE_TEXT: Partial<Record<Contact["state"], string>> = {
	outgoing: "request sent, waiting",
	declined: "declined",
	blocked: "blocked",
};

function Time({ at }: { at: number }) {
	const date = new Date(at);
	// A damaged record's time may lie beyond what a Date holds: no time, rather than no list.
	if (Number.isNaN(date.getTime())) return null;
	return (
		<time class="contact-time" dateTime={date.toISOString()}>
			{formatShortTime(at)}
		</time>
	);
}

/** The time and the one line of a contact's last message (or that they are typing). */
function LastMessageLine({ last, typing }: { last: ChatMessage | undefined; typing: boolean }) {
	return (
		<>
			{last && <Time at={last.at} />}
			<span class="contact-preview">{typing ? "typing…" : last ? previewText(last) : ""}</span>
		</>
	);
}

/** What the list needs: the app, its state, and what to do when a contact (or a found message's chat) is opened. */
interface ListProps {
	controller: MessengerController;
	state: MessengerState;
	onOpen: (peerId: string) => void;
}

function Contacts({ controller, state, onOpen }: ListProps) {
	const contacts = orderContacts(state.contacts, state.lastMessages);
	if (contacts.length === 0) return <p class="empty">No contacts yet. Add someone by their handle.</p>;
	const now = Date.now();
	return (
		<ul class="contact-list" aria-label="Contacts">
			{contacts.map((contact) => {
				if (contact.state === "incoming") return <IncomingRequest key={contact.accountId} controller={controller} contact={contact} />;
				const unread = state.unread[contact.accountId] ?? 0;
				const typing = (state.typing[contact.accountId] ?? 0) > now;
				const active = state.activePeer === contact.accountId;
				const last = state.lastMessages[contact.accountId];
				const stateText = STATE_TEXT[contact.state];
				return (
					<li key={contact.accountId} class={`contact ${contact.state}`}>
						<button
							type="button"
							class={`contact-button${active ? " active" : ""}`}
							aria-current={active ? "true" : undefined}
							onClick={() => onOpen(contact.accountId)}
						>
							<span class="contact-name">@{contact.handle}</span>
							{/* A last message the list cannot show (a damaged record) leaves the row without a preview, not the list without rows. */}
							<ErrorBoundary key={last?.key} fallback={() => null}>
								<LastMessageLine last={last} typing={typing} />
							</ErrorBoundary>
							<UnreadBadge count={unread} />
							{(stateText || contact.state === "accepted") && (
								<span class="contact-state">
									{stateText}
									{contact.state === "accepted" && <TrustBadge trust={state.trust[contact.accountId]} />}
								</span>
							)}
						</button>
					</li>
				);
			})}
		</ul>
	);
}

/** What a search found: messages, newest first, each with its contact, the matching line (the match marked) and its time. */
function SearchResults({
	state,
	found,
	onOpen,
}: {
	state: MessengerState;
	found: { folded: string; messages: ChatMessage[] } | null;
	onOpen: (message: ChatMessage) => void;
}) {
	const handles = new Map(state.contacts.map((c) => [c.accountId, c.handle]));
	// A message of someone no longer among the contacts has no chat to open.
	const messages = found?.messages.filter((m) => handles.has(m.peerId)) ?? [];
	return (
		<>
			<output class="hint search-status">
				{found === null ? "Searching…" : messages.length === 0 ? "No messages found." : `${plural(messages.length, "message")} found`}
			</output>
			{found && messages.length > 0 && (
				<ul class="search-results" aria-label="Messages found">
					{messages.map((m) => {
						const line = snippet(m.text, found.folded);
						return (
							<li key={m.key}>
								<button type="button" class="search-result" onClick={() => onOpen(m)}>
									<span class="contact-name">@{handles.get(m.peerId)}</span>
									<Time at={m.at} />
									{/* Built as elements: a message's text is never markup. */}
									<span class="search-snippet">
										{m.outgoing && "You: "}
										{line.before}
										{line.match && <mark>{line.match}</mark>}
										{line.after}
									</span>
								</button>
							</li>
						);
					})}
				</ul>
			)}
		</>
	);
}

/**
 * The contact list, and above it the search over this device's history: typing (after a short
 * pause, from two characters) lists the messages found instead of the contacts; Escape clears it.
 */
export function ContactList({ controller, state, onOpen }: ListProps) {
	const [query, setQuery] = useState("");
	const [found, setFound] = useState<{ folded: string; messages: ChatMessage[] } | null>(null);
	const [error, setError] = useState<string | null>(null);
	const folded = searchQuery(query);
	useEffect(() => {
		setError(null);
		if (folded === null) {
			setFound(null);
			return;
		}
		// Only the answer to the latest query is shown, whatever order the answers come in.
		let current = true;
		const timer = setTimeout(() => {
			controller.searchMessages(folded).then(
				(messages) => current && setFound({ folded, messages }),
				(err: unknown) => current && setError(errorText(err)),
			);
		}, SEARCH_DEBOUNCE_MS);
		return () => {
			current = false;
			clearTimeout(timer);
		};
	}, [controller, folded]);
	const open = (message: ChatMessage) => {
		controller.highlight(message.key);
		onOpen(message.peerId);
	};
	const shown = found && found.folded === folded ? found : null;
	return (
		<>
			<search class="message-search">
				<label for="message-search" class="visually-hidden">
					Search messages
				</label>
				<input
					id="message-search"
					type="search"
					name="message-search"
					placeholder="Search messages"
					autocomplete="off"
					value={query}
					onInput={(e) => setQuery(e.currentTarget.value)}
					onKeyDown={(e) => {
						if (e.key === "Escape" && query !== "") {
							e.preventDefault();
							setQuery("");
						} else if (e.key === "Enter" && !e.isComposing) {
							// The newest message found opens; the others are the buttons below.
							const first = shown?.messages.find((m) => state.contacts.some((c) => c.accountId === m.peerId));
							if (first) {
								e.preventDefault();
								open(first);
							}
						}
					}}
				/>
			</search>
			<ErrorLine text={error} />
			{folded === null ? (
				<Contacts controller={controller} state={state} onOpen={onOpen} />
			) : (
				<SearchResults state={state} found={shown} onOpen={open} />
			)}
		</>
	);
}
