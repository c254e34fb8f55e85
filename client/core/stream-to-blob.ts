/** Blob's parts, named without the DOM library (Node's and workerd's Blob take the same). */
type Parts = NonNullable<ConstructorParameters<typeof Blob>[0]>;

/** Loose chunks are folded into a Blob every few MB, which the browser may keep out of the JS heap. */
const FOLD_BYTES = 4 * 1024 * 1024;

/**
 * Read a stream into a Blob holding at most a few MB of it as loose chunks, so a large file is
 * never in the JS heap twice. Reports the bytes read so far; rejects with the stream's own error.
 */
export async function streamToBlob(
	stream: ReadableStream<Uint8Array>,
	onBytes: (total: number) => void = () => {},
	type = "",
): Promise<Blob> {
	const reader = stream.getReader();
	const folded: Blob[] = [];
	let parts: Uint8Array[] = [];
	let buffered = 0;
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		parts.push(value);
		buffered += value.length;
		total += value.length;
		onBytes(total);
		if (buffered >= FOLD_BYTES) {
			// Plain ArrayBuffer-backed chunks, which Blob takes.
			folded.push(new Blob(parts as unknown as Parts));
			parts = [];
			buffered = 0;
		}
	}
	return new Blob([...folded, ...(parts as unknown as Parts)], { type });
}
