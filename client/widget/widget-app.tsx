import type { Ref } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { BrowserStores } from "../app/browser-stores.ts";
import { errorText } from "../app/error-text.ts";
import type { MessengerController, MessengerState } from "../app/messenger-controller.ts";
import { useAction, useMessenger } from "../app/use-messenger.ts";
import { CreateAccountForm } from "../app/views/account-forms.tsx";
import { ConversationBody } from "../app/views/chat-view.tsx";
import { Crashed } from "../app/views/error-boundary.tsx";
import { ErrorLine } from "../app/views/error-line.tsx";
import { Notices } from "../app/views/notices.tsx";
import { UnreadBadge } from "../app/views/unread-badge.tsx";
import { onChatWindowUnread, openChatWindow, reportUnreadToOpener } from "./chat-window.ts";
import type { HostChannel } from "./host-channel.ts";
import type { StorageAccessResult } from "./storage-access.ts";
import { type StorageAsk, storageAskText } from "./storage-access-text.ts";

/** The open panel's height; the host's iframe is sized to it (and capped by the host's viewport). */
const OPEN_HEIGHT = 540;

export interface WidgetOptions {
	/** The handle this widget chats with, case-folded. */
	peerHandle: string;
	/** The host page's origin, to name this device. */
	hostName: string;
	theme: string;
	startOpen: boolean;
	/** In a window of its own (opened because the iframe has no storage): closing closes the window. */
	inWindow: boolean;
}

function RequestChat({ controller, peerHandle, again }: { controller: MessengerController; peerHandle: string; again: boolean }) {
	const action = useAction(
		() => controller.requestContact(peerHandle),
		(err) => errorText(err, "contact"),
	);
	return (
		<div class="widget-body stack">
			<p>
				{again
					? `@${peerHandle} declined your last request. You can ask again.`
					: `Ask @${peerHandle} to chat. Once they accept, your messages are end-to-end encrypted.`}
			</p>
			<ErrorLine text={action.error} />
			<button type="button" class="primary" disabled={action.busy} onClick={() => void action.run()}>
				Ask @{peerHandle} to chat
			</button>
		</div>
	);
}

function Conversation({ controller, state, options }: { controller: MessengerController; state: MessengerState; options: WidgetOptions }) {
	const { peerHandle } = options;
	const contact = state.contacts.find((c) => c.handle === peerHandle);
	const accept = useAction(
		(peerId: string) => controller.acceptContact(peerId),
		(err) => errorText(err),
	);
	const peerId = contact?.accountId ?? null;
	const accepted = contact?.state === "accepted";
	useEffect(() => {
		void controller.open(accepted ? peerId : null);
	}, [controller, peerId, accepted]);
	if (state.me?.handle === peerHandle) return <p class="widget-body">This is your own account, @{peerHandle}.</p>;
	if (!contact || contact.state === "declined") return <RequestChat controller={controller} peerHandle={peerHandle} again={!!contact} />;
	if (contact.state === "outgoing") return <p class="widget-body">Waiting for @{peerHandle} to accept your request…</p>;
	if (contact.state === "blocked") return <p class="widget-body">You blocked @{peerHandle}.</p>;
	if (contact.state === "incoming") {
		return (
			<div class="widget-body stack">
				<p>@{peerHandle} wants to chat with you.</p>
				<ErrorLine text={accept.error} />
				<button type="button" class="primary" disabled={accept.busy} onClick={() => void accept.run(contact.accountId)}>
					Accept
				</button>
			</div>
		);
	}
	return <ConversationBody controller={controller} state={state} contact={contact} />;
}

