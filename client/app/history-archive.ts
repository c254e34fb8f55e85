/**
 * The plaintext archive of a device's history that travels, sealed by the SDK under a one-time
 * key, to a newly linked device of the same account. Pure: it is built from the messages and
 * opened files handed in, and read back into messages and files, without touching storage.
 *
 * Layout, in bytes:
 *
 *     utf8("sm-history-archive/1\n")
 *     u32 big-endian: length of the manifest
 *     manifest: utf8 JSON {accountId, fromDevice, createdAt, messages: ChatMessage[],
 *                          files: [{attachmentId, offset, size, type}]}
 *     the files' bytes, one after the other, in the order `files` lists them
 *
 * A file's `offset` counts from the first byte after the manifest. The files are Blob parts of
 * the archive and are read back as slices of it, so a large file is never held twice.
 */
import { sealedFileSize } from "../../common/file-layout.ts";
import {
	array,
	base64url,
	boolean,
	integer,
	object,
	oneOf,
	optional,
	type Schema,
	string,
	ValidationError,
} from "../../common/protocol/schema.ts";
import { ID_PATTERN, id, REACTION_EMOJIS, type ReactionEmoji } from "../../common/protocol/wire.ts";
import { type ChatMessage, messageKey } from "./chat-message.ts";

export const ARCHIVE_MAGIC = "sm-history-archive/1\n";
const MAGIC_BYTES = new TextEncoder().encode(ARCHIVE_MAGIC);
/** The magic and the manifest's length. */
const HEAD_BYTES = MAGIC_BYTES.length + 4;

/** The relay's cap on a sealed archive (HISTORY_ARCHIVE_MAX_MB, 90 by default). */
export const MAX_SEALED_ARCHIVE_BYTES = 90 * 1024 * 1024;

/**
 * Why an archive was refused: not one of this format (or of a later version), damaged or
 * inconsistent, of another account; or, when building, a budget too small for even an empty one.
 */
export type HistoryArchiveProblem = "not_an_archive" | "malformed" | "other_account" | "too_large";

export class HistoryArchiveError extends Error {
	constructor(
		readonly problem: HistoryArchiveProblem,
		message: string,
	) {
		super(message);
		this.name = "HistoryArchiveError";
	}
}

// ------------------------------------------------------------------ what an archive may hold

const trueFlag: Schema<true> = {
	parse(value, path) {
		if (value !== true) throw new ValidationError(path, "must be true when present");
		return true;
	},
};
const timestamp = integer({ min: 0, max: 8_640_000_000_000_000 });

/**
 * As strict as the SDK is with the attachment of a sealed message (message-body.ts), so that
 * every attachment this device accepted from a contact can travel in an archive.
 */
const attachmentInfo = object({
	id,
	owner: id,
	key: base64url({ bytes: 32 }),
	size: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	type: string({ max: 200 }),
	name: string({ max: 500 }),
	sha256: string({ max: 43 }),
});

const reactionEmoji = oneOf(REACTION_EMOJIS);

/** Reactions by account id: ids only as keys, one of the set as values, and no more than a conversation's two accounts could give. */
const reactions: Schema<Record<string, ReactionEmoji>> = {
	parse(value, path) {
		if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ValidationError(path, "must be an object");
		const entries = Object.entries(value);
		if (entries.length === 0 || entries.length > 2) throw new ValidationError(path, "must hold one or two reactions");
		const out: Record<string, ReactionEmoji> = {};
		for (const [who, emoji] of entries) {
			if (!ID_PATTERN.test(who)) throw new ValidationError(`${path}.${who}`, "must be keyed by an account id");
			out[who] = reactionEmoji.parse(emoji, `${path}.${who}`);
		}
		return out;
	},
};

/**
 * A message as it is archived: confirmed by the relay (key = its relay id: the sender is
 * told by `outgoing` and `peerId`, and the reader keys it by both again), and without what
 * only this device's own state means (unread, still sending, a failed send's reason).
 */
const archivedMessage = object({
	key: id,
	id,
	peerId: id,
	outgoing: boolean,
	text: string({ max: 1024 * 1024 }),
	at: timestamp,
	state: oneOf(["sent", "delivered", "received", "unreadable"] as const),
	deliveredTo: optional(array(id, { max: 1000 })),
	readBy: optional(array(id, { max: 1000 })),
	attachment: optional(attachmentInfo),
	edited: optional(trueFlag),
	editSeq: optional(integer({ min: 1, max: 1_000_000_000 })),
	editId: optional(id),
	clockSkew: optional(trueFlag),
	missingBefore: optional(integer({ min: 1, max: 1_000_000_000 })),
	deleted: optional(trueFlag),
	replyTo: optional(object({ id, from: id })),
	reactions: optional(reactions),
});

