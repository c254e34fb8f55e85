/**
 * A link code as the person reads it: "alice-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A" is the handle, then
 * four groups of six. Shown in groups so it can be read out or typed in chunks; the SDK reads
 * it back with or without the dashes, in any case.
 */
export function linkCodeGroups(code: string): { handle: string; groups: string[] } {
	const parts = code.split("-");
	// A handle has no dash, so the first part is the whole handle.
	return { handle: parts[0] ?? "", groups: parts.slice(1) };
}

/** "9:41": minutes and seconds left, for a code's countdown; "0:00" once it is over. */
export function formatCountdown(ms: number): string {
	const total = Math.max(0, Math.ceil(ms / 1000));
	return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}
