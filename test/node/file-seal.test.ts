import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openFileStream, sealFileStream } from "../../client/core/file-seal.ts";
import { toB64u } from "../../common/encoding.ts";
import { FILE_CHUNK_BYTES, sealedFileSize } from "../../common/file-layout.ts";
import { randomBytes } from "../../common/nacl.ts";

/** A deterministic plaintext source of `size` bytes, produced in uneven pieces, never held whole. */
function source(size: number, piece = 50_000): { stream: ReadableStream<Uint8Array>; sha256: () => string } {
	const hash = createHash("sha256");
	let sent = 0;
	const stream = new ReadableStream<Uint8Array>({
		pull(controller) {
			if (sent >= size) return controller.close();
			const n = Math.min(piece, size - sent);
			const bytes = new Uint8Array(n);
			for (let i = 0; i < n; i++) bytes[i] = (sent + i) * 31 + 7;
			hash.update(bytes);
			sent += n;
			controller.enqueue(bytes);
		},
	});
	return { stream, sha256: () => toB64u(hash.digest()) };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
	const hash = createHash("sha256");
	let bytes = 0;
	for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
		hash.update(chunk);
		bytes += chunk.length;
	}
	return { bytes, sha256: toB64u(hash.digest()) };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	const parts: Uint8Array[] = [];
	for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
	return Buffer.concat(parts);
}

const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> =>
	new ReadableStream({
		start(c) {
			c.enqueue(bytes);
			c.close();
		},
	});

describe("attachments sealed in 64 KiB chunks", () => {
	const MB = 1024 * 1024;
	it.each([
		0,
		1,
		FILE_CHUNK_BYTES - 1,
		FILE_CHUNK_BYTES,
		FILE_CHUNK_BYTES + 1,
		MB,
		10 * MB,
		50 * MB,
	])("round-trips %i bytes through a stream, with the exact sealed size and the same hash", async (size) => {
		const key = randomBytes(32);
		const plain = source(size);
		const sealed = sealFileStream(key, plain.stream);
		// Tee the sealed stream: count its size while opening it, never holding it whole.
		const [forSize, forOpen] = sealed.stream.tee();
		const opened = openFileStream(key, forOpen);
		const [sealedBytes, out, digest, openedDigest] = await Promise.all([
			drain(forSize),
			drain(opened.stream),
			sealed.digest,
			opened.digest,
		]);
		expect(sealedBytes.bytes).toBe(sealedFileSize(size));
		expect(out.bytes).toBe(size);
		expect(digest).toEqual({ size, sha256: plain.sha256() });
		expect(out.sha256).toBe(digest.sha256);
		expect(openedDigest).toEqual(digest);
	}, 120_000);

	async function sealedBlob(size: number, key: Uint8Array) {
		const sealed = sealFileStream(key, source(size).stream);
		return { blob: await collect(sealed.stream), digest: await sealed.digest };
	}

	it("detects a changed byte, a truncated blob, reordered chunks, trailing bytes and a wrong key", async () => {
		const key = randomBytes(32);
		const { blob } = await sealedBlob(3 * FILE_CHUNK_BYTES + 100, key);
		const chunk = FILE_CHUNK_BYTES + 16;
		const tampered = blob.slice();
		tampered[20 + chunk + 5] = (tampered[20 + chunk + 5] as number) ^ 1;
		const truncatedAtBoundary = blob.slice(0, 20 + 2 * chunk);
		const truncatedMidChunk = blob.slice(0, blob.length - 10);
		const reordered = Buffer.concat([
			blob.subarray(0, 20),
			blob.subarray(20 + chunk, 20 + 2 * chunk),
			blob.subarray(20, 20 + chunk),
			blob.subarray(20 + 2 * chunk),
		]);
		const trailing = Buffer.concat([blob, new Uint8Array([1, 2, 3])]);
		for (const bad of [tampered, truncatedAtBoundary, truncatedMidChunk, reordered, trailing]) {
			const opened = openFileStream(key, streamOf(bad));
			await expect(drain(opened.stream)).rejects.toMatchObject({ code: "open_failed" });
			await expect(opened.digest).rejects.toMatchObject({ code: "open_failed" });
		}
		await expect(drain(openFileStream(randomBytes(32), streamOf(blob)).stream)).rejects.toMatchObject({ code: "open_failed" });
	});

	it("refuses a file whose hash or size differs from what its message promised", async () => {
		const key = randomBytes(32);
		const { blob, digest } = await sealedBlob(1000, key);
		await expect(drain(openFileStream(key, streamOf(blob), { size: 1000, sha256: digest.sha256 }).stream)).resolves.toMatchObject({
			bytes: 1000,
		});
		await expect(drain(openFileStream(key, streamOf(blob), { size: 1000, sha256: toB64u(randomBytes(32)) }).stream)).rejects.toMatchObject({
			code: "open_failed",
		});
		await expect(drain(openFileStream(key, streamOf(blob), { size: 999, sha256: digest.sha256 }).stream)).rejects.toMatchObject({
			code: "open_failed",
		});
	});
});
