import { useEffect, useRef, useState } from "preact/hooks";
import type { AttachmentInfo } from "../../core/message-body.ts";
import { safeFileName } from "../download-name.ts";
import { errorText } from "../error-text.ts";
import { formatTime, plural } from "../format.ts";
import type { ChatMessage } from "../history-store.ts";
import { INLINE_IMAGE_TYPES, type MessengerController, type MessengerState } from "../messenger-controller.ts";
import { formatBytes } from "../prices.ts";
import { useAction } from "../use-messenger.ts";
import { ImageViewer } from "./image-viewer.tsx";
import { LinkedText } from "./linked-text.tsx";

function deliveryText(message: ChatMessage): string {
	switch (message.state) {
		case "sending":
			return "Sending…";
		case "sent":
			return "Sent";
		case "delivered": {
			if (message.readBy?.length) return "Read";
			const devices = message.deliveredTo?.length ?? 1;
			return devices > 1 ? `Delivered to ${devices} devices` : "Delivered";
		}
		case "failed":
			return "Not sent";
		default:
			return "";
	}
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

/** Edit or delete a message this account sent, each with its price shown first. */
function OwnMessageActions({
	controller,
	state,
	message,
}: {
	controller: MessengerController;
	state: MessengerState;
	message: ChatMessage;
}) {
	const [mode, setMode] = useState<"closed" | "menu" | "edit" | "delete">("closed");
	const [text, setText] = useState(message.text);
	const prices = state.limits?.prices;
	const save = useAction(
		(t: string) => controller.editMessage(message, t),
		(err) => errorText(err, "send"),
	);
	const remove = useAction(
		() => controller.deleteMessage(message),
		(err) => errorText(err, "send"),
	);
	const price = (n: number | undefined) => (n === undefined ? "" : ` · ${plural(n, "credit")}`);
	if (mode === "closed") {
		return (
			<button type="button" class="link more" aria-label="Edit or delete this message" onClick={() => setMode("menu")}>
				⋯
			</button>
		);
	}
	return (
		<div class="message-actions">
			{mode === "menu" && (
				<>
					{!message.attachment && (
						<button type="button" onClick={() => setMode("edit")}>
							Edit{price(prices?.edit)}
						</button>
					)}
					<button type="button" class="danger" onClick={() => setMode("delete")}>
						Delete for everyone{price(prices?.delete)}
					</button>
					<button type="button" onClick={() => setMode("closed")}>
						Cancel
					</button>
				</>
			)}
			{mode === "edit" && (
				<form
					class="stack"
					onSubmit={async (e) => {
						e.preventDefault();
						const t = text.trim();
						if (t && t !== message.text && (await save.run(t))) setMode("closed");
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
						<button type="button" onClick={() => setMode("closed")}>
							Cancel
						</button>
					</div>
				</form>
			)}
			{mode === "delete" && (
				<div class="actions">
					<button
						type="button"
						class="danger"
						disabled={remove.busy}
						onClick={async () => {
							if (await remove.run()) setMode("closed");
						}}
					>
						Yes, delete{price(prices?.delete)}
					</button>
					<button type="button" onClick={() => setMode("closed")}>
						Cancel
					</button>
				</div>
			)}
			{(save.error ?? remove.error) && (
				<p class="error" role="alert">
					{save.error ?? remove.error}
				</p>
			)}
		</div>
	);
}

export function MessageItem({
	controller,
	state,
	message,
}: {
	controller: MessengerController;
	state: MessengerState;
	message: ChatMessage;
}) {
	const changeable =
		message.outgoing && message.id !== undefined && !message.deleted && (message.state === "sent" || message.state === "delivered");
	return (
		<li class={`message ${message.outgoing ? "outgoing" : "incoming"}`} data-state={message.state}>
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
				{message.outgoing && message.state !== "unreadable" && <span class="delivery">{deliveryText(message)}</span>}
				{changeable && <OwnMessageActions key={message.key} controller={controller} state={state} message={message} />}
			</p>
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
