import { fromB64u } from "../../common/encoding.ts";
import { ID_PATTERN, type MessageFrame, type MessageKind, REACTION_EMOJIS, type ReactionEmoji } from "../../common/protocol/wire.ts";

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

/**
 * A message named across senders: ids are unique per sender only, so `from` (the account id of
 * its sender: this account's own, or the contact's) is part of the name.
 */
export interface MessageRef {
	id: string;
	from: string;
}

/** A sealed reaction: `emoji` on the message `to`, or "" to take the sender's reaction back. */
export interface Reaction {
	to: MessageRef;
	emoji: ReactionEmoji | "";
}

export interface MessageContent {
	kind: MessageKind;
	text: string;
	replaces?: string;
	attachment?: AttachmentInfo;
	/** An edit's number among the edits of its message (the sender counts them): the highest wins. */
	editSeq?: number;
	/** A text that answers an earlier message of the conversation (its text is not sent again). */
	replyTo?: MessageRef;
	reaction?: Reaction;
}

/** Edits of one message, numbered from 1 by its sender's devices. */
const isEditSeq = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1 && v <= 1_000_000_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const onlyKeys = (o: Record<string, unknown>, allowed: string[]): boolean => Object.keys(o).every((k) => allowed.includes(k));
const isString = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;
const isSize = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

const isId = (v: unknown): v is string => typeof v === "string" && ID_PATTERN.test(v);

/** `{id, from}`, both ids, nothing else. */
export function messageRefOf(v: unknown): MessageRef | null {
	if (!isObject(v) || !onlyKeys(v, ["id", "from"]) || !isId(v.id) || !isId(v.from)) return null;
	return { id: v.id, from: v.from };
}

const EMOJIS: ReadonlySet<string> = new Set<string>(REACTION_EMOJIS);
export const isReactionEmoji = (v: unknown): v is ReactionEmoji => typeof v === "string" && EMOJIS.has(v);

/**
 * A reaction names a message of the conversation: one of the two accounts' (the relay routes
 * it between them, so `from` must be the sender or the recipient).
 */
function reactionOf(v: unknown, frame: MessageFrame): Reaction | null {
	if (!isObject(v) || !onlyKeys(v, ["to", "emoji"])) return null;
	const to = messageRefOf(v.to);
	if (!to || (to.from !== frame.from && to.from !== frame.to)) return null;
	if (v.emoji !== "" && !isReactionEmoji(v.emoji)) return null;
	return { to, emoji: v.emoji };
}

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
		case "text": {
			if (!onlyKeys(body, ["text", "replyTo"]) || !isString(body.text, 1_000_000)) return null;
			if (body.replyTo === undefined) return { kind: "text", text: body.text };
			const replyTo = messageRefOf(body.replyTo);
			// Only a message of this conversation can be answered.
			if (!replyTo || (replyTo.from !== frame.from && replyTo.from !== frame.to)) return null;
			return { kind: "text", text: body.text, replyTo };
		}
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
		case "reaction": {
			// Named in the sealed body only: a routed `replaces` would have the relay swap or drop the original.
			if (!onlyKeys(body, ["reaction"]) || frame.replaces !== undefined || frame.attachmentId !== undefined) return null;
			const reaction = reactionOf(body.reaction, frame);
			return reaction ? { kind: "reaction", text: "", reaction } : null;
		}
	}
}
