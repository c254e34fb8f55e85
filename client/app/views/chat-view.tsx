import { Fragment } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import type { CallController, CallState } from "../call-controller.ts";
import { formatWhen, plural } from "../format.ts";
import type { ChatMessage } from "../history-store.ts";
import { emptyChatText } from "../history-text.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { filePrice, formatBytes } from "../prices.ts";
import { refOf } from "../reactions.ts";
import { quotaNotice } from "../send-window-text.ts";
import { useNow } from "../use-messenger.ts";
import { CallButtons } from "./call-buttons.tsx";
import { ContactDetails } from "./contact-details.tsx";
import { ErrorBoundary } from "./error-boundary.tsx";
import { pastedFile, useFileDrop } from "./file-drop.ts";
import { InfoIcon } from "./icons.tsx";
import { IdentityChangeNotice, SendingPaused } from "./identity-change.tsx";
import { useMessageFocus } from "./message-focus.ts";
import { firstLine, MessageItem } from "./message-item.tsx";
import { MessageMarks, useMessageMarks } from "./message-marks.tsx";
import { TrustBadge } from "./safety-number.tsx";

function UnshowableMessage({ message }: { message: ChatMessage }) {
	return (
		<li class={`message ${message.outgoing ? "outgoing" : "incoming"}`} data-state="unshowable">
			<p class="message-text muted">This message cannot be shown.</p>
		</li>
	);
}

/** The messages of one conversation, newest at the bottom, kept scrolled down as new ones come. */
export function MessageList({
	controller,
	state,
	messages,
	label,
	onReply,
}: {
	controller: MessengerController;
	state: MessengerState;
	messages: ChatMessage[];
	label: string;
	onReply?: (message: ChatMessage) => void;
}) {
	const scroller = useRef<HTMLDivElement>(null);
	const pinned = useRef(true);
	useLayoutEffect(() => {
		const el = scroller.current;
		if (el && pinned.current) el.scrollTop = el.scrollHeight;
	}, [messages]);
	useMessageMarks(controller, scroller, pinned, state, messages);
	const list = useRef<HTMLOListElement>(null);
	const focus = useMessageFocus(list, messages.length > 0);
	return (
		<div
			class="messages"
			ref={scroller}
			onScroll={(e) => {
				const el = e.currentTarget;
				pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
			}}
			// An image that finished loading grew its message: stay at the bottom if we were there.
			onLoadCapture={(e) => {
				const el = e.currentTarget;
				if (pinned.current) el.scrollTop = el.scrollHeight;
			}}
		>
			{messages.length === 0 ? (
				<p class="empty" data-testid="empty-chat">
					{emptyChatText(state)}
				</p>
			) : (
				// The live region wraps the list: a `log` role on the <ol> itself would take away its
				// list semantics, leaving every message an orphaned list item. The list is one tab
				// stop, its messages reached with the arrow keys (see message-focus.ts).
				<div role="log" aria-live="polite" aria-label={label}>
					<ol class="message-list" ref={list} onKeyDown={focus.onKeyDown} onFocusIn={focus.onFocusIn}>
						{messages.map((m) => (
							<Fragment key={m.key}>
								<MessageMarks state={state} message={m} />
								{/* A message this browser cannot show (a damaged record, a bug) takes only its own bubble down. */}
								<ErrorBoundary fallback={() => <UnshowableMessage message={m} />}>
									<MessageItem controller={controller} state={state} message={m} {...(onReply && { onReply })} />
								</ErrorBoundary>
							</Fragment>
						))}
					</ol>
				</div>
			)}
		</div>
	);
}

/** Why sending is not possible right now, if it is not. */
function sendBlocker(state: MessengerState, now: number): string | null {
	const account = state.account;
	if (account?.suspendedUntil !== undefined && account.suspendedUntil > now) {
		return `Your account is suspended until ${formatWhen(account.suspendedUntil)}. You can still read messages.`;
	}
	const price = state.limits?.prices.text;
	if (account && price !== undefined && account.credits < price) {
		return `Not enough credits: a message costs ${plural(price, "credit")} and you have ${account.credits}.`;
	}
	return null;
}

