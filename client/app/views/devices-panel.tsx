import { useEffect, useState } from "preact/hooks";
import { fromB64u } from "../../../common/encoding.ts";
import type { DeviceInfo } from "../../../common/protocol/wire.ts";
import { deviceFingerprint } from "../../core/safety-number.ts";
import type { OwnDevice } from "../../core/sdk.ts";
import { devicePresence } from "../device-presence.ts";
import { errorText } from "../error-text.ts";
import { localExpiry } from "../features/device-links.ts";
import { type SignOutRisk, signOutRisk } from "../features/sign-out.ts";
import { formatWhen } from "../format.ts";
import { formatCountdown, linkCodeGroups } from "../link-code-text.ts";
import type { Connection, LinkRequest, MessengerController, MessengerState, ShownLinkCode } from "../messenger-controller.ts";
import { useAction, useNow } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";
import { NotificationSettings } from "./notification-settings.tsx";
import { QrCode } from "./qr-code.tsx";
import { RecoverySettings } from "./recovery-key.tsx";

const fingerprintOf = (device: DeviceInfo): string => deviceFingerprint(fromB64u(device.publicKey));

/** How long "Copied" stays next to the button. */
const COPIED_SHOWN_MS = 3_000;

/** The code in its groups, each a unit a person reads and types at once. */
function GroupedCode({ code }: { code: string }) {
	const { handle, groups } = linkCodeGroups(code);
	return (
		<p class="link-code" data-testid="link-code" data-code={code}>
			<span class="visually-hidden">Link code: </span>
			<span class="link-code-handle">{handle}</span>
			{groups.map((group, i) => (
				// The dashes are part of the copied text; the groups stay apart on a narrow screen.
				<span key={i} class="link-code-group">
					-{group}
				</span>
			))}
		</p>
	);
}

function CopyButton({ text }: { text: string }) {
	const [said, setSaid] = useState<string | null>(null);
	useEffect(() => {
		if (said === null) return;
		const timer = setTimeout(() => setSaid(null), COPIED_SHOWN_MS);
		return () => clearTimeout(timer);
	}, [said]);
	return (
		<>
			<button
				type="button"
				onClick={() =>
					navigator.clipboard.writeText(text).then(
						() => setSaid("Copied."),
						() => setSaid("This browser did not allow copying: select the code and copy it."),
					)
				}
			>
				Copy the code
			</button>
			{said && <output class="hint">{said}</output>}
		</>
	);
}

/** The code shown for a new device: typed form, QR code, its countdown, and a way to withdraw it. */
function ShownCode({ controller, code }: { controller: MessengerController; code: ShownLinkCode }) {
	const now = useNow(true);
	const [shownAt] = useState(Date.now());
	const expiry = localExpiry(code, shownAt);
	const left = expiry === null ? null : expiry - now;
	const cancel = useAction(
		() => controller.cancelLinkCode(),
		(err) => errorText(err, "link-code"),
	);
	const renew = useAction(
		() => controller.showLinkCode(),
		(err) => errorText(err, "link-code"),
	);
	if (left !== null && left <= 0) {
		return (
			<div class="link-card stack" data-testid="link-code-expired">
				<p>This link code expired before a device used it.</p>
				<div class="actions">
					<button type="button" class="primary" disabled={renew.busy} onClick={() => void renew.run()}>
						Make a new code
					</button>
					<button type="button" disabled={cancel.busy} onClick={() => void cancel.run()}>
						Close
					</button>
				</div>
				<ErrorLine text={renew.error ?? cancel.error} />
			</div>
		);
	}
	return (
		<div class="link-card stack">
			<p>
				On the new device, open this app, choose <em>Add this device</em>, and type this code or scan it. It works once.
			</p>
			<div class="link-code-box">
				<QrCode text={code.code} label={`QR code of the link code ${code.code}`} testId="link-code-qr" />
				<div class="stack">
					<GroupedCode code={code.code} />
					<div class="actions">
						<CopyButton text={code.code} />
					</div>
					<p class="hint" aria-live="off" data-testid="link-code-expiry">
						{left === null ? "The code is valid for a few minutes." : `Expires in ${formatCountdown(left)}.`}
					</p>
				</div>
			</div>
			<p class="hint">Keep this page open: the new device is approved here, and only this page knows the code.</p>
			<div class="actions">
				<button type="button" disabled={cancel.busy} onClick={() => void cancel.run()}>
					Cancel the code
				</button>
			</div>
			<ErrorLine text={cancel.error} />
		</div>
	);
}

