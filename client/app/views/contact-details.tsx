import { useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import { errorText } from "../error-text.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";
import { MuteNotifications } from "./notification-settings.tsx";
import { SafetyNumberSection } from "./safety-number.tsx";

function ReportForm({
	controller,
	contact,
	onDone,
}: {
	controller: MessengerController;
	contact: Contact;
	onDone: (text: string) => void;
}) {
	const [reason, setReason] = useState("");
	const [block, setBlock] = useState(true);
	const action = useAction(
		(r: string, b: boolean) => controller.reportContact(contact.accountId, r, b),
		(err) => errorText(err, "report"),
	);
	return (
		<form
			class="stack"
			aria-label={`Report @${contact.handle}`}
			onSubmit={async (e) => {
				e.preventDefault();
				if (await action.run(reason.trim(), block))
					onDone(block ? `You reported and blocked @${contact.handle}.` : `You reported @${contact.handle}.`);
			}}
		>
			<label>
				What happened?
				<textarea name="reason" rows={3} maxLength={500} required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
			</label>
			<label class="checkbox">
				<input type="checkbox" checked={block} onChange={(e) => setBlock(e.currentTarget.checked)} /> Also block @{contact.handle}
			</label>
			<p class="hint">The server's operators see who reported whom and your reason, never your messages.</p>
			<ErrorLine text={action.error} />
			<button type="submit" class="danger" disabled={action.busy}>
				Send report
			</button>
		</form>
	);
}

/** Whether this contact may call us: off until turned on, and only we can turn it on. */
function CallPermission({ controller, contact }: { controller: MessengerController; contact: Contact }) {
	const allowed = contact.callsAllowed === true;
	// Shown at once, and undone if the relay refuses.
	const [wanted, setWanted] = useState<boolean | null>(null);
	const action = useAction(
		(allow: boolean) => controller.setCallPermission(contact.accountId, allow),
		(err) => errorText(err),
	);
	return (
		<div class="stack">
			<h3>Calls</h3>
			<label class="checkbox">
				<input
					type="checkbox"
					checked={wanted ?? allowed}
					disabled={action.busy}
					aria-describedby="call-permission-hint"
					onChange={async (e) => {
						const allow = e.currentTarget.checked;
						setWanted(allow);
						await action.run(allow);
						setWanted(null);
					}}
				/>
				Allow calls from @{contact.handle}
			</label>
			<p id="call-permission-hint" class="hint">
				{allowed
					? `@${contact.handle} can call you (audio or video). Turn this off to stop their calls.`
					: `Off: @${contact.handle} cannot call you until you turn this on.`}{" "}
				It works the same way round: you can call @{contact.handle} only once they allow calls from you in their app.
			</p>
			<ErrorLine text={action.error} />
		</div>
	);
}

/**
 * A contact's calls, safety number, report, and block or unblock. Beside the conversation on a
 * wide screen, over its messages on a narrow one (styles.css): its own Close, and Escape,
 * close it.
 */
export function ContactDetails({
	controller,
	state,
	contact,
	onClose,
}: {
	controller: MessengerController;
	state: MessengerState;
	contact: Contact;
	onClose: () => void;
}) {
	const [reporting, setReporting] = useState(false);
	const [confirmBlock, setConfirmBlock] = useState(false);
	const [done, setDone] = useState<string | null>(null);
	const block = useAction(
		() => controller.blockContact(contact.accountId),
		(err) => errorText(err),
	);
	const unblock = useAction(
		() => controller.unblockContact(contact.accountId),
		(err) => errorText(err),
	);
	const blocked = contact.state === "blocked";
	return (
		<section
			id="contact-details"
			class="contact-details"
			aria-label={`About @${contact.handle}`}
			onKeyDown={(e) => {
				// An open form's own Escape (none today) would have taken it first.
				if (e.key !== "Escape" || e.defaultPrevented) return;
				e.preventDefault();
				onClose();
			}}
		>
			<div class="contact-details-head">
				<h3>Contact info</h3>
				<button type="button" onClick={onClose}>
					Close
				</button>
			</div>
			{contact.state === "accepted" && <CallPermission controller={controller} contact={contact} />}
			{contact.state === "accepted" && <MuteNotifications contact={contact} />}
			{contact.state === "accepted" && <SafetyNumberSection controller={controller} state={state} contact={contact} />}
			<div class="stack">
				<h3>Safety</h3>
				{done && <output>{done}</output>}
				{reporting && !done ? (
					<ReportForm controller={controller} contact={contact} onDone={setDone} />
				) : (
					(!done || blocked) && (
						<div class="actions">
							{!done && (
								<button type="button" onClick={() => setReporting(true)}>
									Report…
								</button>
							)}
							{/* Where the block was made, and still there once it was: a block is undone the way it was done. */}
							{blocked ? (
								<button
									type="button"
									disabled={unblock.busy}
									onClick={async () => {
										if (await unblock.run()) {
											setConfirmBlock(false);
											setDone(`You unblocked @${contact.handle}. What they sent while blocked is not delivered.`);
										}
									}}
								>
									Unblock @{contact.handle}
								</button>
							) : (
								!done &&
								(confirmBlock ? (
									<>
										<button
											type="button"
											class="danger"
											disabled={block.busy}
											onClick={async () => {
												if (await block.run()) setDone(`You blocked @${contact.handle}. They are not told.`);
											}}
										>
											Yes, block @{contact.handle}
										</button>
										<button type="button" onClick={() => setConfirmBlock(false)}>
											Cancel
										</button>
									</>
								) : (
									<button type="button" class="danger" onClick={() => setConfirmBlock(true)}>
										Block…
									</button>
								))
							)}
						</div>
					)
				)}
				<ErrorLine text={block.error ?? unblock.error} />
			</div>
		</section>
	);
}