/** Overhead of the sealed envelope around the text (header, JSON, MAC), generously rounded. */
const SEAL_OVERHEAD_BYTES = 1024;

function tooLong(state: MessengerState, text: string): boolean {
	const max = state.limits?.maxSealedTextBytes;
	return max !== undefined && new TextEncoder().encode(JSON.stringify(text)).length + SEAL_OVERHEAD_BYTES > max;
}

/** A chosen file waits here, with its price, until the user confirms sending it. */
function PendingFile({
	controller,
	state,
	peerId,
	file,
	blocker,
	onDone,
}: {
	controller: MessengerController;
	state: MessengerState;
	peerId: string;
	file: File;
	blocker: string | null;
	onDone: () => void;
}) {
	const verdict = state.limits ? filePrice(file.size, state.account?.trust, state.limits) : null;
	return (
		<fieldset class="pending-file">
			<legend class="visually-hidden">File to send</legend>
			<span class="file-name">{file.name}</span> <span class="file-size">{formatBytes(file.size)}</span>
			{verdict && !verdict.ok && (
				<p class="error" role="alert">
					{verdict.reason}
				</p>
			)}
			<div class="actions">
				<button
					type="button"
					class="primary"
					disabled={!verdict?.ok || blocker !== null}
					onClick={() => {
						onDone();
						void controller.sendFile(peerId, file);
					}}
				>
					Send file{verdict?.ok && ` · ${plural(verdict.price, "credit")}`}
				</button>
				<button type="button" onClick={onDone}>
					Cancel
				</button>
			</div>
		</fieldset>
	);
}

/** "Replying to @handle: first line", with its cancel button, above the composer. */
function ReplyBar({ state, message, onCancel }: { state: MessengerState; message: ChatMessage; onCancel: () => void }) {
	const handle = state.contacts.find((c) => c.accountId === message.peerId)?.handle;
	const who = message.outgoing ? "yourself" : `@${handle ?? "them"}`;
	const what = firstLine(message.text) || message.attachment?.name || "";
	return (
		<div class="reply-bar" data-testid="reply-bar">
			<span>
				Replying to {who}: <span class="quote-text">{what}</span>
			</span>
			<button type="button" class="link" aria-label="Cancel the reply" onClick={onCancel}>
				×
			</button>
		</div>
	);
}

