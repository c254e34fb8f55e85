import { sha256 } from "@noble/hashes/sha2.js";
import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, equalBytes, toB64u } from "../../common/encoding.ts";
import { FILE_CHUNK_BYTES, HEADER_BYTES, MAGIC, SEALED_CHUNK_BYTES, TAG_BYTES } from "../../common/file-layout.ts";
import { randomBytes, secretboxOpen, secretboxSeal } from "../../common/nacl.ts";

/**
 * Attachments: a file sealed with secretbox in 64 KiB chunks under its own key, so a 50 MB
 * file streams through without being held twice. The key travels inside a sealed message,
 * so the relay and R2 only ever hold the sealed blob.
 *
 *   blob  = "SMF1" ‖ prefix(16) ‖ chunk₀ ‖ chunk₁ ‖ …
 *   chunkᵢ = secretbox(key, nonce = prefix ‖ u32be(i) ‖ u32be(last ? 1 : 0), plaintextᵢ)
 *
 * Every chunk but the last holds exactly 64 KiB; the last holds 0–64 KiB (an empty file is
 * one empty last chunk). The counter in the nonce catches reordered or dropped chunks, the
 * last flag catches truncation at a chunk boundary, the tag catches any other change.
 */

export interface FileDigest {
	/** SHA-256 of the plaintext, base64url. */
	sha256: string;
	size: number;
}

function chunkNonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
	const nonce = new Uint8Array(24);
	nonce.set(prefix, 0);
	const view = new DataView(nonce.buffer);
	view.setUint32(16, index);
	view.setUint32(20, last ? 1 : 0);
	return nonce;
}

/** Collects bytes and hands them out in pieces of exactly `size` (the rest stays buffered). */
class Rechunker {
	private parts: Uint8Array[] = [];
	private length = 0;

	push(bytes: Uint8Array): void {
		if (bytes.length === 0) return;
		this.parts.push(bytes);
		this.length += bytes.length;
	}

	get buffered(): number {
		return this.length;
	}

	take(size: number): Uint8Array {
		const all = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : concatBytes(...this.parts);
		const out = all.slice(0, size);
		const rest = all.subarray(size);
		this.parts = rest.length > 0 ? [rest] : [];
		this.length = rest.length;
		return out;
	}
}

interface Deferred<T> {
	promise: Promise<T>;
	resolve: (value: T) => void;
	reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
	let resolve!: (value: T) => void;
	let reject!: (error: unknown) => void;
	const promise = new Promise<T>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	// Read by the caller or not at all: a rejection nobody awaits must not crash the process.
	promise.catch(() => undefined);
	return { promise, resolve, reject };
}

/**
 * Pull-driven: each read of the output reads the source only as far as one more chunk needs,
 * so memory stays at about two chunks whatever the file size. `step` turns buffered input
 * into output; `finish` handles the end of the source.
 */
function chunkedStream(
	source: ReadableStream<Uint8Array>,
	result: Deferred<FileDigest>,
	handlers: {
		start?: () => Uint8Array | null;
		step: (pending: Rechunker) => Uint8Array | null;
		finish: (pending: Rechunker) => Uint8Array;
	},
): ReadableStream<Uint8Array> {
	const reader = source.getReader();
	const pending = new Rechunker();
	return new ReadableStream<Uint8Array>({
		start(controller) {
			const first = handlers.start?.();
			if (first) controller.enqueue(first);
		},
		async pull(controller) {
			try {
				for (;;) {
					const out = handlers.step(pending);
					if (out) return controller.enqueue(out);
					const { done, value } = await reader.read();
					if (done) {
						controller.enqueue(handlers.finish(pending));
						return controller.close();
					}
					pending.push(value);
				}
			} catch (err) {
				result.reject(err);
				reader.cancel(err).catch(() => undefined);
				throw err;
			}
		},
		cancel(reason) {
			result.reject(reason);
			return reader.cancel(reason);
		},
	});
}

/** Seal a plaintext stream; `digest` (SHA-256 and size of the plaintext) resolves at its end. */
export function sealFileStream(
	key: Uint8Array,
	source: ReadableStream<Uint8Array>,
): { stream: ReadableStream<Uint8Array>; digest: Promise<FileDigest> } {
	const prefix = randomBytes(16);
	const hash = sha256.create();
	const result = deferred<FileDigest>();
	let index = 0;
	let size = 0;
	const seal = (plain: Uint8Array, last: boolean): Uint8Array => {
		hash.update(plain);
		size += plain.length;
		return secretboxSeal(key, chunkNonce(prefix, index++, last), plain);
	};
	const stream = chunkedStream(source, result, {
		start: () => concatBytes(MAGIC, prefix),
		// Keep at least one byte back: only the end of the source says which chunk is last.
		step: (pending) => (pending.buffered > FILE_CHUNK_BYTES ? seal(pending.take(FILE_CHUNK_BYTES), false) : null),
		finish: (pending) => {
			const last = seal(pending.take(FILE_CHUNK_BYTES), true);
			result.resolve({ sha256: toB64u(hash.digest()), size });
			return last;
		},
	});
	return { stream, digest: result.promise };
}

/**
 * Open a sealed stream. Errors the output (CryptoError) on a changed, reordered or missing
 * chunk, a truncated blob, or trailing bytes; when `expect` is given, also when the size or
 * the SHA-256 of the plaintext differs from what the sender sealed into the message.
 */
export function openFileStream(
	key: Uint8Array,
	source: ReadableStream<Uint8Array>,
	expect?: { size: number; sha256: string },
): { stream: ReadableStream<Uint8Array>; digest: Promise<FileDigest> } {
	const hash = sha256.create();
	const result = deferred<FileDigest>();
	let prefix: Uint8Array | null = null;
	let index = 0;
	let size = 0;
	const fail = (message: string): never => {
		throw new CryptoError("open_failed", message);
	};
	const open = (sealed: Uint8Array, last: boolean): Uint8Array => {
		let plain: Uint8Array;
		try {
			plain = secretboxOpen(key, chunkNonce(prefix as Uint8Array, index++, last), sealed);
		} catch {
			return fail(`Chunk ${index - 1} of the attachment was changed, moved or cut short.`);
		}
		hash.update(plain);
		size += plain.length;
		return plain;
	};
	const readHeader = (pending: Rechunker): boolean => {
		if (prefix !== null) return true;
		if (pending.buffered < HEADER_BYTES) return false;
		const header = pending.take(HEADER_BYTES);
		if (!equalBytes(header.subarray(0, 4), MAGIC)) fail("This is not a sealed attachment.");
		prefix = header.slice(4);
		return true;
	};
	const stream = chunkedStream(source, result, {
		// One sealed chunk is held back until more data shows it is not the last.
		step: (pending) =>
			readHeader(pending) && pending.buffered > SEALED_CHUNK_BYTES ? open(pending.take(SEALED_CHUNK_BYTES), false) : null,
		finish: (pending) => {
			if (!readHeader(pending) || pending.buffered < TAG_BYTES) fail("The attachment is cut short.");
			const last = open(pending.take(SEALED_CHUNK_BYTES), true);
			const digest = { sha256: toB64u(hash.digest()), size };
			if (expect && (expect.size !== digest.size || expect.sha256 !== digest.sha256)) {
				fail("The attachment does not match the size and hash its message promised.");
			}
			result.resolve(digest);
			return last;
		},
	});
	return { stream, digest: result.promise };
}