function LinkNewDevice({ controller, code }: { controller: MessengerController; code: ShownLinkCode | null }) {
	const show = useAction(
		() => controller.showLinkCode(),
		(err) => errorText(err, "link-code"),
	);
	if (code) return <ShownCode controller={controller} code={code} />;
	return (
		<div class="stack">
			<div class="actions">
				<button type="button" class="primary" disabled={show.busy} onClick={() => void show.run()}>
					{show.busy ? "Making a code…" : "Link a new device"}
				</button>
			</div>
			<ErrorLine text={show.error} />
		</div>
	);
}

/** A new device claimed the code shown here: the person compares its fingerprint with the one on its screen. */
function LinkRequestCard({ controller, request }: { controller: MessengerController; request: LinkRequest }) {
	const { device, fingerprint } = request;
	// Most people link a device to use it like this one: with the conversations they have.
	const [history, setHistory] = useState(true);
	const action = useAction(
		(approve: boolean) => (approve ? controller.approveDevice(device.deviceId, { history }) : controller.rejectDevice(device.deviceId)),
		(err) => errorText(err, "device"),
	);
	return (
		<li class="device pending" data-testid="link-request" aria-labelledby={`link-${device.deviceId}`}>
			<h3 id={`link-${device.deviceId}`}>Link “{device.name}”?</h3>
			<p>It used your link code {formatWhen(device.createdAt)}. Approve it only if it is yours and its screen shows the same number:</p>
			<p class="fingerprint" data-testid="link-request-fingerprint">
				<span class="visually-hidden">Fingerprint: </span>
				{fingerprint}
			</p>
			<p class="hint">An approved device receives your new messages and can link or remove other devices.</p>
			<label class="checkbox">
				<input
					type="checkbox"
					name="transferHistory"
					checked={history}
					aria-describedby={`history-hint-${device.deviceId}`}
					onChange={(e) => setHistory(e.currentTarget.checked)}
				/>
				Transfer message history to this device
			</label>
			<p class="hint" id={`history-hint-${device.deviceId}`}>
				Your messages, and the files opened in this browser, go to it end-to-end encrypted. The server cannot read them, and deletes them
				once imported, or after an hour.
			</p>
			<div class="actions">
				<button type="button" class="primary" disabled={action.busy} onClick={() => void action.run(true)}>
					Approve “{device.name}”
				</button>
				<button type="button" class="danger" disabled={action.busy} onClick={() => void action.run(false)}>
					Reject
				</button>
			</div>
			<ErrorLine text={action.error} />
		</li>
	);
}

/**
 * A pending device that claimed a code this page did not show (another device did, or this one
 * before a reload, which lost the code's secret): approved there if at all; turned away from anywhere.
 */
function PendingElsewhere({ controller, device }: { controller: MessengerController; device: DeviceInfo }) {
	const action = useAction(
		() => controller.rejectDevice(device.deviceId),
		(err) => errorText(err, "device"),
	);
	return (
		<li class="device pending" data-testid="pending-device">
			<h3>{device.name}</h3>
			<p>
				Waits since {formatWhen(device.createdAt)} for approval on the device that showed its link code. If that page was closed, the code's
				secret went with it: reject this device and link it again with a new code.
			</p>
			<p class="fingerprint">{fingerprintOf(device)}</p>
			<div class="actions">
				<button type="button" class="danger" disabled={action.busy} onClick={() => void action.run()}>
					Reject
				</button>
			</div>
			<ErrorLine text={action.error} />
		</li>
	);
}