export function Composer({
	controller,
	state,
	peerId,
	replyTo = null,
	onCancelReply = () => {},
}: {
	controller: MessengerController;
	state: MessengerState;
	peerId: string;
	/** The message the next text answers, if any. */
	replyTo?: ChatMessage | null;
	onCancelReply?: () => void;
}) {
	const [text, setText] = useState("");
	const [file, setFile] = useState<File | null>(null);
	const [form, setForm] = useState<HTMLFormElement | null>(null);
	// The whole conversation around the composer (the chat in the app, the widget's panel) takes a
	// dropped file, as the same pending file the paperclip gives.
	const dragging = useFileDrop(form?.parentElement ?? null, setFile);
	const now = useNow(state.account?.quotaLeft === 0);
	const blocker = sendBlocker(state, now);
	const quota = quotaNotice(state, now);
	const price = state.limits?.prices.text;
	const long = tooLong(state, text);
	const account = state.account;
	const trust = state.trust[peerId];
	const contact = state.contacts.find((c) => c.accountId === peerId);
	// Starting a reply puts the cursor where the answer goes.
	useLayoutEffect(() => {
		if (replyTo) document.getElementById(`composer-${peerId}`)?.focus();
	}, [replyTo, peerId]);
	// A verified contact's identity changed: nothing goes to the new key until the person has looked.
	if (trust?.blocked && contact) return <SendingPaused controller={controller} contact={contact} trust={trust} />;
	const send = () => {
		const body = text.trim();
		if (!body || blocker || long) return;
		setText("");
		const me = state.me?.accountId;
		const ref = replyTo && me !== undefined ? refOf(replyTo, me) : null;
		onCancelReply();
		void controller.send(peerId, body, ref ?? undefined);
	};
	const allowance = [
		price !== undefined && `A message costs ${plural(price, "credit")}.`,
		account && `${plural(account.credits, "credit")} left`,
		account && (account.quotaLeft === null ? "no daily limit" : `${plural(account.quotaLeft, "message")} left today`),
	]
		.filter(Boolean)
		.join(" · ");
	return (
		<form
			class="composer"
			aria-label="Write a message"
			ref={setForm}
			onSubmit={(e) => {
				e.preventDefault();
				send();
			}}
		>
			{dragging && <div class="drop-target">Drop the file here to send it</div>}
			{file && (
				<PendingFile controller={controller} state={state} peerId={peerId} file={file} blocker={blocker} onDone={() => setFile(null)} />
			)}
			{replyTo && <ReplyBar state={state} message={replyTo} onCancel={onCancelReply} />}
			<label for={`composer-${peerId}`} class="visually-hidden">
				Message
			</label>
			<div class="row">
				<label class="attach button" title="Attach a file">
					<svg
						aria-hidden="true"
						viewBox="0 0 24 24"
						width="20"
						height="20"
						fill="none"
						stroke="currentColor"
						stroke-width="2"
						stroke-linecap="round"
					>
						<path d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.5 3.5 0 0 1 5 5l-8.6 8.6a2 2 0 0 1-2.8-2.8l7.9-7.9" />
					</svg>
					<span class="visually-hidden">Attach a file</span>
					<input
						type="file"
						class="visually-hidden"
						onChange={(e) => {
							setFile(e.currentTarget.files?.[0] ?? null);
							e.currentTarget.value = "";
						}}
					/>
				</label>
				<textarea
					id={`composer-${peerId}`}
					name="message"
					rows={2}
					value={text}
					placeholder="Write a message"
					aria-describedby={`allowance-${peerId}`}
					onInput={(e) => {
						setText(e.currentTarget.value);
						if (e.currentTarget.value) controller.typing(peerId);
					}}
					onPaste={(e) => {
						// A pasted file (a screenshot) waits for confirmation like a chosen one; text pastes as text.
						const pasted = pastedFile(e.clipboardData);
						if (!pasted) return;
						e.preventDefault();
						setFile(pasted);
					}}
					onKeyDown={(e) => {
						if (e.key === "Escape" && replyTo) {
							e.preventDefault();
							onCancelReply();
							return;
						}
						// Enter sends, Shift+Enter starts a new line (and IME composition is left alone).
						if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
							e.preventDefault();
							send();
						}
					}}
				/>
				<button type="submit" class="primary send" disabled={!text.trim() || blocker !== null || long}>
					Send{price !== undefined && <span class="price"> · {plural(price, "credit")}</span>}
				</button>
			</div>
			<p id={`allowance-${peerId}`} class={`allowance${blocker ? " blocked" : ""}`} aria-live="polite">
				{long ? "This message is too long to send." : (blocker ?? quota ?? allowance)}
			</p>
		</form>
	);
}

export function TypingLine({ state, contact }: { state: MessengerState; contact: Contact }) {
	const typing = (state.typing[contact.accountId] ?? 0) > Date.now();
	return (
		<p class="typing" aria-live="polite">
			{typing ? `@${contact.handle} is typing…` : ""}
		</p>
	);
}

/**
 * A conversation's messages, who is typing, and the composer (or why there is none), with the
 * reply being written: the web app's chat and the widget show the same.
 */
