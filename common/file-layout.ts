/**
 * The layout of a sealed attachment, shared because the relay must know a blob's exact size
 * before a byte of it arrives (it reserves and prices the upload), while only the client seals.
 */
export const FILE_CHUNK_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const SEALED_CHUNK_BYTES = FILE_CHUNK_BYTES + TAG_BYTES;
export const MAGIC = new Uint8Array([0x53, 0x4d, 0x46, 0x31]);
export const HEADER_BYTES = MAGIC.length + 16;

/** Exact size of the sealed blob for a file of `plainBytes`. */
export function sealedFileSize(plainBytes: number): number {
	const chunks = Math.max(1, Math.ceil(plainBytes / FILE_CHUNK_BYTES));
	return HEADER_BYTES + plainBytes + chunks * TAG_BYTES;
}
