import type { ComponentChildren } from "preact";

/** Line icons (24 × 24, stroked in the text colour); each is decoration next to a written or hidden name. */
function Icon({ children }: { children: ComponentChildren }) {
	return (
		<svg
			aria-hidden="true"
			viewBox="0 0 24 24"
			width="22"
			height="22"
			fill="none"
			stroke="currentColor"
			stroke-width="2"
			stroke-linecap="round"
			stroke-linejoin="round"
		>
			{children}
		</svg>
	);
}

export const PhoneIcon = () => (
	<Icon>
		<path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z" />
	</Icon>
);

export const CameraIcon = () => (
	<Icon>
		<path d="M23 7l-7 5 7 5V7z" />
		<rect x="1" y="5" width="15" height="14" rx="2" />
	</Icon>
);

export const InfoIcon = () => (
	<Icon>
		<circle cx="12" cy="12" r="10" />
		<path d="M12 16v-5M12 8h.01" />
	</Icon>
);

export const MicIcon = () => (
	<Icon>
		<rect x="9" y="2" width="6" height="12" rx="3" />
		<path d="M5 10v1a7 7 0 0 0 14 0v-1M12 18v4" />
	</Icon>
);

export const MicOffIcon = () => (
	<Icon>
		<path d="M2 2l20 20M9 9v2a3 3 0 0 0 5.1 2.1M15 9.3V5a3 3 0 0 0-5.9-.8" />
		<path d="M17 16.9A7 7 0 0 1 5 11v-1M19 10v1a7 7 0 0 1-.1 1.2M12 18v4" />
	</Icon>
);

export const ScreenIcon = () => (
	<Icon>
		<rect x="2" y="3" width="20" height="14" rx="2" />
		<path d="M8 21h8M12 17v4" />
	</Icon>
);

export const HangUpIcon = () => (
	<Icon>
		<path d="M3 15.5c5-4.7 13-4.7 18 0l-2 2.5-3.5-1.5V14a11 11 0 0 0-7 0v2.5L5 18z" />
	</Icon>
);