function ApprovedDevice({
	controller,
	device,
	self,
	connection,
}: {
	controller: MessengerController;
	device: OwnDevice;
	self: boolean;
	connection: Connection;
}) {
	const [confirming, setConfirming] = useState(false);
	const presence = devicePresence(device, self, connection);
	const [lost, setLost] = useState(false);
	const action = useAction(
		() => controller.revokeDevice(device.deviceId, { resetIdentity: lost }),
		(err) => errorText(err, "device"),
	);
	return (
		<li class={`device${device.certified ? "" : " uncertified"}`} data-certified={String(device.certified)}>
			<h3>
				{device.name} {self && <span class="tag">this device</span>}
			</h3>
			{!device.certified && (
				<p class="warning" role="alert">
					Not certified by your account — the server lists a device you never approved; remove it.
				</p>
			)}
			<dl class="facts">
				<dt>Added</dt>
				<dd>{formatWhen(device.createdAt)}</dd>
				<dt>{presence.term}</dt>
				<dd data-testid="device-presence">{presence.text}</dd>
				<dt>Fingerprint</dt>
				<dd class="fingerprint">{fingerprintOf(device)}</dd>
			</dl>
			{!self &&
				(confirming ? (
					<div class="actions">
						<label class="checkbox">
							<input type="checkbox" checked={lost} onChange={(e) => setLost((e.target as HTMLInputElement).checked)} />
							It was lost or stolen: also replace the account’s identity key (your contacts will see a new safety number)
						</label>
						<button type="button" class="danger" disabled={action.busy} onClick={() => void action.run()}>
							Yes, remove “{device.name}”
						</button>
						<button type="button" onClick={() => setConfirming(false)}>
							Cancel
						</button>
					</div>
				) : (
					<button type="button" class="danger" onClick={() => setConfirming(true)}>
						Remove…
					</button>
				))}
			{confirming && !action.error && <p class="hint">It stops working at once, and every conversation gets a new key.</p>}
			<ErrorLine text={action.error} />
		</li>
	);
}

export function DevicesPanel({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	useEffect(() => {
		void controller.refreshDevices();
		void controller.loadRecovery();
	}, [controller]);
	const devices = state.devices;
	const asked = new Set(state.linkRequests.map((r) => r.device.deviceId));
	const pending = (devices ?? []).filter((d) => d.status === "pending" && !asked.has(d.deviceId));
	const approved = (devices ?? []).filter((d) => d.status === "approved");
	const revoked = (devices ?? []).filter((d) => d.status === "revoked");
	const me = state.me?.deviceId;
	return (
		<section class="panel" aria-labelledby="devices-title">
			<h2 id="devices-title">Devices</h2>
			{state.linkRequests.length > 0 && (
				<ul class="device-list" aria-label="Devices asking to be linked">
					{state.linkRequests.map((r) => (
						<LinkRequestCard key={r.device.deviceId} controller={controller} request={r} />
					))}
				</ul>
			)}
			<LinkNewDevice controller={controller} code={state.linkCode} />
			{!devices ? (
				<p class="empty">Loading devices…</p>
			) : (
				<>
					{pending.length > 0 && (
						<>
							<h3 class="section-title">Waiting for approval</h3>
							<ul class="device-list">
								{pending.map((d) => (
									<PendingElsewhere key={d.deviceId} controller={controller} device={d} />
								))}
							</ul>
						</>
					)}
					<h3 class="section-title">Signed in</h3>
					<ul class="device-list">
						{approved.map((d) => (
							<ApprovedDevice key={d.deviceId} controller={controller} device={d} self={d.deviceId === me} connection={state.connection} />
						))}
					</ul>
					{me !== undefined && (
						<SignOut controller={controller} handle={state.me?.handle ?? ""} risk={signOutRisk(devices, me, state.recovery)} />
					)}
					{state.me && <DeleteAccount controller={controller} handle={state.me.handle} />}
					{revoked.length > 0 && (
						<details>
							<summary>Removed devices ({revoked.length})</summary>
							<ul class="device-list">
								{revoked.map((d) => (
									<li key={d.deviceId} class="device revoked">
										{d.name}, added {formatWhen(d.createdAt)}
									</li>
								))}
							</ul>
						</details>
					)}
				</>
			)}
			<ReadReceiptChoice controller={controller} state={state} />
			<NotificationSettings />
			<RecoverySettings controller={controller} state={state} />
		</section>
	);
}

/** The last step of something that cannot be undone: do it, or go back; and why it failed. */
function ConfirmOrCancel(props: { label: string; disabled: boolean; error: string | null; onConfirm: () => void; onCancel: () => void }) {
	return (
		<>
			<div class="actions">
				<button type="button" class="danger" disabled={props.disabled} onClick={props.onConfirm}>
					{props.label}
				</button>
				<button type="button" onClick={props.onCancel}>
					Cancel
				</button>
			</div>
			<ErrorLine text={props.error} />
		</>
	);
}

const SIGN_OUT_WARNING: Record<SignOutRisk, string> = {
	other_devices: "Your other devices keep working. To use this browser again, link it from one of them.",
	recovery_key:
		"This is your account's only device. To use the account again, you will need its recovery key (the 12 words) on a new device.",
	account_lost:
		"This is your account's only device and the account has no recovery key: once this device is signed out, nobody can use the account again, not even you. Make a recovery key first (below), or link another device.",
};

/**
 * Sign this device out: it leaves the account and its keys and messages are deleted from this
 * browser, after a warning that says what that costs. Losing the account needs a tick first.
 */
function SignOut({ controller, handle, risk }: { controller: MessengerController; handle: string; risk: SignOutRisk }) {
	const [confirming, setConfirming] = useState(false);
	const [understood, setUnderstood] = useState(false);
	const action = useAction(
		() => controller.signOut().then(() => location.reload()),
		(err) => errorText(err, "device"),
	);
	if (!confirming) {
		return (
			<div class="actions">
				<button type="button" class="danger" onClick={() => setConfirming(true)}>
					Sign out of this device…
				</button>
			</div>
		);
	}
	const lost = risk === "account_lost";
	return (
		<section class="stack sign-out" aria-labelledby="sign-out-title">
			<h3 id="sign-out-title" class="section-title">
				Sign out of this device
			</h3>
			<p>This device leaves @{handle}, and its keys and messages are deleted from this browser.</p>
			<p class={lost ? "warning" : "hint"} role={lost ? "alert" : undefined} data-testid="sign-out-warning">
				{SIGN_OUT_WARNING[risk]}
			</p>
			{lost && (
				<label class="checkbox">
					<input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.currentTarget.checked)} /> I understand that @
					{handle} will be lost for good
				</label>
			)}
			<ConfirmOrCancel
				label="Yes, sign out"
				disabled={action.busy || (lost && !understood)}
				error={action.error}
				onConfirm={() => void action.run()}
				onCancel={() => setConfirming(false)}
			/>
		</section>
	);
}

