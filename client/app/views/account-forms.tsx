import { useState } from "preact/hooks";
import { errorText } from "../error-text.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { DeviceNameField, guessDeviceName } from "./device-name-field.tsx";
import { ErrorLine } from "./error-line.tsx";
import { LinkDeviceForm } from "./link-device-form.tsx";
import { RestoreAccountForm } from "./recovery-key.tsx";

interface FormProps {
	controller: MessengerController;
	/** The widget asks only for a handle and names the device itself. */
	fixedDeviceName?: string;
	/** The web app makes the recovery key right after the account and shows its words. */
	recovery?: boolean;
}

/** A new account with this browser as its first device. */
export function CreateAccountForm({ controller, fixedDeviceName, recovery = false }: FormProps) {
	const [handle, setHandle] = useState("");
	const [deviceName, setDeviceName] = useState(guessDeviceName());
	const action = useAction(
		(h: string, d: string) => controller.register(h, d, { recovery }),
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
			{fixedDeviceName === undefined && <DeviceNameField value={deviceName} onInput={setDeviceName} />}
			<p class="hint">Your keys are made in this browser and never leave it. The server only ever sees encrypted messages.</p>
			<ErrorLine text={action.error} />
			<button type="submit" class="primary" disabled={action.busy}>
				{action.busy ? "Creating keys…" : "Create account"}
			</button>
		</form>
	);
}

type StartMode = "create" | "join" | "restore";

/** First start on this device: create an account, add this device to one with a link code, or bring one back with its recovery key. */
export function Welcome({ controller }: { controller: MessengerController }) {
	const [mode, setMode] = useState<StartMode>("create");
	const tab = (which: StartMode, label: string) => (
		<button type="button" aria-pressed={mode === which} onClick={() => setMode(which)}>
			{label}
		</button>
	);
	return (
		<section class="welcome card" aria-labelledby="welcome-title">
			<h1 id="welcome-title">Secure Messaging</h1>
			<p>End-to-end encrypted chat. Nothing readable ever reaches the server.</p>
			<fieldset class="tabs">
				<legend class="visually-hidden">How to start</legend>
				{tab("create", "New account")}
				{tab("join", "Add this device")}
				{tab("restore", "Sign in with your recovery key")}
			</fieldset>
			{mode === "create" && <CreateAccountForm controller={controller} recovery />}
			{mode === "join" && <LinkDeviceForm controller={controller} />}
			{mode === "restore" && <RestoreAccountForm controller={controller} />}
			<p class="hint lost-everything" data-testid="lost-everything">
				Lost every device and the recovery key too? Then nobody can recover the account — not us, not the server: no one can prove it is
				yours, because only your keys could. A new account is then the only way.
			</p>
		</section>
	);
}

/**
 * A linked device waits here until the device that showed the code approves it. That device
 * shows this device's fingerprint next to its name: the same number on both screens means the
 * relay did not swap this device for another.
 */
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
				The device that showed the link code for <strong>@{handle}</strong> now asks whether to link this one. Approve it there only if it
				shows this number:
			</p>
			<p class="fingerprint" data-testid="own-fingerprint">
				{fingerprint}
			</p>
			<p class="hint">This page opens your account on its own once the device is approved.</p>
			<button type="button" class="link" onClick={() => void controller.forgetDevice().then(() => location.reload())}>
				Cancel and forget this device
			</button>
		</section>
	);
}