export function ConversationBody({
	controller,
	state,
	contact,
}: {
	controller: MessengerController;
	state: MessengerState;
	contact: Contact;
}) {
	const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
	const messages = state.conversations[contact.accountId] ?? [];
	// The message being answered, as the conversation shows it now: gone (deleted here) ends the reply.
	const answering = replyTo && messages.some((m) => m.key === replyTo.key && !m.deleted) ? replyTo : null;
	const accepted = contact.state === "accepted";
	return (
		<>
			<MessageList
				controller={controller}
				state={state}
				messages={messages}
				label={`Conversation with @${contact.handle}`}
				onReply={accepted ? setReplyTo : undefined}
			/>
			<TypingLine state={state} contact={contact} />
			{accepted ? (
				<Composer
					controller={controller}
					state={state}
					peerId={contact.accountId}
					replyTo={answering}
					onCancelReply={() => setReplyTo(null)}
				/>
			) : (
				<ContactStatus contact={contact} />
			)}
		</>
	);
}

function ContactStatus({ contact }: { contact: Contact }) {
	const text =
		contact.state === "outgoing"
			? `Waiting for @${contact.handle} to accept your request.`
			: contact.state === "declined"
				? `@${contact.handle} declined. You can ask again later from the contact list.`
				: contact.state === "blocked"
					? `You blocked @${contact.handle}.`
					: `@${contact.handle} wants to be your contact. Accept the request in the contact list.`;
	return <p class="contact-status">{text}</p>;
}

export function ChatView({
	controller,
	calls,
	call,
	state,
	contact,
	onBack,
}: {
	controller: MessengerController;
	calls: CallController;
	call: CallState | null;
	state: MessengerState;
	contact: Contact;
	onBack: () => void;
}) {
	const [showDetails, setShowDetails] = useState(false);
	const trust = state.trust[contact.accountId];
	const heading = useRef<HTMLHeadingElement>(null);
	const infoButton = useRef<HTMLButtonElement>(null);
	// Closed by its own button, Escape or the header's: the focus goes back where it was opened.
	const closeDetails = () => {
		setShowDetails(false);
		infoButton.current?.focus();
	};
	useEffect(() => {
		setShowDetails(false);
		heading.current?.focus();
	}, [contact.accountId]);
	const review = () => {
		setShowDetails(true);
		// Once rendered: the safety number is what the person came to see.
		requestAnimationFrame(() => document.getElementById("safety-number-section")?.scrollIntoView({ block: "nearest" }));
	};
	return (
		<section class={`chat${showDetails ? " with-details" : ""}`} aria-labelledby="chat-title">
			<header class="chat-header">
				<button type="button" class="back" onClick={onBack} aria-label="Back to contacts">
					‹
				</button>
				<h2 id="chat-title" tabIndex={-1} ref={heading}>
					@{contact.handle}
				</h2>
				{contact.state === "accepted" && <TrustBadge trust={trust} />}
				<CallButtons calls={calls} call={call} state={state} contact={contact} />
				<button
					type="button"
					class="info-button"
					ref={infoButton}
					aria-expanded={showDetails}
					aria-controls="contact-details"
					onClick={() => setShowDetails(!showDetails)}
					onKeyDown={(e) => {
						if (e.key === "Escape" && showDetails) {
							e.preventDefault();
							closeDetails();
						}
					}}
				>
					<InfoIcon />
					{/* Only the icon on a phone, where the handle needs the room; the name stays for screen readers. */}
					<span class="wide-only">{showDetails ? "Close info" : "Contact info"}</span>
				</button>
			</header>
			{showDetails && <ContactDetails controller={controller} state={state} contact={contact} onClose={closeDetails} />}
			{contact.state === "accepted" && trust?.state === "changed" && <IdentityChangeNotice contact={contact} onReview={review} />}
			{/* Keyed by contact: a reply begun in one chat does not follow into the next. */}
			<ConversationBody key={contact.accountId} controller={controller} state={state} contact={contact} />
		</section>
	);
}
