import { useEffect, useRef, useState } from "preact/hooks";
import { REACTION_EMOJIS, type ReactionEmoji } from "../../../common/protocol/wire.ts";
import type { AttachmentInfo } from "../../core/message-body.ts";
import { safeFileName } from "../download-name.ts";
import { errorText } from "../error-text.ts";
import { formatSendsAt, formatTime } from "../format.ts";
import type { ChatMessage } from "../history-store.ts";
import { INLINE_IMAGE_TYPES, type MessengerController, type MessengerState } from "../messenger-controller.ts";
import { formatBytes } from "../prices.ts";
import { reactionCounts, refKey } from "../reactions.ts";
import { useAction, useNow } from "../use-messenger.ts";
import { CallLogLine } from "./call-log-line.tsx";
import { ImageViewer } from "./image-viewer.tsx";
import { LinkedText } from "./linked-text.tsx";
import { MessageActions, type MessageProps, messageAbilities } from "./message-actions.tsx";

function deliveryText(message: ChatMessage): string {
	switch (message.state) {
		case "sending":
			return "Sending…";
		case "sent":
			return "Sent";
		case "delivered": {
			const devices = message.deliveredTo?.length ?? 1;
			if (message.readBy?.length) return devices > 1 ? `Read · delivered to ${devices} devices` : "Read";
			return devices > 1 ? `Delivered to ${devices} devices` : "Delivered";
		}
		case "failed":
			return "Not sent";
		default:
			return "";
	}
}

/**
 * A message waiting for the account's send window: when it goes, counting down in its last
 * minute, and a way to take it back before it reaches the relay (it costs nothing until then).
 */
function WaitingToSend({ controller, message, sendsAt }: { controller: MessengerController; message: ChatMessage; sendsAt: number }) {
	const now = useNow(sendsAt - Date.now() < 61_000);
	return (
		<span class="waiting-send">
			<span class="delivery" data-testid="sends-at">
				Sends {formatSendsAt(sendsAt, now)}
			</span>
			<button type="button" class="link" onClick={() => controller.cancelSend(message)}>
				Cancel
			</button>
		</span>
	);
}

