/**
 * Reading a QR code from pixels (picture-pixels.ts gets them from a picture or a camera frame).
 * The decoder (jsQR) is loaded on first use: most sessions never scan, and it is the biggest
 * part of this feature. No DOM here, so that it runs in Node's tests as it does in the page.
 */

/** Larger pictures are scaled down first: a phone photo has ten times the pixels a QR code needs, and jsQR's time grows with them. */
export const MAX_SCAN_SIDE = 1200;

type Decoder = typeof import("jsqr").default;
let decoder: Promise<Decoder> | null = null;

function loadDecoder(): Promise<Decoder> {
	decoder ??= import("jsqr").then((m) => m.default);
	return decoder;
}

/** The text of a QR code in RGBA pixels, or null if none is found. Dark-on-light and light-on-dark (a dark theme) both read. */
export async function decodeQr(pixels: { data: Uint8ClampedArray; width: number; height: number }): Promise<string | null> {
	const jsQR = await loadDecoder();
	return jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "attemptBoth" })?.data ?? null;
}

/** The width and height to scale a picture to, so that neither side exceeds MAX_SCAN_SIDE. */
export function scanSize(width: number, height: number): { width: number; height: number } {
	const scale = Math.min(1, MAX_SCAN_SIDE / Math.max(width, height));
	return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
