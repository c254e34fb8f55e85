import { describe, expect, it } from "vitest";
import { type ChatMessage, receivedKey, sentKey } from "../../client/app/chat-message.ts";
import { errorText } from "../../client/app/error-text.ts";
import {
	ARCHIVE_MAGIC,
	type ArchiveSource,
	archivable,
	buildHistoryArchive,
	HistoryArchiveError,
	type HistoryArchiveProblem,
	readHistoryArchive,
} from "../../client/app/history-archive.ts";
import type { AttachmentInfo } from "../../client/core/message-body.ts";
import { sealedFileSize } from "../../common/file-layout.ts";
import { ALICE, BOB, received as receivedFrom, relayId, sent } from "./client-fakes.ts";

const LAPTOP = relayId("alice_laptop");
const FILE_KEY = "A".repeat(43);
const SHA = "B".repeat(43);
const BIG_BUDGET = 90 * 1024 * 1024;

const attachmentOf = (name: string, size: number, type = "image/png"): AttachmentInfo => ({
	id: relayId(`file_${name}`),
	owner: BOB,
	key: FILE_KEY,
	size,
	type,
	name: `${name}.png`,
	sha256: SHA,
});

const received = (id: string, at: number, extra: Partial<ChatMessage> = {}): ChatMessage => receivedFrom(id, BOB, at, extra);
/** A message as an archive holds it: under its relay id alone (its sender is in `outgoing` and `peerId`). */
const archived = (message: ChatMessage): ChatMessage => ({ ...message, key: message.id as string });

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

function source(messages: ChatMessage[], files: Record<string, Blob> = {}, maxSealedBytes = BIG_BUDGET): ArchiveSource {
	return { accountId: ALICE, fromDevice: LAPTOP, createdAt: 1_000, messages, file: async (id) => files[id], maxSealedBytes };
}

/** An archive laid out by hand: the magic, the manifest's length, the manifest, then `data`. */
function handMade(manifest: unknown, data: Uint8Array[] = [], magic = ARCHIVE_MAGIC): Blob {
	const json = new TextEncoder().encode(typeof manifest === "string" ? manifest : JSON.stringify(manifest));
	const length = new Uint8Array(4);
	new DataView(length.buffer).setUint32(0, json.length);
	return new Blob([new TextEncoder().encode(magic), length, json, ...data]);
}

const fine = (patch: Record<string, unknown> = {}) => ({
	accountId: ALICE,
	fromDevice: LAPTOP,
	createdAt: 1_000,
	messages: [archived(received(relayId("m1"), 10, { attachment: attachmentOf("one", 3) }))],
	files: [{ attachmentId: relayId("file_one"), offset: 0, size: 3, type: "image/png" }],
	...patch,
});

async function refused(archive: Blob, problem: HistoryArchiveProblem, account = ALICE): Promise<HistoryArchiveError> {
	const err = await readHistoryArchive(archive, { accountId: account }).then(
		() => null,
		(e: unknown) => e,
	);
	expect(err).toBeInstanceOf(HistoryArchiveError);
	expect((err as HistoryArchiveError).problem).toBe(problem);
	return err as HistoryArchiveError;
}

