import { describe, expect, it, vi } from "vitest";
import { FileCache, INLINE_IMAGE_TYPES, openedType, percentReceived } from "../../client/app/features/file-cache.ts";
import type { AttachmentInfo } from "../../client/core/message-body.ts";
import type { FileDigest } from "../../client/core/sdk.ts";
import { CryptoError } from "../../common/crypto-error.ts";
import { BOB, MemoryHistory, relayId, storeWith } from "./client-fakes.ts";

const attachment = (type: string, size = 4): AttachmentInfo => ({
	id: relayId("file1"),
	owner: BOB,
	key: "k",
	size,
	type,
	name: "f",
	sha256: "h",
});

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
	return new ReadableStream({
		start(controller) {
			for (const chunk of chunks) controller.enqueue(chunk);
			controller.close();
		},
	});
}

const goodDigest = Promise.resolve({} as FileDigest);

describe("the file cache", () => {
	it("fetches a file once for two views of it, and hands out the same Blob after", async () => {
		const store = storeWith();
		const history = new MemoryHistory();
		const downloadFile = vi.fn(async () => ({ stream: streamOf([new Uint8Array([1, 2]), new Uint8Array([3, 4])]), digest: goodDigest }));
		const files = new FileCache(store, { downloadFile }, history);
		const [a, b] = await Promise.all([files.open(attachment("image/png")), files.open(attachment("image/png"))]);
		expect(a).toBe(b);
		expect(await files.open(attachment("image/png"))).toBe(a);
		expect(downloadFile).toHaveBeenCalledTimes(1);
		expect(a.type).toBe("image/png");
		expect([...new Uint8Array(await a.arrayBuffer())]).toEqual([1, 2, 3, 4]);
		expect(history.files.get(relayId("file1"))).toBe(a);
	});

	it("shows the download's progress in whole percent while it runs, and none once it is done", async () => {
		const store = storeWith();
		const seen: Array<Record<string, number>> = [];
		store.subscribe((state) => seen.push(state.downloads));
		const downloadFile = vi.fn(async () => ({ stream: streamOf([new Uint8Array(1), new Uint8Array(3)]), digest: goodDigest }));
		await new FileCache(store, { downloadFile }, new MemoryHistory()).open(attachment("image/png"));
		const id = relayId("file1");
		expect(seen).toEqual([{ [id]: 0 }, { [id]: 0.25 }, { [id]: 1 }, {}]);
	});

	it("opens a file kept in this browser without fetching it, as the type it is shown as", async () => {
		const history = new MemoryHistory();
		await history.putFile(relayId("file1"), new Blob(["<svg/>"], { type: "image/svg+xml" }));
		const downloadFile = vi.fn();
		const file = await new FileCache(storeWith(), { downloadFile }, history).open(attachment("image/svg+xml"));
		expect(downloadFile).not.toHaveBeenCalled();
		expect(file.type).toBe("application/octet-stream");
		expect(await file.text()).toBe("<svg/>");
	});

	it("takes only the inline image types from the sender; anything else opens as plain bytes", () => {
		expect([...INLINE_IMAGE_TYPES].map((type) => openedType(attachment(type)))).toEqual([...INLINE_IMAGE_TYPES]);
		expect(openedType(attachment("text/html"))).toBe("application/octet-stream");
		expect(openedType(attachment("image/svg+xml"))).toBe("application/octet-stream");
	});

	it("refuses a file whose hash does not match as undecryptable, keeps nothing of it, and fetches it again when asked", async () => {
		const store = storeWith();
		const history = new MemoryHistory();
		const downloadFile = vi.fn(async () => ({
			stream: streamOf([new Uint8Array(4)]),
			digest: Promise.reject(new CryptoError("open_failed", "hash mismatch")),
		}));
		const files = new FileCache(store, { downloadFile }, history);
		await expect(files.open(attachment("image/png"))).rejects.toMatchObject({ name: "SdkError", code: "undecryptable" });
		expect(history.files.size).toBe(0);
		expect(store.state.downloads).toEqual({});
		await expect(files.open(attachment("image/png"))).rejects.toMatchObject({ code: "undecryptable" });
		expect(downloadFile).toHaveBeenCalledTimes(2);
	});

	it("forgets a file whose message was deleted, in memory and in the history", async () => {
		const history = new MemoryHistory();
		const downloadFile = vi.fn(async () => ({ stream: streamOf([new Uint8Array(4)]), digest: goodDigest }));
		const files = new FileCache(storeWith(), { downloadFile }, history);
		await files.open(attachment("image/png"));
		await files.forget(relayId("file1"));
		expect(history.files.size).toBe(0);
		await files.open(attachment("image/png"));
		expect(downloadFile).toHaveBeenCalledTimes(2);
	});

	it("counts an empty file as all received", () => {
		expect(percentReceived(0, 0)).toBe(100);
		expect(percentReceived(1, 3)).toBe(33);
	});
});
