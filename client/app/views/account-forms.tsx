import { useState } from "preact/hooks";
import { type ErrorContext, errorText } from "../error-text.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";

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

/** A handle and a device name, then one action: what creating an account and joining one share. */
function HandleAndDeviceForm(props: {
	label: string;
	handleLabel: string;
	/** Check the handle's form in the browser (a new handle); an existing one is looked up instead. */
	newHandle: boolean;
	fixedDeviceName?: string | undefined;
	hint: string;
	submit: string;
	busy: string;
	run: (handle: string, deviceName: string) => Promise<unknown>;
	errorContext: ErrorContext;
}) {
	const [handle, setHandle] = useState("");
	const [deviceName, setDeviceName] = useState(guessDeviceName());
	const action = useAction(props.run, (err) => errorText(err, props.errorContext));
	return (
		<form
			class="stack"
			aria-label={props.label}
			onSubmit={(e) => {
				e.preventDefault();
				void action.run(handle.trim(), props.fixedDeviceName ?? deviceName.trim());
			}}
		>
			<label>
				{props.handleLabel}
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
					{...(props.newHandle && { pattern: "[A-Za-z0-9_]{3,32}", title: "3 to 32 letters, digits or underscores" })}
				/>
			</label>
			{props.fixedDeviceName === undefined && (
				<label>
					Name this device
					<input name="deviceName" value={deviceName} onInput={(e) => setDeviceName(e.currentTarget.value)} required maxLength={64} />
				</label>
			)}
			<p class="hint">{props.hint}</p>
			<ErrorLine text={action.error} />
			<button type="submit" class="primary" disabled={action.busy}>
				{action.busy ? props.busy : props.submit}
			</button>
		</form>
	);
}

export function CreateAccountForm({ controller, fixedDeviceName }: FormProps) {
	return (
		<HandleAndDeviceForm
			label="Create an account"
			handleLabel="Choose a handle"
			newHandle
			fixedDeviceName={fixedDeviceName}
			hint="Your keys are made in this browser and never leave it. The server only ever sees encrypted messages."
			submit="Create account"
			busy="Creating keys…"
			run={(h, d) => controller.register(h, d)}
			errorContext="register"
		/>
	);
}

export function JoinAccountForm({ controller }: FormProps) {
	return (
		<HandleAndDeviceForm
			label="Sign in on this device"
			handleLabel="Your handle"
			newHandle={false}
			hint="One of your signed-in devices must approve this one. It then receives new messages; old ones stay on the other devices."
			submit="Ask to join"
			busy="Asking…"
			run={(h, d) => controller.join(h, d)}
			errorContext="join"
		/>
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
