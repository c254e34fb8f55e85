import type { Contact } from "../../../common/protocol/wire.ts";
import type { CallController, CallState } from "../call-controller.ts";
import { formatWhen } from "../format.ts";
import type { MessengerState } from "../messenger-controller.ts";
import { CameraIcon, PhoneIcon } from "./icons.tsx";

const OFFLINE = "Calls need a connection to the server, and this device is offline.";

/** Why this contact cannot be called from here right now, if they cannot. */
function callBlocker(calls: CallController, call: CallState | null, state: MessengerState, contact: Contact, now: number): string | null {
	if (calls.unavailable) return calls.unavailable;
	if (contact.state !== "accepted") return "You can only call accepted contacts.";
	const suspendedUntil = state.account?.suspendedUntil;
	if (suspendedUntil !== undefined && suspendedUntil > now)
		return `Your account is suspended until ${formatWhen(suspendedUntil)}, so it cannot make calls.`;
	if (state.connection !== "online") return OFFLINE;
	if (call && call.phase !== "ended") return "You are already in a call.";
	return null;
}

/** One call button; its reason for being disabled is the `call-blocker` element below the buttons. */
function CallButton({ video, blocker, handle, onCall }: { video: boolean; blocker: string | null; handle: string; onCall: () => void }) {
	const kind = video ? "Video" : "Audio";
	return (
		<button
			type="button"
			class="icon-button"
			disabled={blocker !== null}
			aria-describedby={blocker ? "call-blocker" : undefined}
			title={blocker ?? `${kind} call with @${handle}`}
			onClick={onCall}
		>
			{video ? <CameraIcon /> : <PhoneIcon />}
			<span class="visually-hidden">{kind} call</span>
		</button>
	);
}

/** Audio and video call buttons for a conversation's header, disabled with the reason shown when a call is not possible. */
export function CallButtons({
	calls,
	call,
	state,
	contact,
}: {
	calls: CallController;
	call: CallState | null;
	state: MessengerState;
	contact: Contact;
}) {
	const blocker = callBlocker(calls, call, state, contact, Date.now());
	return (
		<>
			<div class="call-buttons">
				<CallButton video={false} blocker={blocker} onCall={() => void calls.start(contact.accountId, false)} handle={contact.handle} />
				<CallButton video blocker={blocker} onCall={() => void calls.start(contact.accountId, true)} handle={contact.handle} />
			</div>
			{/* A contact not accepted yet is explained below the conversation already; being offline,
			    by the connection state in the top bar (a line here would re-flow the header each
			    time the network comes and goes). Screen readers hear the reason either way. */}
			{blocker && contact.state === "accepted" && (
				<p id="call-blocker" class={blocker === OFFLINE ? "visually-hidden" : "call-blocker hint"}>
					{blocker}
				</p>
			)}
			{blocker && contact.state !== "accepted" && (
				<span id="call-blocker" class="visually-hidden">
					{blocker}
				</span>
			)}
		</>
	);
}
