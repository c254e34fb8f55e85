/**
 * What a safety number's QR code holds, and how a scanned one compares. The prefix tells a
 * safety number code from any other QR code (a link, a link code), so a wrong picture reads
 * as "not a safety number" rather than as a mismatch; the version in it follows the SDK's
 * "sm-safety-number/2". Upper case, digits and ":" only, so the QR code is alphanumeric and small.
 */
const PREFIX = "SM-SAFETY-NUMBER-2:";
const DIGITS = 60;

/** The text of the QR code of a safety number ("12345 67890 …", as the SDK gives it). */
export function safetyCodeText(safetyNumber: string): string {
	return PREFIX + safetyNumber.replace(/\s+/g, "");
}

/** The 60 digits of a scanned safety number code, or null when the text is not one. */
export function readSafetyCode(text: string): string | null {
	const trimmed = text.trim().toUpperCase();
	if (!trimmed.startsWith(PREFIX)) return null;
	const digits = trimmed.slice(PREFIX.length);
	return new RegExp(`^\\d{${DIGITS}}$`).test(digits) ? digits : null;
}

export type SafetyComparison = "match" | "mismatch" | "not_a_code";

/**
 * A scanned code against the number this device computed. Both sides compute the same 60
 * digits (each account's half in a fixed order), so the other person's code must equal ours.
 */
export function compareSafetyCode(scanned: string, expected: string): SafetyComparison {
	const digits = readSafetyCode(scanned);
	if (digits === null) return "not_a_code";
	return digits === expected.replace(/\s+/g, "") ? "match" : "mismatch";
}
