import type { MessengerClient } from "../../core/sdk.ts";
import type { MessengerStore } from "../store.ts";

/** How long a contact counts as typing after their last notice (they send one every few seconds while they type). */
export const TYPING_SHOWN_MS = 6_000;
/** Often enough that the other side's indicator does not lapse while the user types. */
export const TYPING_SENT_EVERY_MS = 3_000;
/** Expiry runs this much after the deadline, so that the deadline has surely passed. */
const EXPIRY_SLACK_MS = 50;

/** Who is still typing at `now`. */
export function stillTyping(typing: Readonly<Record<string, number>>, now: number): Record<string, number> {
	return Object.fromEntries(Object.entries(typing).filter(([, until]) => until > now));
}

/** Who types, with `peerId` no longer. */
export function withoutTyping(typing: Readonly<Record<string, number>>, peerId: string): Record<string, number> {
	const { [peerId]: _, ...rest } = typing;
	return rest;
}

/** "… is typing": the notices this device sends while the user types, and the ones it shows. */
export class TypingIndicator {
	private readonly sentAt = new Map<string, number>();
	private timer: ReturnType<typeof setTimeout> | null = null;

	constructor(
		private readonly store: MessengerStore,
		private readonly client: Pick<MessengerClient, "sendTyping">,
	) {}

	/** The user is typing to this contact: tell their devices, at most every few seconds. */
	userTyping(peerId: string): void {
		const last = this.sentAt.get(peerId) ?? 0;
		if (Date.now() - last < TYPING_SENT_EVERY_MS) return;
		this.sentAt.set(peerId, Date.now());
		try {
			this.client.sendTyping(peerId);
		} catch {
			// Best effort: a typing notice that does not go out is not worth a message.
		}
	}

	/** The user sent a message, which ends their indicator on the other side: the next keystroke tells again. */
	userSent(peerId: string): void {
		this.sentAt.delete(peerId);
	}

	/** A `typing` notice from a contact. */
	peerTyping(peerId: string): void {
		this.store.update({ typing: { ...this.store.state.typing, [peerId]: Date.now() + TYPING_SHOWN_MS } });
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = setTimeout(() => this.expire(), TYPING_SHOWN_MS + EXPIRY_SLACK_MS);
	}

	/** A message from the contact came: what they typed is there now. */
	peerSent(peerId: string): void {
		this.store.update({ typing: withoutTyping(this.store.state.typing, peerId) });
	}

	private expire(): void {
		this.timer = null;
		const now = Date.now();
		const typing = stillTyping(this.store.state.typing, now);
		this.store.update({ typing });
		const next = Math.min(...Object.values(typing));
		if (Number.isFinite(next)) this.timer = setTimeout(() => this.expire(), next - now + EXPIRY_SLACK_MS);
	}
}
