import type { ContactState, ErrorCode } from "../../../common/protocol/wire.ts";

/**
 * The contact state machine, kept pure so every transition is testable without a runtime.
 * "mine" events are taken by this account's device; "theirs" arrive from the peer's object.
 */
export type ContactEvent = "request" | "accept" | "decline" | "block" | TheirEvent;
export type TheirEvent = "their_request" | "their_accept" | "their_decline";

export type Transition = { next: ContactState } | { refuse: ErrorCode; why: string } | { ignore: true };

export function transition(current: ContactState | undefined, event: ContactEvent): Transition {
	switch (event) {
		case "request":
			if (current === undefined || current === "declined") return { next: "outgoing" };
			if (current === "outgoing") return { refuse: "conflict", why: "A contact request is already pending." };
			if (current === "incoming") return { refuse: "conflict", why: "They already asked you; accept their request instead." };
			if (current === "accepted") return { refuse: "already_contact", why: "You are already contacts." };
			return { refuse: "forbidden", why: "You blocked this account." };
		case "accept":
			if (current === "incoming") return { next: "accepted" };
			return { refuse: "not_found", why: "There is no contact request from this account to accept." };
		case "decline":
			if (current === "incoming") return { next: "declined" };
			return { refuse: "not_found", why: "There is no contact request from this account to decline." };
		case "block":
			return { next: "blocked" };
		// A blocked peer's events change nothing anyone sees: blocking must not be observable.
		// What they do to the relationship beneath the block is `beneathBlock`'s business.
		case "their_request":
			if (current === undefined || current === "declined") return { next: "incoming" };
			return { ignore: true };
		case "their_accept":
			if (current === "outgoing") return { next: "accepted" };
			return { ignore: true };
		case "their_decline":
			if (current === "outgoing") return { next: "declined" };
			return { ignore: true };
	}
}

/**
 * A block hides the relationship rather than ending it: beneath it stays what it was, a
 * stranger counting as declined (either side may ask, as with no contact at all). Blocking
 * again keeps what the first block hid.
 */
export function hiddenByBlock(current: ContactState | undefined, beneath: ContactState | undefined): ContactState {
	if (current === "blocked") return beneath ?? "declined";
	return current ?? "declined";
}

/**
 * The peer's own steps go on beneath the block exactly as they would without it, unseen:
 * their object must hear the answers it would hear if nobody had blocked them (it may ask,
 * accept our earlier request, decline it), and unblocking then finds what they did.
 */
export function beneathBlock(beneath: ContactState, event: TheirEvent): ContactState {
	const step = transition(beneath, event);
	return "next" in step ? step.next : beneath;
}

/** Unblocking brings back the relationship the block hid (as the peer's steps left it). */
export function unblock(current: ContactState | undefined, beneath: ContactState | undefined): Transition {
	if (current !== "blocked") return { refuse: "not_found", why: "You have not blocked this account." };
	return { next: hiddenByBlock(current, beneath) };
}