/**
 * Delete the account for good: every device, contact, key and message the server holds, and
 * this device's data. The handle must be typed again, so that it is never one click away.
 */
function DeleteAccount({ controller, handle }: { controller: MessengerController; handle: string }) {
	const [confirming, setConfirming] = useState(false);
	const [typed, setTyped] = useState("");
	const action = useAction(
		() => controller.deleteAccount(typed.trim().replace(/^@/, "")).then(() => location.reload()),
		(err) => errorText(err, "device"),
	);
	if (!confirming) {
		return (
			<div class="actions">
				<button type="button" class="danger" onClick={() => setConfirming(true)}>
					Delete account…
				</button>
			</div>
		);
	}
	const matches = typed.trim().replace(/^@/, "").toLowerCase() === handle;
	return (
		<section class="stack delete-account" aria-labelledby="delete-account-title">
			<h3 id="delete-account-title" class="section-title">
				Delete @{handle}
			</h3>
			<p class="warning">
				Every device of the account is signed out, your contacts see that the account is gone, and the server deletes everything it holds of
				it. It cannot be undone, not even with the recovery key.
			</p>
			<label>
				Type {handle} to confirm
				<input autocomplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
			</label>
			<ConfirmOrCancel
				label={`Delete @${handle} for good`}
				disabled={!matches || action.busy}
				error={action.error}
				onConfirm={() => void action.run()}
				onCancel={() => setConfirming(false)}
			/>
		</section>
	);
}

/** Whether this device tells contacts that their messages were seen. */
function ReadReceiptChoice({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	return (
		<div class="stack">
			<h3 class="section-title">Privacy on this device</h3>
			<label class="checkbox">
				<input
					type="checkbox"
					checked={state.sendReadReceipts}
					aria-describedby="read-receipts-hint"
					onChange={(e) => controller.setReadReceipts(e.currentTarget.checked)}
				/>{" "}
				Send read receipts
			</label>
			<p id="read-receipts-hint" class="hint">
				When on, your contacts see "Read" once you have opened their messages here. The receipt is sealed like a message: the server cannot
				read or forge it.
			</p>
		</div>
	);
}