const fileEntry = object({
	attachmentId: id,
	offset: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	size: integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
	type: string({ max: 200 }),
});
type FileEntry = { attachmentId: string; offset: number; size: number; type: string };

const manifest = object({
	accountId: id,
	fromDevice: id,
	createdAt: timestamp,
	messages: array(archivedMessage, { max: 10_000_000 }),
	files: array(fileEntry, { max: 10_000_000 }),
});

/** The archived form of a message, or null when it does not travel (still sending, never confirmed, or a damaged record). */
export function archivable(message: ChatMessage): ChatMessage | null {
	if (message.pending || message.key.startsWith("local:") || message.state === "sending") return null;
	const { unread: _, pending: __, file: ___, error: ____, ...kept } = message;
	// A record not kept under its own sender and id is damaged.
	if (kept.id === undefined || kept.key !== messageKey({ peerId: kept.peerId, outgoing: kept.outgoing, id: kept.id })) return null;
	try {
		return archivedMessage.parse({ ...kept, key: kept.id }, "message");
	} catch (err) {
		if (err instanceof ValidationError) return null;
		throw err;
	}
}

// ------------------------------------------------------------------ building

export interface ArchiveSource {
	accountId: string;
	fromDevice: string;
	createdAt: number;
	/** The local history, any order. */
	messages: readonly ChatMessage[];
	/** The opened file of an attachment kept in this browser, if there is one. */
	file(attachmentId: string): Promise<Blob | undefined>;
	/** The most the archive may take once sealed (sealedFileSize of its size). */
	maxSealedBytes: number;
}

export interface BuiltArchive {
	archive: Blob;
	/** Messages in it. */
	messages: number;
	/** Files whose bytes are in it. */
	files: number;
	/** The oldest messages, left out because the budget did not hold them. */
	messagesLeftOut: number;
	/** Files kept here whose bytes did not fit (their messages keep the key, so a blob still on the relay can be fetched). */
	filesLeftOut: number;
}

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;
const newestFirst = (a: ChatMessage, b: ChatMessage): number => b.at - a.at || b.key.localeCompare(a.key);

/**
 * The archive of `source`, under its budget: every archivable message while they fit (the
 * newest first, should even the texts not), then the bytes of opened files, the newest first,
 * each one only if it still fits. A message with a file always keeps its attachment (with the
 * file key), whether or not the bytes came along. Sizes are counted exactly: the JSON has no
 * spaces, so each entry adds its own length and a comma.
 */
export async function buildHistoryArchive(source: ArchiveSource): Promise<BuiltArchive> {
	const fits = (plainBytes: number) => sealedFileSize(plainBytes) <= source.maxSealedBytes;
	const frame = { accountId: source.accountId, fromDevice: source.fromDevice, createdAt: source.createdAt, messages: [], files: [] };
	let size = HEAD_BYTES + utf8Length(JSON.stringify(frame));
	if (!fits(size)) throw new HistoryArchiveError("too_large", "Not even an empty history archive fits the budget.");

	const candidates = source.messages.flatMap((m) => archivable(m) ?? []).sort(newestFirst);
	const messages: ChatMessage[] = [];
	for (const message of candidates) {
		const cost = utf8Length(JSON.stringify(message)) + (messages.length > 0 ? 1 : 0);
		if (!fits(size + cost)) break;
		size += cost;
		messages.push(message);
	}

	const entries: FileEntry[] = [];
	const blobs: Blob[] = [];
	let dataBytes = 0;
	let filesLeftOut = 0;
	const taken = new Set<string>();
	for (const { attachment } of messages) {
		if (!attachment || taken.has(attachment.id)) continue;
		taken.add(attachment.id);
		const blob = await source.file(attachment.id);
		// A copy that is not the whole file (storage damaged) would not pass the reader's check.
		if (!blob || blob.size !== attachment.size) continue;
		const entry: FileEntry = { attachmentId: attachment.id, offset: dataBytes, size: blob.size, type: blob.type.slice(0, 200) };
		const cost = utf8Length(JSON.stringify(entry)) + (entries.length > 0 ? 1 : 0) + blob.size;
		if (!fits(size + cost)) {
			filesLeftOut++;
			continue;
		}
		size += cost;
		dataBytes += blob.size;
		entries.push(entry);
		blobs.push(blob);
	}

	// Oldest first, as the history shows them.
	messages.reverse();
	const json = new TextEncoder().encode(JSON.stringify({ ...frame, messages, files: entries }));
	const length = new Uint8Array(4);
	new DataView(length.buffer).setUint32(0, json.length);
	return {
		archive: new Blob([MAGIC_BYTES, length, json, ...blobs], { type: "application/octet-stream" }),
		messages: messages.length,
		files: entries.length,
		messagesLeftOut: candidates.length - messages.length,
		filesLeftOut,
	};
}

