/**
 * QR codes as a camera or a photo would bring them to the app, drawn with the app's own
 * encoder (client/app/qr/qr-matrix.ts): a PNG to upload, and a Y4M video for Chromium's fake
 * camera (--use-file-for-fake-video-capture), which it reads when a page opens the camera.
 */
import { qrMatrix } from "../../client/app/qr/qr-matrix.ts";
import { png } from "./tiny-png.ts";

/** A picture of a QR code of `text`, `scale` pixels a module. */
export function qrPng(text: string, scale = 6): Buffer {
	const matrix = qrMatrix(text);
	const side = matrix.length * scale;
	return png(side, side, (x, y) => (matrix[Math.floor(y / scale)]?.[Math.floor(x / scale)] ? [0, 0, 0] : [255, 255, 255]));
}

/**
 * One frame of 640 × 480 (Chromium loops it) with a QR code of `text` in the middle, as a
 * camera held up to another screen sees it: YUV 4:2:0, grey only (U and V at 128).
 */
export function qrVideo(text: string, width = 640, height = 480): Buffer {
	const matrix = qrMatrix(text);
	const scale = Math.floor(Math.min(width, height) / matrix.length);
	const left = Math.floor((width - matrix.length * scale) / 2);
	const top = Math.floor((height - matrix.length * scale) / 2);
	const luma = Buffer.alloc(width * height, 255);
	for (let y = 0; y < matrix.length * scale; y++) {
		for (let x = 0; x < matrix.length * scale; x++) {
			if (matrix[Math.floor(y / scale)]?.[Math.floor(x / scale)]) luma[(top + y) * width + left + x] = 0;
		}
	}
	const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
	return Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\nFRAME\n`), luma, chroma]);
}
