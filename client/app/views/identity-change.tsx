import { useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import type { ContactTrust } from "../../core/sdk.ts";
import { errorText } from "../error-text.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";
import { SafetyDigits } from "./safety-number.tsx";

/** In the chat: the contact's identity key changed and the person has not looked yet. */
export function IdentityChangeNotice({ contact, onReview }: { contact: Contact; onReview: () => void }) {
	return (
		<div class="identity-notice" role="alert" data-testid="identity-change">
			<p>
				<strong>@{contact.handle}'s safety number changed.</strong> Their account has a new identity key: they reset it, or someone is
				trying to listen in.
			</p>
			<button type="button" onClick={onReview}>
				Review
			</button>
		</div>
	);
}

/**
 * In place of the composer, for a contact who was verified before their identity key changed:
 * nothing is sent to the new key until the person has seen the new number and acknowledged it.
 */
export function SendingPaused({ controller, contact, trust }: { controller: MessengerController; contact: Contact; trust: ContactTrust }) {
	const [showing, setShowing] = useState(false);
	const acknowledge = useAction(
		() => controller.acknowledgeIdentityChange(contact.accountId),
		(err) => errorText(err),
	);
	return (
		<section class="sending-paused" aria-label="Sending is paused" data-testid="sending-paused">
			<p class="allowance blocked">
				Sending is paused: you verified @{contact.handle}, and their safety number changed since. Compare the new number with them before
				you write again.
			</p>
			{showing ? (
				<div class="stack">
					<SafetyDigits digits={trust.safetyNumber} />
					<div class="actions">
						<button type="button" class="primary" disabled={acknowledge.busy} onClick={() => void acknowledge.run()}>
							Acknowledge the new number
						</button>
						<button type="button" onClick={() => setShowing(false)}>
							Not now
						</button>
					</div>
					<p class="hint">@{contact.handle} then counts as not verified until you compare the numbers again.</p>
				</div>
			) : (
				<button type="button" onClick={() => setShowing(true)}>
					Show the new safety number
				</button>
			)}
			<ErrorLine text={acknowledge.error} />
		</section>
	);
}
