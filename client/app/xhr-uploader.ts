import type { Uploader } from "../core/attachment-transfer.ts";
import { SdkError, type SdkErrorCode } from "../core/sdk-error.ts";
import { streamToBlob } from "../core/stream-to-blob.ts";
import { isKnownErrorCode } from "./error-text.ts";

/** The relay's JSON error body, read without trusting its shape. */
function refusal(status: number, text: string): SdkError {
	let code: SdkErrorCode = "bad_request";
	let message: string | undefined;
	try {
		const body: unknown = JSON.parse(text);
		const error = typeof body === "object" && body !== null ? Reflect.get(body, "error") : undefined;
		if (typeof error === "object" && error !== null) {
			const c = Reflect.get(error, "code");
			const m = Reflect.get(error, "message");
			if (typeof c === "string" && isKnownErrorCode(c)) code = c;
			if (typeof m === "string") message = m;
		}
	} catch {
		// Not the relay's JSON (a proxy's page): keep the generic refusal.
	}
	return new SdkError(code, message ?? `The upload was refused (${status}).`);
}

/**
 * Uploads a sealed attachment with progress measured on the wire. fetch() reports no upload
 * progress, and browsers stream request bodies only over HTTP/2, so the sealed chunks are
 * folded into a Blob as they come (which the browser may keep out of the JS heap) and sent with
 * XMLHttpRequest, whose upload events count the bytes actually sent. Sealing is reported by
 * nothing: the page shows an indeterminate bar until the first bytes leave.
 */
export function xhrUploader(): Uploader {
	return async ({ url, token, body, onProgress }) => {
		const blob = await streamToBlob(body, undefined, "application/octet-stream");
		await new Promise<void>((resolve, reject) => {
			const xhr = new XMLHttpRequest();
			xhr.open("PUT", url);
			xhr.setRequestHeader("authorization", `Bearer ${token}`);
			xhr.setRequestHeader("content-type", "application/octet-stream");
			if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
			xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(refusal(xhr.status, xhr.responseText)));
			xhr.onerror = () => reject(new SdkError("network", "The upload could not reach the server."));
			xhr.onabort = () => reject(new SdkError("network", "The upload was interrupted."));
			xhr.send(blob);
		});
	};
}
