import { SdkError } from "./sdk-error.ts";
import { streamToBlob } from "./stream-to-blob.ts";

/** Sends a sealed blob to the relay; reports bytes sent so far. */
export type Uploader = (request: {
	url: string;
	token: string;
	body: ReadableStream<Uint8Array>;
	size: number;
	onProgress?: (sentBytes: number) => void;
}) => Promise<void>;

/** Counts bytes as they pass, for progress. */
export function counting(stream: ReadableStream<Uint8Array>, onBytes: (total: number) => void): ReadableStream<Uint8Array> {
	let total = 0;
	return stream.pipeThrough(
		new TransformStream<Uint8Array, Uint8Array>({
			transform(chunk, controller) {
				total += chunk.length;
				onBytes(total);
				controller.enqueue(chunk);
			},
		}),
	);
}

async function ensureUploaded(response: Response): Promise<void> {
	if (response.ok) return;
	let code = "bad_request";
	let message = `The upload was refused (${response.status}).`;
	let retryAfter: number | undefined;
	try {
		const body = (await response.json()) as { error?: { code?: unknown; message?: unknown; retryAfter?: unknown } };
		if (typeof body.error?.code === "string") code = body.error.code;
		if (typeof body.error?.message === "string") message = body.error.message;
		if (typeof body.error?.retryAfter === "number") retryAfter = body.error.retryAfter;
	} catch {
		// Not our JSON error: keep the generic message.
	}
	throw new SdkError(code as never, message, retryAfter === undefined ? {} : { retryAfter });
}

/**
 * Streams the sealed blob as the request body (Node, workerd): nothing is held whole.
 * Browsers only stream request bodies over HTTP/2, so they use `bufferedUploader`.
 */
export function streamingUploader(fetchFn: typeof fetch): Uploader {
	return async ({ url, token, body, size, onProgress }) => {
		const response = await fetchFn(url, {
			method: "PUT",
			headers: { authorization: `Bearer ${token}`, "content-length": String(size), "content-type": "application/octet-stream" },
			body: onProgress ? counting(body, onProgress) : body,
			// Required by fetch for a streamed request body.
			duplex: "half",
		} as RequestInit);
		await ensureUploaded(response);
	};
}

/**
 * Folds the sealed chunks into a Blob as they come (which a browser keeps out of the JS heap
 * as needed), then sends it: the plaintext file and its ciphertext are never both in memory.
 */
export function bufferedUploader(fetchFn: typeof fetch): Uploader {
	return async ({ url, token, body, onProgress }) => {
		const blob = await streamToBlob(body, onProgress);
		const response = await fetchFn(url, {
			method: "PUT",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
			body: blob,
		});
		await ensureUploaded(response);
	};
}