describe("the history archive", () => {
	it("holds the confirmed messages, oldest first, without this device's own flags, and the opened files' bytes", async () => {
		const image = attachmentOf("image", 5);
		const notOpened = attachmentOf("notopened", 7);
		const messages: ChatMessage[] = [
			received(relayId("m2"), 20, { attachment: image, unread: 1 }),
			sent(relayId("m1"), BOB, 10, { state: "delivered", deliveredTo: [relayId("bob_phone")] }),
			received(relayId("m3"), 30, { edited: true }),
			received(relayId("m4"), 40, { text: "", deleted: true }),
			received(relayId("m5"), 50, { text: "", state: "unreadable" }),
			received(relayId("m6"), 60, { attachment: notOpened }),
			// Still sending, failed without an id, and a damaged record: none travels.
			{ key: "local:0011", peerId: BOB, outgoing: true, text: "on its way", at: 70, state: "sending", pending: 1 },
			{ key: "local:0022", peerId: BOB, outgoing: true, text: "refused", at: 80, state: "failed", error: "Not enough credits." },
			received("damaged", 9e15),
		];
		const file = new Blob([bytes(5, 9)], { type: "image/png" });
		const built = await buildHistoryArchive(source(messages, { [image.id]: file }));
		expect(built).toMatchObject({ messages: 6, files: 1, messagesLeftOut: 0, filesLeftOut: 0 });

		const read = await readHistoryArchive(built.archive, { accountId: ALICE });
		expect(read).toMatchObject({ accountId: ALICE, fromDevice: LAPTOP, createdAt: 1_000 });
		expect(read.messages.map((m) => m.key)).toEqual([
			sentKey(relayId("m1")),
			...["m2", "m3", "m4", "m5", "m6"].map((id) => receivedKey(BOB, relayId(id))),
		]);
		// The unread flag stays behind; the file key travels with each attachment, opened or not.
		expect(read.messages[1]).toEqual(received(relayId("m2"), 20, { attachment: image }));
		expect(read.messages[0]).toEqual(sent(relayId("m1"), BOB, 10, { state: "delivered", deliveredTo: [relayId("bob_phone")] }));
		expect(read.messages[5]?.attachment).toEqual(notOpened);
		expect(read.files.map((f) => f.attachmentId)).toEqual([image.id]);
		expect(read.files[0]?.file.type).toBe("image/png");
		expect([...new Uint8Array(await (read.files[0] as { file: Blob }).file.arrayBuffer())]).toEqual([9, 9, 9, 9, 9]);
	});

	it("starts with its magic line and the manifest's length, and is exactly as large as it says", async () => {
		const built = await buildHistoryArchive(source([received(relayId("m1"), 10)]));
		const all = new Uint8Array(await built.archive.arrayBuffer());
		const magic = new TextEncoder().encode(ARCHIVE_MAGIC);
		expect(all.subarray(0, magic.length)).toEqual(magic);
		const length = new DataView(all.buffer).getUint32(magic.length);
		expect(magic.length + 4 + length).toBe(all.length);
		const manifest = JSON.parse(new TextDecoder().decode(all.subarray(magic.length + 4)));
		expect(Object.keys(manifest)).toEqual(["accountId", "fromDevice", "createdAt", "messages", "files"]);
	});

	it("takes a file's bytes only while the sealed archive stays within the budget, to the byte, the newest file first", async () => {
		const older = attachmentOf("older", 1000);
		const newer = attachmentOf("newer", 1000);
		const messages = [received(relayId("m1"), 10, { attachment: older }), received(relayId("m2"), 20, { attachment: newer })];
		const files = { [older.id]: new Blob([bytes(1000, 1)]), [newer.id]: new Blob([bytes(1000, 2)]) };
		const withBoth = await buildHistoryArchive(source(messages, files));
		const budget = sealedFileSize(withBoth.archive.size);
		expect((await buildHistoryArchive(source(messages, files, budget))).files).toBe(2);

		// One byte less: the older file's bytes stay behind, its message and key do not.
		const tight = await buildHistoryArchive(source(messages, files, budget - 1));
		expect(tight).toMatchObject({ messages: 2, files: 1, filesLeftOut: 1 });
		expect(sealedFileSize(tight.archive.size)).toBeLessThanOrEqual(budget - 1);
		const read = await readHistoryArchive(tight.archive, { accountId: ALICE });
		expect(read.files.map((f) => f.attachmentId)).toEqual([newer.id]);
		expect(read.messages.map((m) => m.attachment?.id)).toEqual([older.id, newer.id]);
	});

	it("leaves out the oldest messages when even the texts do not fit, and refuses a budget too small for an empty archive", async () => {
		const messages = Array.from({ length: 20 }, (_, i) => received(relayId(`m${i}`), i, { text: "x".repeat(100) }));
		const empty = await buildHistoryArchive(source([]));
		const budget = sealedFileSize(empty.archive.size) + 5 * 200;
		const built = await buildHistoryArchive(source(messages, {}, budget));
		expect(built.messages).toBeGreaterThan(0);
		expect(built.messages).toBeLessThan(20);
		expect(built.messagesLeftOut).toBe(20 - built.messages);
		expect(sealedFileSize(built.archive.size)).toBeLessThanOrEqual(budget);
		const read = await readHistoryArchive(built.archive, { accountId: ALICE });
		expect(read.messages.at(-1)?.key).toBe(receivedKey(BOB, relayId("m19")));

		const err = await buildHistoryArchive(source([], {}, 100)).catch((e: unknown) => e);
		expect(err).toMatchObject({ name: "HistoryArchiveError", problem: "too_large" });
		expect(errorText(err)).toBe("The history is too large to send in one go.");
	});

	it("keeps out a copy that is not the whole file, and sends each file once", async () => {
		const image = attachmentOf("image", 5);
		const messages = [received(relayId("m1"), 10, { attachment: image }), received(relayId("m2"), 20, { attachment: image })];
		const short = await buildHistoryArchive(source(messages, { [image.id]: new Blob([bytes(4, 1)]) }));
		expect(short.files).toBe(0);
		const whole = await buildHistoryArchive(source(messages, { [image.id]: new Blob([bytes(5, 1)]) }));
		expect(whole.files).toBe(1);
	});

	it("keeps two senders' messages under one id apart, there and back", async () => {
		const mine = sent(relayId("m1"), BOB, 10, { text: "mine" });
		const his = received(relayId("m1"), 20, { text: "his, under my id" });
		const read = await readHistoryArchive((await buildHistoryArchive(source([mine, his]))).archive, { accountId: ALICE });
		expect(read.messages).toEqual([mine, his]);
	});

	it("says which messages travel: confirmed ones, under their id", () => {
		expect(archivable(received(relayId("m1"), 1, { unread: 1 }))).toEqual(archived(received(relayId("m1"), 1)));
		expect(archivable({ ...received(relayId("m1"), 1), id: relayId("m2") })).toBeNull();
		expect(archivable({ ...received(relayId("m1"), 1), pending: 1 })).toBeNull();
		expect(archivable({ ...received("local:00", 1), id: undefined })).toBeNull();
		expect(archivable({ ...received(relayId("m1"), 1), extra: "x" } as ChatMessage)).toBeNull();
	});
});

