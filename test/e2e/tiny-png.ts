import { crc32, deflateSync } from "node:zlib";

function chunk(type: string, data: Buffer): Buffer {
	const length = Buffer.alloc(4);
	length.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body));
	return Buffer.concat([length, body, crc]);
}

/** A real RGB PNG of `width` × `height` pixels, each the colour `pixel` gives it. */
export function png(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
	const header = Buffer.alloc(13);
	header.writeUInt32BE(width, 0);
	header.writeUInt32BE(height, 4);
	header.writeUInt8(8, 8); // bit depth
	header.writeUInt8(2, 9); // colour type: RGB
	const rows: number[] = [];
	for (let y = 0; y < height; y++) {
		rows.push(0); // filter: none
		for (let x = 0; x < width; x++) rows.push(...pixel(x, y));
	}
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk("IHDR", header),
		chunk("IDAT", deflateSync(Buffer.from(rows))),
		chunk("IEND", Buffer.alloc(0)),
	]);
}

/** A real PNG of `width` × `height` pixels (a colour gradient), small enough to send as a test attachment. */
export function tinyPng(width: number, height: number): Buffer {
	return png(width, height, (x, y) => [Math.round((255 * x) / width), Math.round((255 * y) / height), 160]);
}
