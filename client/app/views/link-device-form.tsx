import { useState } from "preact/hooks";
import { errorText } from "../error-text.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { DeviceNameField, guessDeviceName } from "./device-name-field.tsx";
import { ErrorLine } from "./error-line.tsx";
import { QrScanner } from "./qr-scanner.tsx";

/**
 * Add this browser to an account: the one-time link code a device of that account shows
 * (typed, or read from its QR code), and a name for this device. The code is the only way in:
 * knowing someone's handle is not enough to ask to join their account.
 */
export function LinkDeviceForm({ controller }: { controller: MessengerController }) {
	const [code, setCode] = useState("");
	const [deviceName, setDeviceName] = useState(guessDeviceName());
	const action = useAction(
		(c: string, d: string) => controller.link(c, d),
		(err) => errorText(err, "link"),
	);
	return (
		<form
			class="stack"
			aria-label="Add this device"
			onSubmit={(e) => {
				e.preventDefault();
				void action.run(code.trim(), deviceName.trim());
			}}
		>
			<p>
				On a device already signed in, open <em>Devices</em> and choose <em>Link a new device</em>. Type the code it shows, or scan it.
			</p>
			<label>
				Link code
				<input
					name="linkCode"
					value={code}
					onInput={(e) => setCode(e.currentTarget.value)}
					placeholder="alice-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A"
					autocomplete="off"
					autocapitalize="none"
					spellcheck={false}
					required
					aria-describedby="link-code-hint"
				/>
			</label>
			<p id="link-code-hint" class="hint">
				Upper or lower case, with or without dashes. The code works once, for a few minutes.
			</p>
			<QrScanner pictureLabel="Read the code from a picture" onText={(text) => setCode(text.trim())} disabled={action.busy} />
			<DeviceNameField value={deviceName} onInput={setDeviceName} />
			<ErrorLine text={action.error} />
			<button type="submit" class="primary" disabled={action.busy}>
				{action.busy ? "Linking…" : "Link this device"}
			</button>
		</form>
	);
}
