import { encode } from "uqr";

/**
 * The modules of a QR code of `text`, with its quiet zone: true for dark. Error correction M
 * (15%): a screenshot or a photo of a screen loses little, and a bigger code reads worse from
 * afar. The quiet zone of four modules is what the standard asks for; scanners need it.
 */
export function qrMatrix(text: string): boolean[][] {
	return encode(text, { ecc: "M", border: 4 }).data;
}

/**
 * One SVG path over every dark module, as `M x y h1 v1 h-1 z` squares: one element rather
 * than hundreds, and nothing but numbers goes into it.
 */
export function qrPath(matrix: readonly (readonly boolean[])[]): string {
	const parts: string[] = [];
	matrix.forEach((row, y) => {
		row.forEach((dark, x) => {
			if (dark) parts.push(`M${x} ${y}h1v1h-1z`);
		});
	});
	return parts.join("");
}
