import { useEffect, useState } from "preact/hooks";
import { fromB64u } from "../../../common/encoding.ts";
import type { DeviceInfo } from "../../../common/protocol/wire.ts";
import { deviceFingerprint } from "../../core/safety-number.ts";
import { errorText } from "../error-text.ts";
import { formatWhen } from "../format.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";

const fingerprintOf = (device: DeviceInfo): string => deviceFingerprint(fromB64u(device.publicKey));

function PendingDevice({ controller, device }: { controller: MessengerController; device: DeviceInfo }) {
	const action = useAction(
		(approve: boolean) => (approve ? controller.approveDevice(device.deviceId) : controller.rejectDevice(device.deviceId)),
		(err) => errorText(err, "device"),
	);
	return (
		<li class="device pending" data-testid="pending-device">
			<h3>{device.name}</h3>
			<p>Asked to join {formatWhen(device.createdAt)}. Approve it only if it is yours and shows the same number:</p>
			<p class="fingerprint">{fingerprintOf(device)}</p>
			<p class="hint">An approved device receives your new messages and can approve or remove other devices.</p>
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

function ApprovedDevice({ controller, device, self }: { controller: MessengerController; device: DeviceInfo; self: boolean }) {
	const [confirming, setConfirming] = useState(false);
	const action = useAction(
		() => controller.revokeDevice(device.deviceId),
		(err) => errorText(err, "device"),
	);
	return (
		<li class="device">
			<h3>
				{device.name} {self && <span class="tag">this device</span>}
			</h3>
			<dl class="facts">
				<dt>Added</dt>
				<dd>{formatWhen(device.createdAt)}</dd>
				<dt>Last seen</dt>
				<dd>{self ? "now" : device.lastSeenAt === undefined ? "not yet" : formatWhen(device.lastSeenAt)}</dd>
				<dt>Fingerprint</dt>
				<dd class="fingerprint">{fingerprintOf(device)}</dd>
			</dl>
			{!self &&
				(confirming ? (
					<div class="actions">
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
	}, [controller]);
	const devices = state.devices;
	if (!devices) return <p class="empty">Loading devices…</p>;
	const pending = devices.filter((d) => d.status === "pending");
	const approved = devices.filter((d) => d.status === "approved");
	const revoked = devices.filter((d) => d.status === "revoked");
	const me = state.me?.deviceId;
	return (
		<section class="panel" aria-labelledby="devices-title">
			<h2 id="devices-title">Devices</h2>
			{pending.length > 0 && (
				<>
					<h3 class="section-title">Waiting for approval</h3>
					<ul class="device-list">
						{pending.map((d) => (
							<PendingDevice key={d.deviceId} controller={controller} device={d} />
						))}
					</ul>
				</>
			)}
			<h3 class="section-title">Signed in</h3>
			<ul class="device-list">
				{approved.map((d) => (
					<ApprovedDevice key={d.deviceId} controller={controller} device={d} self={d.deviceId === me} />
				))}
			</ul>
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
			<p class="hint">To add a device, open this app on it and choose “Add this device”.</p>
		</section>
	);
}
