import { errorText } from "../error-text.ts";
import { formatTime } from "../format.ts";
import type { ChatMessage } from "../history-store.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { CameraIcon, PhoneIcon } from "./icons.tsx";

/**
 * A call log line or a call request in a conversation (call-log.ts): a small centred line,
 * not a bubble, with no message actions (it has no relay id: nothing to reply to, react to or
 * delete for everyone). `id` is the list item's, for the message list's keyboard focus.
 */
export function CallLogLine({ controller, message, id }: { controller: MessengerController; message: ChatMessage; id: string }) {
	const time = <time dateTime={new Date(message.at).toISOString()}>{formatTime(message.at)}</time>;
	if (message.callRequest) return <CallRequestLine controller={controller} message={message} id={id} time={time} />;
	const call = message.call;
	if (!call) return null;
	const missed = call.outcome === "missed";
	return (
		<li id={id} class={`message call-log${missed ? " missed" : ""}`} data-testid="call-log" data-outcome={call.outcome}>
			<p>
				{call.video ? <CameraIcon /> : <PhoneIcon />}
				<span class="visually-hidden">{call.direction === "outgoing" ? "Outgoing call: " : "Incoming call: "}</span>
				<span class="call-log-text">{message.text}</span> · {time}
			</p>
		</li>
	);
}

function CallRequestLine({
	controller,
	message,
	id,
	time,
}: {
	controller: MessengerController;
	message: ChatMessage;
	id: string;
	time: preact.JSX.Element;
}) {
	const allow = useAction(
		() => controller.allowCallRequest(message.peerId),
		(err) => errorText(err),
	);
	const notNow = useAction(
		() => controller.dismissCallRequest(message.peerId),
		(err) => errorText(err),
	);
	// Named as the contact is now: the record may have come before the contact list.
	const handle = controller.contact(message.peerId)?.handle;
	const text = handle === undefined ? message.text : `@${handle} wants to call you`;
	const busy = allow.busy || notNow.busy;
	const error = allow.error ?? notNow.error;
	return (
		<li id={id} class="message call-log call-request" data-testid="call-request">
			<p>
				<PhoneIcon />
				<span class="call-log-text">{text}</span> · {time}
			</p>
			<p class="call-request-actions">
				<button type="button" disabled={busy} onClick={() => void allow.run()}>
					Allow
				</button>
				<button type="button" class="secondary" disabled={busy} onClick={() => void notNow.run()}>
					Not now
				</button>
			</p>
			{error && (
				<p class="error" role="alert">
					{error}
				</p>
			)}
		</li>
	);
}
