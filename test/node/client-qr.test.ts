import { describe, expect, it } from "vitest";
import { decodeQr, MAX_SCAN_SIDE, scanSize } from "../../client/app/qr/qr-decode.ts";
import { qrMatrix, qrPath } from "../../client/app/qr/qr-matrix.ts";
import { safetyCodeText } from "../../client/app/safety-code.ts";
import { formatLinkCode, newLinkCode, parseLinkCode } from "../../client/core/link-code.ts";
import { safetyDigits } from "./client-fakes.ts";

/** The matrix as RGBA pixels, `scale` pixels a module, as a screenshot of the SVG would have them. */
function pixels(matrix: boolean[][], scale: number, colours: { dark: number; light: number } = { dark: 0, light: 255 }) {
	const width = matrix.length * scale;
	const data = new Uint8ClampedArray(width * width * 4);
	for (let y = 0; y < width; y++) {
		for (let x = 0; x < width; x++) {
			const value = matrix[Math.floor(y / scale)]?.[Math.floor(x / scale)] ? colours.dark : colours.light;
			data.set([value, value, value, 255], (y * width + x) * 4);
		}
	}
	return { data, width, height: width };
}

describe("QR codes", () => {
	it("draws a safety number's code that the decoder reads back, with the quiet zone scanners need", async () => {
		const text = safetyCodeText(safetyDigits(3));
		const matrix = qrMatrix(text);
		// Four light modules on every side.
		for (const row of [...matrix.slice(0, 4), ...matrix.slice(-4)]) expect(row.every((dark) => !dark)).toBe(true);
		for (const row of matrix) expect([...row.slice(0, 4), ...row.slice(-4)].some(Boolean)).toBe(false);
		expect(await decodeQr(pixels(matrix, 4))).toBe(text);
	});

	it("reads a link code from its QR code, and the SDK parses what was read", async () => {
		const code = formatLinkCode(newLinkCode("alice_2"));
		const read = await decodeQr(pixels(qrMatrix(code), 3));
		expect(read).toBe(code);
		expect(parseLinkCode(read ?? "").handle).toBe("alice_2");
	});

	it("reads a code shown light on dark, as a screenshot of a dark theme could have it", async () => {
		const text = safetyCodeText(safetyDigits(6));
		expect(await decodeQr(pixels(qrMatrix(text), 4, { dark: 255, light: 20 }))).toBe(text);
	});

	it("finds no code where there is none", async () => {
		expect(
			await decodeQr(
				pixels(
					[
						[false, false],
						[false, false],
					],
					50,
				),
			),
		).toBeNull();
	});

	it("draws every dark module, and only those, as one unit square of the path", () => {
		const matrix = [
			[true, false],
			[false, true],
		];
		expect(qrPath(matrix)).toBe("M0 0h1v1h-1zM1 1h1v1h-1z");
		const big = qrMatrix("hello");
		const dark = big.flat().filter(Boolean).length;
		expect(qrPath(big).match(/M/g)?.length).toBe(dark);
	});

	it("scales large pictures down before searching them, and leaves small ones alone", () => {
		expect(scanSize(4000, 3000)).toEqual({ width: MAX_SCAN_SIDE, height: 900 });
		expect(scanSize(3000, 4000)).toEqual({ width: 900, height: MAX_SCAN_SIDE });
		expect(scanSize(640, 480)).toEqual({ width: 640, height: 480 });
	});
});