describe("reading an archive", () => {
	it("reads a well-formed one made by hand", async () => {
		const read = await readHistoryArchive(handMade(fine(), [bytes(3, 7)]), { accountId: ALICE });
		expect(read.messages).toHaveLength(1);
		expect(await read.files[0]?.file.text()).toBe("\x07\x07\x07");
	});

	it("refuses what is not an archive, or of another version", async () => {
		await refused(new Blob([bytes(10, 0)]), "not_an_archive");
		await refused(new Blob([bytes(100, 0)]), "not_an_archive");
		await refused(handMade(fine(), [bytes(3, 7)], "sm-history-archive/2\n"), "not_an_archive");
	});

	it("refuses a manifest cut short, not UTF-8, or not JSON", async () => {
		const whole = new Uint8Array(await handMade(fine(), [bytes(3, 7)]).arrayBuffer());
		await refused(new Blob([whole.subarray(0, 40)]), "malformed");
		await refused(handMade("{not json"), "malformed");
		const badUtf8 = new Uint8Array([0x7b, 0xff, 0x7d]);
		const length = new Uint8Array([0, 0, 0, 3]);
		await refused(new Blob([new TextEncoder().encode(ARCHIVE_MAGIC), length, badUtf8]), "malformed");
	});

	it("refuses any field it does not know, or of the wrong kind", async () => {
		const message = fine().messages[0] as ChatMessage;
		const variants: unknown[] = [
			fine({ extra: 1 }),
			fine({ createdAt: "yesterday" }),
			fine({ accountId: "short" }),
			fine({ messages: [{ ...message, unread: 1 }] }),
			fine({ messages: [{ ...message, pending: 1 }] }),
			fine({ messages: [{ ...message, state: "sending" }] }),
			fine({ messages: [{ ...message, edited: false }] }),
			fine({ messages: [{ ...message, at: -1 }] }),
			fine({ messages: [{ ...message, attachment: { ...message.attachment, key: "short" } }] }),
			fine({ messages: [{ ...message, attachment: { ...message.attachment, extra: true } }] }),
			fine({ files: [{ attachmentId: relayId("file_one"), offset: 0, size: 3, type: "image/png", name: "x" }] }),
			fine({ files: [{ attachmentId: relayId("file_one"), offset: 0, size: 3.5, type: "image/png" }] }),
			[],
			null,
		];
		for (const manifest of variants) {
			const err = await refused(handMade(manifest, [bytes(3, 7)]), "malformed");
			expect(errorText(err)).toMatch(/^The history arrived damaged/);
		}
	});

	it("refuses an archive of another account", async () => {
		const err = await refused(handMade(fine(), [bytes(3, 7)]), "other_account", BOB);
		expect(errorText(err)).toBe("The history came from another account, so nothing of it was imported.");
	});

	it("refuses inconsistent contents: a message twice or under another key, a file of no message, not whole, out of place, cut short, or bytes left over", async () => {
		const message = fine().messages[0] as ChatMessage;
		const file = fine().files[0] as { attachmentId: string; offset: number; size: number; type: string };
		const cases: Array<[unknown, Uint8Array[]]> = [
			[fine({ messages: [message, message] }), [bytes(3, 7)]],
			[fine({ messages: [{ ...message, key: relayId("other") }] }), [bytes(3, 7)]],
			[fine({ files: [{ ...file, attachmentId: relayId("file_none") }] }), [bytes(3, 7)]],
			[fine({ messages: [{ ...message, deleted: true }] }), [bytes(3, 7)]],
			[fine({ files: [{ ...file, size: 2 }] }), [bytes(2, 7)]],
			[fine({ files: [{ ...file, offset: 1 }] }), [bytes(4, 7)]],
			[fine({ files: [file, file] }), [bytes(6, 7)]],
			[fine(), [bytes(2, 7)]],
			[fine(), [bytes(4, 7)]],
			[fine({ files: [] }), [bytes(3, 7)]],
		];
		for (const [manifest, data] of cases) await refused(handMade(manifest, data), "malformed");
	});
});
