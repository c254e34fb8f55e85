/** An error for the control it sits under, read out by screen readers; nothing when there is none. */
export function ErrorLine({ text }: { text: string | null | undefined }) {
	if (!text) return null;
	return (
		<p class="error" role="alert">
			{text}
		</p>
	);
}
