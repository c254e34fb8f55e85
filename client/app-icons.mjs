// The app's icons as PNG, drawn at build time from the same shape as favicon.svg (a white
// diamond on a blue rounded square), so no binary files live in the repository. Browsers
// want PNGs of 192 and 512 px for installing a web app; a "maskable" one keeps the shape
// inside the safe circle that platforms cut icons to.
import { deflateSync } from "node:zlib";

const BLUE = [0x24, 0x58, 0xd6];
const WHITE = [0xff, 0xff, 0xff];

const crcTable = Array.from({ length: 256 }, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

function crc32(bytes) {
	let c = 0xffffffff;
	for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
	const out = Buffer.alloc(12 + data.length);
	out.writeUInt32BE(data.length, 0);
	out.write(type, 4, "ascii");
	data.copy(out, 8);
	out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
	return out;
}

/** An RGBA PNG of `size` px; `maskable`: full-bleed background, the diamond inside the safe zone. */
export function appIcon(size, { maskable = false } = {}) {
	const radius = maskable ? 0 : size * (7 / 32);
	const half = size / 2;
	// The diamond spans 20 of 32 units in favicon.svg; smaller in a maskable icon's safe circle.
	const reach = size * (maskable ? 0.28 : 10 / 32);
	const rows = [];
	for (let y = 0; y < size; y++) {
		const row = Buffer.alloc(1 + size * 4);
		for (let x = 0; x < size; x++) {
			const px = x + 0.5;
			const py = y + 0.5;
			// Outside the rounded corners: transparent.
			const cx = Math.min(Math.max(px, radius), size - radius);
			const cy = Math.min(Math.max(py, radius), size - radius);
			const inside = radius === 0 || (px - cx) ** 2 + (py - cy) ** 2 <= radius ** 2;
			const diamond = Math.abs(px - half) + Math.abs(py - half) <= reach;
			const [r, g, b] = diamond ? WHITE : BLUE;
			row.set([r, g, b, inside ? 255 : 0], 1 + x * 4);
		}
		rows.push(row);
	}
	const header = Buffer.alloc(13);
	header.writeUInt32BE(size, 0);
	header.writeUInt32BE(size, 4);
	header.set([8, 6, 0, 0, 0], 8);
	const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}