/** Save a file the user asked for, through a temporary link (no inline script, no third party). */
function saveBlob(blob: Blob, name: string): void {
	const url = URL.createObjectURL(blob);
	const link = document.createElement("a");
	link.href = url;
	link.download = safeFileName(name);
	link.click();
	setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Images up to this size are fetched as soon as they are shown; bigger ones wait for a click. */
const AUTO_OPEN_BYTES = 10 * 1024 * 1024;

/** An object URL for a Blob, revoked when the Blob changes or the component goes. */
function useObjectUrl(blob: Blob | null | undefined): string | null {
	const [url, setUrl] = useState<string | null>(null);
	useEffect(() => {
		if (!blob) {
			setUrl(null);
			return;
		}
		const made = URL.createObjectURL(blob);
		setUrl(made);
		return () => URL.revokeObjectURL(made);
	}, [blob]);
	return url;
}

function Progress({ value, label }: { value: number | undefined; label: string }) {
	// Without a value the bar is indeterminate: the file is being sealed, or the fetch has not started.
	return (
		<progress class="transfer" max={1} value={value} aria-label={label}>
			{value === undefined ? "" : `${Math.round(value * 100)}%`}
		</progress>
	);
}

/**
 * An image of a message that opens full size in the viewer, on a click or Enter or Space (it
 * is a button), from the same object URL; focus comes back to it when the viewer closes.
 */
function ViewableImage({ url, blob, fileName }: { url: string; blob: Blob; fileName: string }) {
	const [open, setOpen] = useState(false);
	const opener = useRef<HTMLButtonElement>(null);
	const name = safeFileName(fileName);
	return (
		<>
			<button
				type="button"
				class="image-open"
				ref={opener}
				aria-haspopup="dialog"
				aria-label={`View ${name}`}
				onClick={() => setOpen(true)}
			>
				<img class="inline-image" src={url} alt={name} />
			</button>
			{open && (
				<ImageViewer
					url={url}
					name={name}
					onDownload={() => saveBlob(blob, fileName)}
					onClose={() => {
						setOpen(false);
						opener.current?.focus();
					}}
				/>
			)}
		</>
	);
}

/** A received (or sent) image, fetched, opened and checked, then shown from an object URL. */
function InlineImage({
	controller,
	state,
	attachment,
}: {
	controller: MessengerController;
	state: MessengerState;
	attachment: AttachmentInfo;
}) {
	const [blob, setBlob] = useState<Blob | null>(null);
	const [wanted, setWanted] = useState(attachment.size <= AUTO_OPEN_BYTES);
	const [error, setError] = useState<string | null>(null);
	useEffect(() => {
		if (!wanted) return;
		let live = true;
		controller.openFile(attachment).then(
			(file) => live && setBlob(file),
			(err: unknown) => live && setError(errorText(err, "file")),
		);
		return () => {
			live = false;
		};
	}, [controller, attachment, wanted]);
	const url = useObjectUrl(blob);
	const progress = state.downloads[attachment.id];
	if (error) {
		return (
			<p class="error" role="alert">
				{error}
			</p>
		);
	}
	if (!wanted) {
		return (
			<button type="button" onClick={() => setWanted(true)}>
				Show image · {formatBytes(attachment.size)}
			</button>
		);
	}
	return (
		<div class="image-box">
			{url && blob ? (
				<ViewableImage url={url} blob={blob} fileName={attachment.name} />
			) : (
				<Progress value={progress} label={`Downloading ${safeFileName(attachment.name)}`} />
			)}
		</div>
	);
}

/** A file being sent, or one that is not an image: name, size and a download button, with progress. */
function FileBox({ controller, state, message }: { controller: MessengerController; state: MessengerState; message: ChatMessage }) {
	const download = useAction(
		async () => {
			if (message.attachment) saveBlob(await controller.openFile(message.attachment), message.attachment.name);
		},
		(err) => errorText(err, "file"),
	);
	const file = message.attachment ?? message.file;
	const sending = message.state === "sending" ? controller.sendingFile(message.key) : undefined;
	const preview = useObjectUrl(sending && INLINE_IMAGE_TYPES.has(sending.type) ? sending : null);
	if (!file) return null;
	const image = message.attachment && INLINE_IMAGE_TYPES.has(message.attachment.type);
	const downloading = message.attachment ? state.downloads[message.attachment.id] : undefined;
	// The sender chose this name: shown as it will be saved.
	const name = safeFileName(file.name);
	return (
		<div class="file">
			{message.attachment && image ? (
				<InlineImage controller={controller} state={state} attachment={message.attachment} />
			) : (
				preview && sending && <ViewableImage url={preview} blob={sending} fileName={file.name} />
			)}
			<span class="file-name">{name}</span> <span class="file-size">{formatBytes(file.size)}</span>
			{message.state === "sending" && <Progress value={state.progress[message.key]} label={`Uploading ${name}`} />}
			{message.attachment && (
				<button type="button" class="link" disabled={download.busy} onClick={() => void download.run()}>
					{download.busy ? "Downloading…" : "Download"}
				</button>
			)}
			{download.busy && !image && downloading !== undefined && <Progress value={downloading} label={`Downloading ${name}`} />}
			{download.error && (
				<span class="error" role="alert">
					{download.error}
				</span>
			)}
		</div>
	);
}

/** The first line of a text, cut to fit a quote. */
export function firstLine(text: string, max = 80): string {
	const line = text.split("\n", 1)[0] ?? "";
	return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The DOM id of a message's bubble, so that a quote of it can scroll to it. */
export const bubbleId = (key: string): string => `message-${key}`;

/** Who wrote a message, as a quote names them. */
function authorOf(state: MessengerState, message: ChatMessage): string {
	if (message.outgoing) return "You";
	const handle = state.contacts.find((c) => c.accountId === message.peerId)?.handle;
	return handle ? `@${handle}` : "Them";
}

/**
 * The message a reply answers, from this device's own copy (the reply does not carry its
 * text): a click scrolls to it. Without a copy here, it says so.
 */
function Quote({ state, message }: { state: MessengerState; message: ChatMessage }) {
	const ref = message.replyTo;
	const me = state.me?.accountId;
	if (!ref) return null;
	const key = me === undefined ? null : refKey(ref, message.peerId, me);
	const original = key === null ? undefined : state.conversations[message.peerId]?.find((m) => m.key === key);
	if (!original) {
		return (
			<p class="quote muted" data-testid="quote">
				Original message not available
			</p>
		);
	}
	const what = original.deleted
		? "This message was deleted."
		: original.state === "unreadable"
			? "A message that could not be decrypted"
			: firstLine(original.text) || (original.attachment ? original.attachment.name : "");
	return (
		<button
			type="button"
			class="quote"
			data-testid="quote"
			aria-label={`Reply to ${authorOf(state, original)}: ${what}. Show the original`}
			onClick={() => document.getElementById(bubbleId(original.key))?.scrollIntoView({ block: "center", behavior: "smooth" })}
		>
			<span class="quote-author">{authorOf(state, original)}</span>
			<span class="quote-text">{what}</span>
		</button>
	);
}

/** Each reaction with its count; a click on one toggles this account's own reaction to it. */
function ReactionChips({ controller, state, message }: { controller: MessengerController; state: MessengerState; message: ChatMessage }) {
	const me = state.me?.accountId;
	const chips = reactionCounts(message, REACTION_EMOJIS, me);
	const toggle = useAction(
		(emoji: ReactionEmoji | "") => controller.react(message, emoji),
		(err) => errorText(err, "send"),
	);
	if (chips.length === 0) return null;
	const reactable = messageAbilities(message).answer;
	return (
		<div class="reactions" data-testid="reactions">
			{chips.map((chip) => (
				<button
					key={chip.emoji}
					type="button"
					class={`reaction-chip${chip.mine ? " mine" : ""}`}
					aria-label={`${chip.emoji} ${chip.count}${chip.mine ? ", you" : ""}`}
					aria-pressed={chip.mine}
					disabled={!reactable || toggle.busy}
					onClick={() => void toggle.run(chip.mine ? "" : (chip.emoji as ReactionEmoji))}
				>
					{chip.emoji} {chip.count}
				</button>
			))}
			{toggle.error && (
				<span class="error" role="alert">
					{toggle.error}
				</span>
			)}
		</div>
	);
}

export function MessageItem({ controller, state, message, onReply }: MessageProps) {
	// A call's log line or a call request: a line of its own, without the message actions.
	if (message.call || message.callRequest) return <CallLogLine controller={controller} message={message} id={bubbleId(message.key)} />;
	return (
		<li id={bubbleId(message.key)} class={`message ${message.outgoing ? "outgoing" : "incoming"}`} data-state={message.state}>
			{message.missingBefore !== undefined && (
				<p
					class="missing-before"
					data-testid="missing-before"
					title="Each device numbers the messages it sends; a number before this one never came. The server may have dropped or held back a message."
				>
					{message.missingBefore === 1 ? "A message may be missing here" : `${message.missingBefore} messages may be missing here`}
				</p>
			)}
			{message.state === "unreadable" ? (
				<p class="message-text muted">This message could not be decrypted on this device.</p>
			) : message.deleted ? (
				<p class="message-text muted">This message was deleted.</p>
			) : (
				<>
					<Quote state={state} message={message} />
					<FileBox controller={controller} state={state} message={message} />
					{message.text && (
						<p class="message-text">
							<LinkedText text={message.text} />
						</p>
					)}
				</>
			)}
			<p class="message-meta">
				{message.edited && <span>edited</span>}
				<time dateTime={new Date(message.at).toISOString()}>{formatTime(message.at)}</time>
				{message.clockSkew && (
					<span
						class="clock-skew"
						title="The time this message was sealed with and the server's differ by more than 5 minutes: a clock is wrong, or the message was held back."
					>
						time uncertain
					</span>
				)}
				{message.outgoing && message.state === "sending" && message.sendsAt !== undefined ? (
					<WaitingToSend controller={controller} message={message} sendsAt={message.sendsAt} />
				) : (
					message.outgoing && message.state !== "unreadable" && <span class="delivery">{deliveryText(message)}</span>
				)}
				<MessageActions key={message.key} controller={controller} state={state} message={message} {...(onReply && { onReply })} />
			</p>
			{!message.deleted && <ReactionChips controller={controller} state={state} message={message} />}
			{message.state === "failed" && (
				<p class="message-error">
					<span role="alert">{message.error}</span>{" "}
					<button type="button" class="link" onClick={() => void controller.retry(message)}>
						{message.file ? "Remove" : "Send again"}
					</button>
				</p>
			)}
		</li>
	);
}
