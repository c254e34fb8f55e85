import type { ContactState, ErrorCode } from "../../../common/protocol/wire.ts";

/**
 * The contact state machine, kept pure so every transition is testable without a runtime.
 * "mine" events are taken by this account's device; "theirs" arrive from the peer's object.
 */
export type ContactEvent = "request" | "accept" | "decline" | "block" | "their_request" | "their_accept" | "their_decline";

export type Transition = { next: ContactState } | { refuse: ErrorCode; why: string } | { ignore: true };

export function transition(current: ContactState | undefined, event: ContactEvent): Transition {
	switch (event) {
		case "request":
			if (current === undefined || current === "declined") return { next: "outgoing" };
			if (current === "outgoing") return { refuse: "conflict", why: "A contact request is already pending." };
			if (current === "incoming") return { refuse: "conflict", why: "They already asked you; accept their request instead." };
			if (current === "accepted") return { refuse: "conflict", why: "You are already contacts." };
			return { refuse: "forbidden", why: "You blocked this account." };
		case "accept":
			if (current === "incoming") return { next: "accepted" };
			return { refuse: "not_found", why: "There is no contact request from this account to accept." };
		case "decline":
			if (current === "incoming") return { next: "declined" };
			return { refuse: "not_found", why: "There is no contact request from this account to decline." };
		case "block":
			return { next: "blocked" };
		// A blocked peer's events are dropped without telling them: blocking must not be observable.
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
