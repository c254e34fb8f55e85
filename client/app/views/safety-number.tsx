import { useEffect, useState } from "preact/hooks";
import type { Contact } from "../../../common/protocol/wire.ts";
import type { ContactTrust } from "../../core/sdk.ts";
import { errorText } from "../error-text.ts";
import { trustLabel } from "../features/safety-numbers.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { type SafetyComparison, safetyCodeText } from "../safety-code.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";
import { QrCode } from "./qr-code.tsx";
import { QrScanner } from "./qr-scanner.tsx";

/** 60 digits as three rows of four groups, the way people read them out. */
export function SafetyDigits({ digits }: { digits: string }) {
	const groups = digits.split(" ");
	const rows = [groups.slice(0, 4), groups.slice(4, 8), groups.slice(8, 12)];
	return (
		<p class="safety-number" data-testid="safety-number" data-digits={digits}>
			<span class="visually-hidden">Safety number: </span>
			{rows.map((row) => (
				<span key={row.join("")} class="safety-row">
					{row.join(" ")}
				</span>
			))}
		</p>
	);
}

/** Verified, not verified, or changed, as a small label (the contact list, the chat header). */
export function TrustBadge({ trust }: { trust: ContactTrust | undefined }) {
	const label = trustLabel(trust);
	if (!trust || !label) return null;
	return (
		<span class={`trust-badge ${trust.state}`} data-trust={trust.state}>
			{trust.state === "verified" && <span aria-hidden="true">✓ </span>}
			{label}
		</span>
	);
}

const comparisonText = (handle: string, verdict: SafetyComparison): string =>
	verdict === "match"
		? `The numbers match: @${handle} is verified.`
		: verdict === "mismatch"
			? `The numbers do not match. This is not the safety number you have with @${handle}: do not mark them verified. Someone may be in the middle, or it is an old code.`
			: "That QR code is not a safety number. Scan the code under “Safety number” in their app.";

/**
 * A contact's safety number (over both accounts' identity keys) and what this device trusts
 * about it: the digits and a QR code of them for the other person to scan; scanning their code
 * (a picture of it, or the camera) marks the contact verified on a match; or, after comparing
 * by eye, marking it by hand.
 */
export function SafetyNumberSection({
	controller,
	state,
	contact,
}: {
	controller: MessengerController;
	state: MessengerState;
	contact: Contact;
}) {
	const peerId = contact.accountId;
	const trust = state.trust[peerId];
	const [verdict, setVerdict] = useState<SafetyComparison | null>(null);
	useEffect(() => {
		void controller.loadTrust(peerId);
		setVerdict(null);
	}, [controller, peerId]);
	const compare = useAction(
		async (text: string) => setVerdict(await controller.compareSafetyCode(peerId, text)),
		(err) => errorText(err),
	);
	const mark = useAction(
		async (verified: boolean) => {
			setVerdict(null);
			await controller.setVerified(peerId, verified);
		},
		(err) => errorText(err),
	);
	const acknowledge = useAction(
		() => controller.acknowledgeIdentityChange(peerId),
		(err) => errorText(err),
	);
	return (
		<div class="stack" id="safety-number-section">
			<h3>
				Safety number <TrustBadge trust={trust} />
			</h3>
			{!trust ? (
				<p class="hint">Loading the safety number…</p>
			) : (
				<>
					{trust.state === "changed" && (
						<p class="warning">
							@{contact.handle}'s account has a new identity key, so this is a new number. That happens when they reset their account, and
							when someone tries to listen in: compare it with them again.
						</p>
					)}
					<p class="hint">
						Compare it with @{contact.handle} in person or on a call, or scan each other's code. If they match, nobody is in the middle. It
						stays the same when either of you adds or removes a device.
					</p>
					<div class="safety-box">
						<QrCode
							text={safetyCodeText(trust.safetyNumber)}
							label={`QR code of your safety number with @${contact.handle}`}
							testId="safety-number-qr"
						/>
						<SafetyDigits digits={trust.safetyNumber} />
					</div>
					<QrScanner
						pictureLabel="Compare with a picture of their code"
						onText={(text) => void compare.run(text)}
						disabled={compare.busy}
					/>
					{verdict && (
						<output class={verdict === "match" ? "ok" : "error"} data-testid="safety-comparison" data-verdict={verdict}>
							{comparisonText(contact.handle, verdict)}
						</output>
					)}
					<div class="actions">
						{trust.state === "verified" ? (
							<button type="button" disabled={mark.busy} onClick={() => void mark.run(false)}>
								Mark as not verified
							</button>
						) : (
							<button type="button" disabled={mark.busy} onClick={() => void mark.run(true)}>
								Mark as verified
							</button>
						)}
						{trust.state === "changed" && (
							<button type="button" disabled={acknowledge.busy} onClick={() => void acknowledge.run()}>
								I have seen the new number
							</button>
						)}
					</div>
					<ErrorLine text={compare.error ?? mark.error ?? acknowledge.error} />
				</>
			)}
		</div>
	);
}
