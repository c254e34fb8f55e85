import { useEffect, useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import { contactRequestText, errorText } from "../error-text.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";
import { TrustBadge } from "./safety-number.tsx";
import { UnreadBadge } from "./unread-badge.tsx";

const STATE_ORDER: Record<Contact["state"], number> = { incoming: 0, accepted: 1, outgoing: 2, declined: 3, blocked: 4 };

const byStateAndName = (a: Contact, b: Contact): number => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.handle.localeCompare(b.handle);

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

export function ContactList({
	controller,
	state,
	onOpen,
}: {
	controller: MessengerController;
	state: MessengerState;
	onOpen: (peerId: string) => void;
}) {
	const contacts = [...state.contacts].sort(byStateAndName);
	if (contacts.length === 0) return <p class="empty">No contacts yet. Add someone by their handle.</p>;
	const now = Date.now();
	return (
		<ul class="contact-list" aria-label="Contacts">
			{contacts.map((contact) => {
				if (contact.state === "incoming") return <IncomingRequest key={contact.accountId} controller={controller} contact={contact} />;
				const unread = state.unread[contact.accountId] ?? 0;
				const typing = (state.typing[contact.accountId] ?? 0) > now;
				const active = state.activePeer === contact.accountId;
				return (
					<li key={contact.accountId} class={`contact ${contact.state}`}>
						<button
							type="button"
							class={`contact-button${active ? " active" : ""}`}
							aria-current={active ? "true" : undefined}
							onClick={() => onOpen(contact.accountId)}
						>
							<span class="contact-name">@{contact.handle}</span>
							<span class="contact-state">
								{typing ? "typing…" : (STATE_TEXT[contact.state] ?? "")}
								{contact.state === "accepted" && <TrustBadge trust={state.trust[contact.accountId]} />}
							</span>
							<UnreadBadge count={unread} />
						</button>
					</li>
				);
			})}
		</ul>
	);
}
