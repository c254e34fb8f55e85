import { useEffect, useState } from "preact/hooks";
import type { CallController, CallState } from "./call-controller.ts";
import type { DesktopNotifications } from "./features/desktop-notifications.ts";
import { plural } from "./format.ts";
import type { Connection, MessengerController, MessengerState } from "./messenger-controller.ts";
import { backFromCheckout } from "./purchase-return.ts";
import { useMessenger, useStore } from "./use-messenger.ts";
import { PendingApproval, Welcome } from "./views/account-forms.tsx";
import { CallScreen } from "./views/call-screen.tsx";
import { ChatView } from "./views/chat-view.tsx";
import { AddContactForm, ContactList } from "./views/contact-list.tsx";
import { CreditsPanel } from "./views/credits-panel.tsx";
import { Removed, Replaced } from "./views/device-gone.tsx";
import { DevicesPanel } from "./views/devices-panel.tsx";
import { HistoryTransfers } from "./views/history-transfer.tsx";
import { Notices } from "./views/notices.tsx";
import { NotificationOffer, NotificationsContext } from "./views/notification-settings.tsx";
import { RecoveryKeySetup, RecoveryReminder } from "./views/recovery-key.tsx";

type View = { kind: "home" } | { kind: "chat"; peerId: string } | { kind: "devices" } | { kind: "credits" };

const CONNECTION_TEXT: Record<Connection, string> = {
	online: "Connected",
	connecting: "Connecting…",
	offline: "Offline",
};

function TopBar({ state, view, setView }: { state: MessengerState; view: View; setView: (view: View) => void }) {
	const pending = state.devices?.filter((d) => d.status === "pending").length ?? 0;
	const nav = (kind: "devices" | "credits", label: string, extra?: string) => (
		<button
			type="button"
			aria-current={view.kind === kind ? "page" : undefined}
			onClick={() => setView(view.kind === kind ? { kind: "home" } : { kind })}
		>
			{label}
			{extra && <span class="badge">{extra}</span>}
		</button>
	);
	return (
		<header class="topbar">
			<div class="brand">
				<span class="logo" aria-hidden="true">
					◆
				</span>
				<span class="who">@{state.me?.handle}</span>
				<output class={`connection ${state.connection}`}>{CONNECTION_TEXT[state.connection]}</output>
			</div>
			<nav aria-label="Sections">
				{nav("devices", "Devices", pending > 0 ? String(pending) : undefined)}
				{nav("credits", state.account ? plural(state.account.credits, "credit") : "Credits")}
			</nav>
		</header>
	);
}

function Main({
	controller,
	calls,
	call,
	state,
	notifications,
}: {
	controller: MessengerController;
	calls: CallController;
	call: CallState | null;
	state: MessengerState;
	notifications: DesktopNotifications | null;
}) {
	// Back from Stripe Checkout: straight to the credits, where the panel says what happened.
	const [view, setView] = useState<View>(() => (backFromCheckout() ? { kind: "credits" } : { kind: "home" }));
	const go = (next: View) => {
		setView(next);
		void controller.open(next.kind === "chat" ? next.peerId : null);
	};
	// A notification clicked opens its chat (the window was brought forward already).
	useEffect(
		() =>
			notifications?.onOpen((peerId) => {
				if (!controller.contact(peerId)) return;
				setView({ kind: "chat", peerId });
				void controller.open(peerId);
			}),
		[notifications, controller],
	);
	const contact = view.kind === "chat" ? controller.contact(view.peerId) : undefined;
	// The words of a new recovery key get the screen to themselves, until confirmed or put off;
	// the view under them stays as it was.
	if (state.recovery.showing) {
		return (
			<>
				<div class="app single" inert={call !== null}>
					<Notices controller={controller} notices={state.notices} />
					<RecoveryKeySetup controller={controller} state={state} />
				</div>
				{call && <CallScreen key={call.key} calls={calls} call={call} messenger={controller} />}
			</>
		);
	}
	return (
		<>
			{/* While a call is shown, the rest of the app is out of reach (and out of the tab order). */}
			<div class="app" inert={call !== null}>
				<TopBar state={state} view={view} setView={go} />
				<Notices controller={controller} notices={state.notices} />
				<RecoveryReminder controller={controller} state={state} onOpenDevices={() => go({ kind: "devices" })} />
				<HistoryTransfers controller={controller} state={state} />
				<div class={`layout ${view.kind === "home" ? "show-list" : "show-detail"}`}>
					<aside class="sidebar" aria-label="Contacts">
						<AddContactForm controller={controller} />
						<NotificationOffer contacts={state.contacts} />
						<ContactList controller={controller} state={state} onOpen={(peerId) => go({ kind: "chat", peerId })} />
					</aside>
					{/* It scrolls; a view with no control of its own (prices, the empty start) must still be
					    scrollable by keyboard, so the region itself takes the focus then. */}
					<main class="detail" tabIndex={view.kind === "credits" || view.kind === "home" ? 0 : undefined}>
						{view.kind === "chat" && contact && (
							<ChatView
								controller={controller}
								calls={calls}
								call={call}
								state={state}
								contact={contact}
								onBack={() => go({ kind: "home" })}
							/>
						)}
						{view.kind === "devices" && <DevicesPanel controller={controller} state={state} />}
						{view.kind === "credits" && <CreditsPanel controller={controller} state={state} />}
						{view.kind === "home" && <p class="empty center">Choose a contact to start chatting.</p>}
					</main>
				</div>
			</div>
			{call && <CallScreen key={call.key} calls={calls} call={call} messenger={controller} />}
		</>
	);
}

export function App({
	controller,
	calls,
	notifications = null,
}: {
	controller: MessengerController;
	calls: CallController;
	/** The web app's desktop notifications (the views that offer and set them find them in NotificationsContext). */
	notifications?: DesktopNotifications | null;
}) {
	const state = useMessenger(controller);
	const call = useStore(calls);
	const unread = Object.values(state.unread).reduce((sum, n) => sum + n, 0);
	const caller = call?.phase === "incoming" ? (controller.contact(call.peerId)?.handle ?? "a contact") : null;
	useEffect(() => {
		if (caller !== null) document.title = `Incoming call from @${caller}`;
		else document.title = unread > 0 ? `(${unread}) Secure Messaging` : "Secure Messaging";
	}, [unread, caller]);
	if (state.phase === "ready")
		return (
			<NotificationsContext.Provider value={notifications}>
				<Main controller={controller} calls={calls} call={call} state={state} notifications={notifications} />
			</NotificationsContext.Provider>
		);
	return (
		<div class="app single">
			<Notices controller={controller} notices={state.notices} />
			{state.phase === "loading" && <p class="empty center">Opening…</p>}
			{state.phase === "welcome" && <Welcome controller={controller} />}
			{state.phase === "pending" && (
				<PendingApproval controller={controller} fingerprint={state.fingerprint} handle={state.me?.handle ?? ""} />
			)}
			{state.phase === "replaced" && <Replaced controller={controller} />}
			{state.phase === "removed" && <Removed controller={controller} />}
		</div>
	);
}
