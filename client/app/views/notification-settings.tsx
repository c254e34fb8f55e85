import { createContext } from "preact";
import { useContext, useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import type { DesktopNotifications, NotificationsState } from "../features/desktop-notifications.ts";
import { offerNotifications } from "../notification-rules.ts";
import { useStore } from "../use-messenger.ts";

/**
 * The web app's desktop notifications, for the views that offer and set them. The widget
 * provides none: there, these views show nothing.
 */
export const NotificationsContext = createContext<DesktopNotifications | null>(null);

const NONE = { state: null, subscribe: () => () => {} };

/** The notifications' state (null without any), re-rendering on each change. */
function useNotifications() {
	const notifications = useContext(NotificationsContext);
	const state = useStore<NotificationsState | null>(notifications ?? NONE);
	return { notifications, state };
}

/**
 * "Get notified of new messages · Turn on", in the contact list once there is someone to hear
 * from and the browser was not asked yet; "Not now" puts it away for good on this device.
 */
export function NotificationOffer({ contacts }: { contacts: readonly Contact[] }) {
	const { notifications, state } = useNotifications();
	const [asking, setAsking] = useState(false);
	if (!notifications || !state || !offerNotifications(state.permission, state.dismissed, contacts)) return null;
	return (
		<section class="notification-offer" aria-label="Notifications">
			<span>Get notified of new messages</span>
			<span class="actions">
				<button
					type="button"
					class="primary"
					disabled={asking}
					onClick={async () => {
						setAsking(true);
						await notifications.turnOn();
						setAsking(false);
					}}
				>
					Turn on
				</button>
				<button type="button" onClick={() => notifications.dismissOffer()}>
					Not now
				</button>
			</span>
		</section>
	);
}

/** The settings: notifications on or off on this device, and whether they show the message's text. */
export function NotificationSettings() {
	const { notifications, state } = useNotifications();
	if (!notifications || !state) return null;
	const on = state.permission === "granted" && state.enabled;
	return (
		<div class="stack">
			<h3 class="section-title">Notifications on this device</h3>
			{state.permission === "unsupported" && <p class="hint">This browser shows no notifications.</p>}
			{state.permission === "denied" && (
				<p class="hint">This browser blocks notifications from this site. Allow them in its site settings to be notified here.</p>
			)}
			{state.permission === "default" && (
				<div class="actions">
					<button type="button" onClick={() => void notifications.turnOn()}>
						Turn on notifications
					</button>
				</div>
			)}
			{state.permission === "granted" && (
				<label class="checkbox">
					<input type="checkbox" checked={state.enabled} onChange={(e) => notifications.setEnabled(e.currentTarget.checked)} /> Notify me of
					new messages and calls
				</label>
			)}
			{state.permission !== "unsupported" && (
				<label class="checkbox">
					<input
						type="checkbox"
						checked={state.previews}
						disabled={!on}
						aria-describedby="notification-previews-hint"
						onChange={(e) => notifications.setPreviews(e.currentTarget.checked)}
					/>{" "}
					Show message text in notifications
				</label>
			)}
			<p id="notification-previews-hint" class="hint">
				Notifications show while this tab is in the background. Without the text they say only who wrote; with it, anyone who sees your
				screen (or its lock screen) can read it. The server never sees either: the text exists only on your devices.
			</p>
		</div>
	);
}

/** "Mute notifications" for one contact, in their contact info: their messages notify nothing here; their calls still ring. */
export function MuteNotifications({ contact }: { contact: Contact }) {
	const { notifications, state } = useNotifications();
	if (!notifications || !state || state.permission === "unsupported") return null;
	const muted = state.muted.includes(contact.accountId);
	return (
		<div class="stack">
			<h3>Notifications</h3>
			<label class="checkbox">
				<input
					type="checkbox"
					checked={muted}
					aria-describedby="mute-notifications-hint"
					onChange={(e) => notifications.setMuted(contact.accountId, e.currentTarget.checked)}
				/>{" "}
				Mute notifications
			</label>
			<p id="mute-notifications-hint" class="hint">
				{muted
					? `Messages from @${contact.handle} show no notification on this device. Their calls still ring.`
					: `Messages from @${contact.handle} show a notification while this tab is in the background.`}
			</p>
		</div>
	);
}