// ------------------------------------------------------------------ reading

export interface ArchivedFile {
	attachmentId: string;
	/** A slice of the archive, typed as it was kept. */
	file: Blob;
}

export interface HistoryArchive {
	accountId: string;
	fromDevice: string;
	createdAt: number;
	/** Oldest first, each under its history key (messageKey), as this device keeps it. */
	messages: ChatMessage[];
	files: ArchivedFile[];
}

const malformed = (why: string) => new HistoryArchiveError("malformed", `The history archive is damaged: ${why}.`);

async function bytesOf(blob: Blob): Promise<Uint8Array> {
	return new Uint8Array(await blob.arrayBuffer());
}

/**
 * An archive read back, every field checked (unknown ones refused), or a HistoryArchiveError
 * and nothing at all: it must be of `expected.accountId`, list each message once, and lay its
 * files out one after the other up to its very end, each the whole file of an attachment one
 * of its messages holds.
 */
export async function readHistoryArchive(archive: Blob, expected: { accountId: string }): Promise<HistoryArchive> {
	if (archive.size < HEAD_BYTES) throw new HistoryArchiveError("not_an_archive", "This is not a history archive.");
	const head = await bytesOf(archive.slice(0, HEAD_BYTES));
	if (!MAGIC_BYTES.every((byte, i) => head[i] === byte)) {
		throw new HistoryArchiveError("not_an_archive", "This is not a history archive of a version this app reads.");
	}
	const length = new DataView(head.buffer, head.byteOffset).getUint32(MAGIC_BYTES.length);
	const dataStart = HEAD_BYTES + length;
	if (dataStart > archive.size) throw malformed("its manifest is cut short");

	let parsed: ReturnType<typeof manifest.parse>;
	try {
		const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(await bytesOf(archive.slice(HEAD_BYTES, dataStart)));
		parsed = manifest.parse(JSON.parse(text), "manifest");
	} catch (err) {
		if (err instanceof ValidationError) throw malformed(err.message);
		if (err instanceof SyntaxError || err instanceof TypeError) throw malformed("its manifest is not JSON");
		throw err;
	}
	if (parsed.accountId !== expected.accountId) {
		throw new HistoryArchiveError("other_account", "This history archive is of another account.");
	}

	const attachments = new Map<string, number>();
	const messages: ChatMessage[] = [];
	const keys = new Set<string>();
	for (const message of parsed.messages) {
		if (message.key !== message.id) throw malformed(`message ${message.key} is not kept under its id`);
		// Ids are unique per sender only: two senders' messages may share one.
		const key = messageKey(message);
		if (keys.has(key)) throw malformed(`message ${message.key} is listed twice`);
		keys.add(key);
		messages.push({ ...message, key });
		if (message.attachment && !message.deleted) attachments.set(message.attachment.id, message.attachment.size);
	}

	const files: ArchivedFile[] = [];
	const seen = new Set<string>();
	let next = 0;
	for (const entry of parsed.files) {
		if (seen.has(entry.attachmentId)) throw malformed(`file ${entry.attachmentId} is listed twice`);
		seen.add(entry.attachmentId);
		const size = attachments.get(entry.attachmentId);
		if (size === undefined) throw malformed(`file ${entry.attachmentId} belongs to none of its messages`);
		if (entry.size !== size) throw malformed(`file ${entry.attachmentId} is not the whole file`);
		if (entry.offset !== next) throw malformed(`file ${entry.attachmentId} is not where the files before it end`);
		next += entry.size;
		if (dataStart + next > archive.size) throw malformed(`file ${entry.attachmentId} is cut short`);
		files.push({ attachmentId: entry.attachmentId, file: archive.slice(dataStart + entry.offset, dataStart + next, entry.type) });
	}
	if (dataStart + next !== archive.size) throw malformed("it has bytes after its last file");

	return { accountId: parsed.accountId, fromDevice: parsed.fromDevice, createdAt: parsed.createdAt, messages, files };
}
