/**
 * A file name from a sealed message is the sender's to choose, so before it is shown or
 * becomes a download's name it is made into one that says what it is: no path (a browser
 * takes only the last part, but a name like "..\\..\\x" should not even look like one), no
 * control or invisible formatting characters (a right-to-left override makes
 * "photo‮gpj.exe" read as "photoexe.jpg"), none of the characters Windows refuses, no
 * reserved device name, and not so long that the extension is cut off by the system.
 */

/** Control, format (bidi overrides and isolates, zero-width, BOM) and line/paragraph separator characters. */
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
/** Path separators and the characters Windows does not allow in a file name. */
const FORBIDDEN = /[/\\<>:"|?*]/g;
/** Names Windows keeps for devices, with or without an extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
/** Code points; at most 4 bytes each in UTF-8, so a name stays under the 255 bytes of an extension-4 or NTFS name with room to spare. */
const MAX_LENGTH = 120;
const FALLBACK = "file";

export function safeFileName(raw: string): string {
	let name = raw.normalize("NFC").replace(INVISIBLE, "").replace(FORBIDDEN, "_").replace(/\s+/g, " ");
	// Leading dots would hide the file on Unix; trailing dots and spaces are dropped by Windows.
	name = name.replace(/^[\s.]+/, "").replace(/[\s.]+$/, "");
	if (RESERVED.test(name)) name = `_${name}`;
	if (Array.from(name).length > MAX_LENGTH) {
		const dot = name.lastIndexOf(".");
		const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
		// Cut by code points, so no surrogate pair is split.
		name = `${Array.from(name.slice(0, name.length - extension.length))
			.slice(0, MAX_LENGTH - extension.length)
			.join("")}${extension}`;
	}
	return name === "" ? FALLBACK : name;
}
