/**
 * The pixels of what the person shows the app to scan: a picture they chose (a screenshot of
 * the other person's code, a photo of their screen) or a frame of the camera.
 */
import { decodeQr, scanSize } from "./qr-decode.ts";

/** The pixels of an image or video frame, drawn on a canvas at scanSize. */
export function pixelsOf(source: CanvasImageSource, width: number, height: number): ImageData {
	const size = scanSize(width, height);
	const canvas = document.createElement("canvas");
	canvas.width = size.width;
	canvas.height = size.height;
	const context = canvas.getContext("2d", { willReadFrequently: true });
	if (!context) throw new Error("This browser cannot read pictures here.");
	context.drawImage(source, 0, 0, size.width, size.height);
	return context.getImageData(0, 0, size.width, size.height);
}

/**
 * The text of the QR code in a picture file, or null if it has none. Decoded with
 * createImageBitmap, so the picture never becomes a URL the page loads.
 */
export async function decodeQrFile(file: Blob): Promise<string | null> {
	const bitmap = await createImageBitmap(file);
	try {
		return await decodeQr(pixelsOf(bitmap, bitmap.width, bitmap.height));
	} finally {
		bitmap.close();
	}
}