function Panel({
	controller,
	state,
	options,
	onClose,
}: {
	controller: MessengerController;
	state: MessengerState;
	options: WidgetOptions;
	onClose: () => void;
}) {
	const { peerHandle } = options;
	return (
		<section class="widget-panel" aria-labelledby="widget-title">
			<header class="widget-header">
				<h1 id="widget-title">@{peerHandle}</h1>
				<span class={`connection ${state.connection}`}>{state.me ? `you: @${state.me.handle}` : "end-to-end encrypted"}</span>
				<button type="button" class="close" aria-label={options.inWindow ? "Close window" : "Close chat"} onClick={onClose}>
					×
				</button>
			</header>
			<Notices controller={controller} notices={state.notices} />
			{state.phase === "loading" && <p class="widget-body">Opening…</p>}
			{state.phase === "welcome" && (
				<div class="widget-body">
					<p>Create an account to chat with @{peerHandle}. Your keys stay in this browser.</p>
					<CreateAccountForm controller={controller} fixedDeviceName={`Widget on ${options.hostName}`.slice(0, 64)} />
				</div>
			)}
			{state.phase === "pending" && <p class="widget-body">This device waits for approval by another of your devices.</p>}
			{state.phase === "replaced" && (
				<div class="widget-body stack">
					<p>This chat is open in another tab.</p>
					<button type="button" onClick={() => void controller.useHere()}>
						Use it here
					</button>
				</div>
			)}
			{state.phase === "removed" && <p class="widget-body">This device was removed from its account.</p>}
			{state.phase === "ready" && <Conversation controller={controller} state={state} options={options} />}
		</section>
	);
}

/** The closed widget: one button that opens the chat, with the unread count. */
function Launcher({
	buttonRef,
	peerHandle,
	unread,
	onOpen,
}: {
	/** Preact does not hand `ref` to a function component, hence its own name. */
	buttonRef?: Ref<HTMLButtonElement>;
	peerHandle: string;
	unread: number;
	onOpen: () => void;
}) {
	return (
		<button type="button" class="launcher primary" ref={buttonRef} onClick={onOpen}>
			Chat with @{peerHandle}
			<UnreadBadge count={unread} />
		</button>
	);
}

/** The widget: a launcher button, or the chat with one handle; reports unread count and size to the host. */
export function WidgetApp({
	controller,
	channel,
	options,
}: {
	controller: MessengerController;
	channel: HostChannel | null;
	options: WidgetOptions;
}) {
	const state = useMessenger(controller);
	const [open, setOpen] = useState(options.startOpen);
	const launcher = useRef<HTMLButtonElement>(null);
	const unread = Object.values(state.unread).reduce((sum, n) => sum + n, 0);

	useEffect(() => {
		if (!channel) return;
		const stop = channel.onCommand((command) => setOpen(command.type === "open"));
		channel.post({ type: "ready" });
		return stop;
	}, [channel]);

	useEffect(() => {
		channel?.post({ type: "unread", count: unread });
		if (options.inWindow) reportUnreadToOpener(unread);
	}, [channel, unread, options.inWindow]);

	useEffect(() => {
		if (!open) void controller.open(null);
	}, [controller, open]);

	useLayoutEffect(() => {
		if (!channel) return;
		if (open) {
			channel.post({ type: "resize", height: OPEN_HEIGHT });
			return;
		}
		const el = launcher.current;
		if (!el) return;
		const report = () => channel.post({ type: "resize", height: Math.ceil(el.getBoundingClientRect().height) + 8 });
		report();
		const observer = new ResizeObserver(report);
		observer.observe(el);
		return () => observer.disconnect();
	}, [channel, open]);

	if (!open) {
		return (
			<div class="widget closed">
				<Launcher buttonRef={launcher} peerHandle={options.peerHandle} unread={unread} onOpen={() => setOpen(true)} />
			</div>
		);
	}
	return (
		<div class={`widget open${channel ? " framed" : ""}`}>
			<Panel controller={controller} state={state} options={options} onClose={() => (options.inWindow ? window.close() : setOpen(false))} />
		</div>
	);
}

/**
 * The iframe has no storage (the browser blocks it for embedded third parties), so keys could
 * not survive a reload. The visitor's click asks the browser for storage access (`ask`, null
 * where there is no Storage Access API); granted, the chat opens here (`onAllowed`), otherwise
 * in a window of our own origin.
 */
