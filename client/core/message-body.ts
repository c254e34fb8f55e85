import { fromB64u } from "../../common/encoding.ts";
import type { MessageFrame, MessageKind } from "../../common/protocol/wire.ts";

/** What travels sealed with an attachment message: everything needed to fetch, open and check the file. */
export interface AttachmentInfo {
	id: string;
	/** The sending account; the blob is stored under it. */
	owner: string;
	/** The file key (base64url); it never leaves the sealed message. */
	key: string;
	size: number;
	type: string;
	name: string;
	/** SHA-256 of the plaintext, base64url. */
	sha256: string;
}

export interface MessageContent {
	kind: MessageKind;
	text: string;
	replaces?: string;
	attachment?: AttachmentInfo;
	/** An edit's number among the edits of its message (the sender counts them): the highest wins. */
	editSeq?: number;
}

/** Edits of one message, numbered from 1 by its sender's devices. */
const isEditSeq = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1 && v <= 1_000_000_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const onlyKeys = (o: Record<string, unknown>, allowed: string[]): boolean => Object.keys(o).every((k) => allowed.includes(k));
const isString = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;
const isSize = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function attachmentOf(v: unknown, frame: MessageFrame): AttachmentInfo | null {
	if (!isObject(v) || !onlyKeys(v, ["id", "owner", "key", "size", "type", "name", "sha256"])) return null;
	const { id, owner, key, size, type, name, sha256 } = v;
	if (
		!isString(id, 22) ||
		!isString(owner, 22) ||
		!isString(key, 43) ||
		!isSize(size) ||
		!isString(type, 200) ||
		!isString(name, 500) ||
		!isString(sha256, 43)
	) {
		return null;
	}
	// Routing and sealed content must agree, and the blob must be the sender's own.
	if (id !== frame.attachmentId || owner !== frame.from) return null;
	try {
		if (fromB64u(key).length !== 32) return null;
	} catch {
		return null;
	}
	return { id, owner, key, size, type, name, sha256 };
}

/**
 * The sealed body of a message, checked for its kind: validated, never cast, since a contact's
 * device (or a damaged one) may seal anything.
 * Returns null for a body that does not fit its kind or disagrees with the routing fields.
 */
export function readBody(frame: MessageFrame, body: unknown): MessageContent | null {
	if (!isObject(body)) return null;
	switch (frame.kind) {
		case "text":
			return onlyKeys(body, ["text"]) && isString(body.text, 1_000_000) ? { kind: "text", text: body.text } : null;
		case "edit":
			if (!onlyKeys(body, ["text", "replaces", "seq"]) || !isString(body.text, 1_000_000) || body.replaces !== frame.replaces) return null;
			// Sealed, so the relay cannot renumber it; an edit without one (an older client) counts as the first.
			if (body.seq !== undefined && !isEditSeq(body.seq)) return null;
			return { kind: "edit", text: body.text, replaces: frame.replaces as string, editSeq: body.seq ?? 1 };
		case "delete":
			if (!onlyKeys(body, ["replaces"]) || body.replaces !== frame.replaces) return null;
			return { kind: "delete", text: "", replaces: frame.replaces as string };
		case "attachment": {
			if (!onlyKeys(body, ["attachment", "text"])) return null;
			const attachment = attachmentOf(body.attachment, frame);
			const text = body.text === undefined ? "" : body.text;
			if (!attachment || !isString(text, 100_000)) return null;
			return { kind: "attachment", text, attachment };
		}
	}
}
