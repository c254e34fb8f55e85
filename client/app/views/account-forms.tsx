import { useState } from "preact/hooks";
import { errorText } from "../error-text.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";

/** "Firefox on Android" and the like, as a default name for this device. */
export function guessDeviceName(): string {
	const ua = navigator.userAgent;
	const browser = /Edg\//.test(ua)
		? "Edge"
		: /Firefox\//.test(ua)
			? "Firefox"
			: /Chrome\//.test(ua)
				? "Chrome"
				: /Safari\//.test(ua)
					? "Safari"
					: "Browser";
	const system = /Android/.test(ua)
		? "Android"
		: /iPhone|iPad/.test(ua)
			? "iOS"
			: /Mac OS X/.test(ua)
				? "macOS"
				: /Windows/.test(ua)
					? "Windows"
					: /Linux/.test(ua)
						? "Linux"
						: "";
	return system ? `${browser} on ${system}` : browser;
}

interface FormProps {
	controller: MessengerController;
	/** The widget asks only for a handle and names the device itself. */
	fixedDeviceName?: string;
}

export function CreateAccountForm({ controller, fixedDeviceName }: FormProps) {
	const [handle, setHandle] = useState("");
	const [deviceName, setDeviceName] = useState(guessDeviceName());
	const action = useAction(
		(h: string, d: string) => controller.register(h, d),
		(err) => errorText(err, "register"),
	);
	return (
		<form
			class="stack"
			aria-label="Create an account"
			onSubmit={(e) => {
				e.preventDefault();
				void action.run(handle.trim(), fixedDeviceName ?? deviceName.trim());
			}}
		>
			<label>
				Choose a handle
				<input
					name="handle"
					value={handle}
					onInput={(e) => setHandle(e.currentTarget.value)}
					autocomplete="username"
					autocapitalize="none"
					spellcheck={false}
					required
					minLength={3}
					maxLength={32}
					pattern="[A-Za-z0-9_]{3,32}"
					title="3 to 32 letters, digits or underscores"
				/>
			</label>
			{fixedDeviceName === undefined && (
				<label>
					Name this device
					<input name="deviceName" value={deviceName} onInput={(e) => setDeviceName(e.currentTarget.value)} required maxLength={64} />
				</label>
			)}
			<p class="hint">Your keys are made in this browser and never leave it. The server only ever sees encrypted messages.</p>
			{action.error && (
				<p class="error" role="alert">
					{action.error}
				</p>
			)}
			<button type="submit" class="primary" disabled={action.busy}>
				{action.busy ? "Creating keys…" : "Create account"}
			</button>
		</form>
	);
}

export function JoinAccountForm({ controller }: FormProps) {
	const [handle, setHandle] = useState("");
	const [deviceName, setDeviceName] = useState(guessDeviceName());
	const action = useAction(
		(h: string, d: string) => controller.join(h, d),
		(err) => errorText(err, "join"),
	);
	return (
		<form
			class="stack"
			aria-label="Sign in on this device"
			onSubmit={(e) => {
				e.preventDefault();
				void action.run(handle.trim(), deviceName.trim());
			}}
		>
			<label>
				Your handle
				<input
					name="handle"
					value={handle}
					onInput={(e) => setHandle(e.currentTarget.value)}
					autocomplete="username"
					autocapitalize="none"
					spellcheck={false}
					required
					minLength={3}
					maxLength={32}
				/>
			</label>
			<label>
				Name this device
				<input name="deviceName" value={deviceName} onInput={(e) => setDeviceName(e.currentTarget.value)} required maxLength={64} />
			</label>
			<p class="hint">
				One of your signed-in devices must approve this one. It then receives new messages; old ones stay on the other devices.
			</p>
			{action.error && (
				<p class="error" role="alert">
					{action.error}
				</p>
			)}
			<button type="submit" class="primary" disabled={action.busy}>
				{action.busy ? "Asking…" : "Ask to join"}
			</button>
		</form>
	);
}

/** First start on this device: create an account, or join one as a new device. */
export function Welcome({ controller }: { controller: MessengerController }) {
	const [mode, setMode] = useState<"create" | "join">("create");
	return (
		<section class="welcome card" aria-labelledby="welcome-title">
			<h1 id="welcome-title">Secure Messaging</h1>
			<p>End-to-end encrypted chat. Nothing readable ever reaches the server.</p>
			<fieldset class="tabs">
				<legend class="visually-hidden">How to start</legend>
				<button type="button" aria-pressed={mode === "create"} onClick={() => setMode("create")}>
					New account
				</button>
				<button type="button" aria-pressed={mode === "join"} onClick={() => setMode("join")}>
					Add this device
				</button>
			</fieldset>
			{mode === "create" ? <CreateAccountForm controller={controller} /> : <JoinAccountForm controller={controller} />}
		</section>
	);
}

/** A joined device waits here until another device of the account approves it. */
export function PendingApproval({
	controller,
	fingerprint,
	handle,
}: {
	controller: MessengerController;
	fingerprint: string | null;
	handle: string;
}) {
	return (
		<section class="welcome card" aria-labelledby="pending-title" aria-live="polite">
			<h1 id="pending-title">Waiting for approval</h1>
			<p>
				Open Secure Messaging on a device already signed in as <strong>@{handle}</strong>, go to <em>Devices</em> and approve this device.
			</p>
			<p>Check that the approving device shows this number for it:</p>
			<p class="fingerprint" data-testid="own-fingerprint">
				{fingerprint}
			</p>
			<p class="hint">This page continues on its own once the device is approved.</p>
			<button type="button" class="link" onClick={() => void controller.forgetDevice().then(() => location.reload())}>
				Cancel and forget this device
			</button>
		</section>
	);
}
