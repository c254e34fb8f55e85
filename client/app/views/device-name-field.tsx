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

/** The name this device goes by in the account's device list (and on the screen that approves it). */
export function DeviceNameField({ value, onInput }: { value: string; onInput: (value: string) => void }) {
	return (
		<label>
			Name this device
			<input name="deviceName" value={value} onInput={(e) => onInput(e.currentTarget.value)} required maxLength={64} />
		</label>
	);
}