export function StorageBlocked({
	channel,
	options,
	ask,
	onAllowed,
}: {
	channel: HostChannel | null;
	options: WidgetOptions;
	ask: (() => Promise<StorageAccessResult<BrowserStores>>) | null;
	onAllowed: (stores: BrowserStores) => void;
}) {
	const [open, setOpen] = useState(options.startOpen);
	const [refused, setRefused] = useState(false);
	const [asked, setAsked] = useState<StorageAsk>(ask ? "not asked" : "unsupported");
	const [unread, setUnread] = useState(0);
	const chatWindow = useRef<Window | null>(null);
	const root = useRef<HTMLDivElement>(null);

	useEffect(() => {
		if (!channel) return;
		const stop = channel.onCommand((command) => setOpen(command.type === "open"));
		channel.post({ type: "ready" });
		const stopRelay = onChatWindowUnread(
			() => chatWindow.current,
			(count) => setUnread(count),
		);
		return () => {
			stop();
			stopRelay();
		};
	}, [channel]);

	useEffect(() => {
		channel?.post({ type: "unread", count: unread });
	}, [channel, unread]);

	useLayoutEffect(() => {
		const el = root.current;
		if (!channel || !el) return;
		const report = () => channel.post({ type: "resize", height: Math.ceil(el.getBoundingClientRect().height) + 8 });
		report();
		const observer = new ResizeObserver(report);
		observer.observe(el);
		return () => observer.disconnect();
	}, [channel, open]);

	const askForStorage = async () => {
		if (!ask) return;
		setAsked("asking");
		const result = await ask();
		if (result.outcome === "granted") onAllowed(result.stores);
		else setAsked(result.outcome);
	};

	const launch = () => {
		const win = openChatWindow(options.peerHandle, options.theme);
		chatWindow.current = win;
		setRefused(win === null);
		if (win) win.focus();
	};

	return (
		<div class={`widget ${open ? "open" : "closed"} fit`}>
			<div ref={root} class={open ? "widget-panel compact" : ""}>
				{open ? (
					<>
						<header class="widget-header">
							<h1 id="widget-title">@{options.peerHandle}</h1>
							<span class="connection offline">end-to-end encrypted</span>
							<button type="button" class="close" aria-label="Close chat" onClick={() => setOpen(false)}>
								×
							</button>
						</header>
						<div class="widget-body stack">
							<p aria-live="polite">{storageAskText(asked)}</p>
							{(asked === "not asked" || asked === "asking") && (
								<button type="button" class="primary" disabled={asked === "asking"} onClick={() => void askForStorage()}>
									Allow and chat here
								</button>
							)}
							<button type="button" class={asked === "not asked" || asked === "asking" ? "" : "primary"} onClick={launch}>
								Open chat window
							</button>
							{refused && (
								<p class="error" role="alert">
									The browser blocked the window. Please allow pop-ups for this site, or{" "}
									<a href={`/widget?handle=${encodeURIComponent(options.peerHandle)}&window=1`} target="_blank" rel="noreferrer">
										open the chat in a new tab
									</a>
									.
								</p>
							)}
						</div>
					</>
				) : (
					<Launcher
						peerHandle={options.peerHandle}
						unread={unread}
						onOpen={() => {
							setOpen(true);
							// The launcher's click is the gesture the browser wants before it may ask the visitor.
							if (asked === "not asked") void askForStorage();
						}}
					/>
				)}
			</div>
		</div>
	);
}

/** The widget failed to render: the panel opens to its full height to say so, with a reload button. */
export function WidgetCrashed({ channel, error }: { channel: HostChannel | null; error: unknown }) {
	useLayoutEffect(() => channel?.post({ type: "resize", height: OPEN_HEIGHT }), [channel]);
	return (
		<div class={`widget open${channel ? " framed" : ""}`}>
			<section class="widget-panel">
				<Crashed error={error} compact />
			</section>
		</div>
	);
}
