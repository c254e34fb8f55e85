import { describe, expect, it } from "vitest";
import type { ContactState, ErrorCode } from "../../common/protocol/wire.ts";
import {
	beneathBlock,
	type ContactEvent,
	hiddenByBlock,
	type Transition,
	transition,
	unblock,
} from "../../worker/relay/contacts/contact-rules.ts";

type From = ContactState | undefined;
const STATES: readonly From[] = [undefined, "outgoing", "incoming", "accepted", "declined", "blocked"];
const EVENTS: readonly ContactEvent[] = ["request", "accept", "decline", "block", "their_request", "their_accept", "their_decline"];

/** What a cell of the table says: the next state, a refusal with its code, or "ignore". */
type Cell = ContactState | { refuse: ErrorCode } | "ignore";
const conflict = { refuse: "conflict" } as const;
const forbidden = { refuse: "forbidden" } as const;
const notFound = { refuse: "not_found" } as const;
const alreadyContact = { refuse: "already_contact" } as const;

// The whole table, row = current state (none = no contact yet), column = event.
const TABLE: Record<string, Record<ContactEvent, Cell>> = {
	none: {
		request: "outgoing",
		accept: notFound,
		decline: notFound,
		block: "blocked",
		their_request: "incoming",
		their_accept: "ignore",
		their_decline: "ignore",
	},
	outgoing: {
		request: conflict,
		accept: notFound,
		decline: notFound,
		block: "blocked",
		their_request: "ignore",
		their_accept: "accepted",
		their_decline: "declined",
	},
	incoming: {
		request: conflict,
		accept: "accepted",
		decline: "declined",
		block: "blocked",
		their_request: "ignore",
		their_accept: "ignore",
		their_decline: "ignore",
	},
	accepted: {
		request: alreadyContact,
		accept: notFound,
		decline: notFound,
		block: "blocked",
		their_request: "ignore",
		their_accept: "ignore",
		their_decline: "ignore",
	},
	declined: {
		request: "outgoing",
		accept: notFound,
		decline: notFound,
		block: "blocked",
		their_request: "incoming",
		their_accept: "ignore",
		their_decline: "ignore",
	},
	blocked: {
		request: forbidden,
		accept: notFound,
		decline: notFound,
		block: "blocked",
		their_request: "ignore",
		their_accept: "ignore",
		their_decline: "ignore",
	},
};

const rowName = (state: From) => state ?? "none";

/** The table cell a transition amounts to; a refusal must also say why. */
function cellOf(step: Transition): Cell {
	if ("next" in step) return step.next;
	if ("ignore" in step) return "ignore";
	expect(step.why.length).toBeGreaterThan(0);
	return { refuse: step.refuse };
}

const describeCell = (cell: Cell) =>
	typeof cell === "string" ? (cell === "ignore" ? "is ignored" : `→ ${cell}`) : `is refused (${cell.refuse})`;

describe("transition: the whole table", () => {
	const cases = STATES.flatMap((state) =>
		EVENTS.map((event) => {
			const expected = TABLE[rowName(state)]?.[event] as Cell;
			return { state, event, expected, name: `${rowName(state)} + ${event} ${describeCell(expected)}` };
		}),
	);

	it("has a cell for each of the 6 states × 7 events", () => {
		expect(cases).toHaveLength(42);
		expect(Object.keys(TABLE)).toEqual(STATES.map(rowName));
	});

	it.each(cases)("$name", ({ state, event, expected }) => {
		expect(cellOf(transition(state, event))).toEqual(expected);
	});
});

/**
 * Two accounts' objects, wired the way the relay wires them: a step taken on one side that
 * changes its state tells the peer (request → their_request, accept → their_accept,
 * decline → their_decline); a block tells the peer nothing through the contact table.
 */
class Pair {
	state: Record<"a" | "b", From> = { a: undefined, b: undefined };

	act(side: "a" | "b", event: "request" | "accept" | "decline" | "block"): Transition {
		const step = transition(this.state[side], event);
		if (!("next" in step)) return step;
		this.state[side] = step.next;
		const peer = side === "a" ? "b" : "a";
		const told: Record<typeof event, ContactEvent | null> = {
			request: "their_request",
			accept: "their_accept",
			decline: "their_decline",
			block: null,
		};
		const theirs = told[event];
		if (theirs) this.receive(peer, theirs);
		return step;
	}

	receive(side: "a" | "b", event: ContactEvent): Transition {
		const step = transition(this.state[side], event);
		if ("next" in step) this.state[side] = step.next;
		return step;
	}
}

describe("transition: a contact's life", () => {
	it("asking a stranger makes the contact outgoing, and reaches them as incoming", () => {
		const pair = new Pair();
		expect(pair.act("a", "request")).toEqual({ next: "outgoing" });
		expect(pair.state).toEqual({ a: "outgoing", b: "incoming" });
	});

	it("accepting a request makes both sides accepted", () => {
		const pair = new Pair();
		pair.act("a", "request");
		expect(pair.act("b", "accept")).toEqual({ next: "accepted" });
		expect(pair.state).toEqual({ a: "accepted", b: "accepted" });
	});

	it("declining a request makes both sides declined", () => {
		const pair = new Pair();
		pair.act("a", "request");
		expect(pair.act("b", "decline")).toEqual({ next: "declined" });
		expect(pair.state).toEqual({ a: "declined", b: "declined" });
	});

	it("after a decline either side may ask again, and the other side sees a fresh incoming request", () => {
		const asker = new Pair();
		asker.act("a", "request");
		asker.act("b", "decline");
		expect(asker.act("a", "request")).toEqual({ next: "outgoing" });
		expect(asker.state).toEqual({ a: "outgoing", b: "incoming" });

		const decliner = new Pair();
		decliner.act("a", "request");
		decliner.act("b", "decline");
		expect(decliner.act("b", "request")).toEqual({ next: "outgoing" });
		expect(decliner.state).toEqual({ a: "incoming", b: "outgoing" });
	});

	it("a request to someone who already asked us accepts nothing by itself: it is refused as a conflict and points to accepting", () => {
		const pair = new Pair();
		pair.act("a", "request");
		const step = pair.act("b", "request");
		expect(step).toMatchObject({ refuse: "conflict" });
		expect("why" in step && step.why).toMatch(/accept their request/);
		expect(pair.state).toEqual({ a: "outgoing", b: "incoming" });
	});

	it("asking twice is a conflict: the first request is still pending", () => {
		expect(transition("outgoing", "request")).toEqual({ refuse: "conflict", why: "A contact request is already pending." });
	});

	it("asking an existing contact is refused with its own code: you are already contacts", () => {
		expect(transition("accepted", "request")).toEqual({ refuse: "already_contact", why: "You are already contacts." });
	});

	it("one cannot accept or decline one's own outgoing request, nor a request that never came: not_found", () => {
		for (const state of [undefined, "outgoing", "declined"] as const) {
			expect(transition(state, "accept")).toMatchObject({ refuse: "not_found" });
			expect(transition(state, "decline")).toMatchObject({ refuse: "not_found" });
		}
	});

	it("accepting or declining an existing contact again is not_found, not a silent success", () => {
		expect(transition("accepted", "accept")).toEqual({
			refuse: "not_found",
			why: "There is no contact request from this account to accept.",
		});
		expect(transition("accepted", "decline")).toEqual({
			refuse: "not_found",
			why: "There is no contact request from this account to decline.",
		});
	});

	it("their decline does not undo a contact we already have", () => {
		expect(transition("accepted", "their_decline")).toEqual({ ignore: true });
	});

	it("an accept or decline we never asked for is ignored, so a peer cannot force a contact on us", () => {
		for (const state of [undefined, "incoming", "declined"] as const) {
			expect(transition(state, "their_accept")).toEqual({ ignore: true });
			expect(transition(state, "their_decline")).toEqual({ ignore: true });
		}
	});

	it("a repeated request from someone who already asked us, or is already a contact, is ignored", () => {
		expect(transition("incoming", "their_request")).toEqual({ ignore: true });
		expect(transition("accepted", "their_request")).toEqual({ ignore: true });
	});

	it("two requests that cross in flight are both ignored, leaving both sides outgoing where neither can accept, decline or ask again", () => {
		// Each side has saved its own request before the other's arrives.
		const pair = new Pair();
		pair.state = { a: "outgoing", b: "outgoing" };
		expect(pair.receive("a", "their_request")).toEqual({ ignore: true });
		expect(pair.receive("b", "their_request")).toEqual({ ignore: true });
		expect(pair.state).toEqual({ a: "outgoing", b: "outgoing" });
		for (const side of ["a", "b"] as const) {
			expect(pair.act(side, "request")).toMatchObject({ refuse: "conflict" });
			expect(pair.act(side, "accept")).toMatchObject({ refuse: "not_found" });
			expect(pair.act(side, "decline")).toMatchObject({ refuse: "not_found" });
		}
	});
});

describe("transition: blocking", () => {
	it("blocking works from every state, a stranger and an existing contact included", () => {
		for (const state of STATES) expect(transition(state, "block")).toEqual({ next: "blocked" });
	});

	it("a blocked peer's request, accept and decline are dropped silently (ignored, never refused), so blocking is not observable", () => {
		for (const event of ["their_request", "their_accept", "their_decline"] as const) {
			expect(transition("blocked", event)).toEqual({ ignore: true });
		}
	});

	it("a blocked peer who asks again stays blocked on our side and hears nothing back", () => {
		const pair = new Pair();
		pair.act("a", "request");
		pair.act("b", "block");
		expect(pair.state).toEqual({ a: "outgoing", b: "blocked" });
		expect(pair.act("a", "request")).toMatchObject({ refuse: "conflict" });
		expect(pair.receive("b", "their_request")).toEqual({ ignore: true });
		expect(pair.state.b).toBe("blocked");
	});

	it("asking someone we blocked is forbidden, and says so", () => {
		expect(transition("blocked", "request")).toEqual({ refuse: "forbidden", why: "You blocked this account." });
	});

	it("blocking someone already blocked keeps them blocked rather than refusing", () => {
		expect(transition("blocked", "block")).toEqual({ next: "blocked" });
	});
});

describe("beneath a block", () => {
	it("a block hides the relationship as it was, a stranger counting as declined, and blocking again keeps what the first block hid", () => {
		for (const state of ["outgoing", "incoming", "accepted", "declined"] as const) expect(hiddenByBlock(state, undefined)).toBe(state);
		expect(hiddenByBlock(undefined, undefined)).toBe("declined");
		expect(hiddenByBlock("blocked", "accepted")).toBe("accepted");
	});

	it("the blocked peer's steps move the hidden relationship exactly as they would move a shown one", () => {
		const seen = (state: ContactState, event: "their_request" | "their_accept" | "their_decline") => {
			const step = transition(state, event);
			return "next" in step ? step.next : state;
		};
		for (const state of ["outgoing", "incoming", "accepted", "declined"] as const) {
			for (const event of ["their_request", "their_accept", "their_decline"] as const) {
				expect([state, event, beneathBlock(state, event)]).toEqual([state, event, seen(state, event)]);
			}
		}
		// The cases that matter: they accept our earlier request, or ask us after we blocked them unasked.
		expect(beneathBlock("outgoing", "their_accept")).toBe("accepted");
		expect(beneathBlock("declined", "their_request")).toBe("incoming");
	});

	it("unblocking brings back what the block hid, and is refused where there is no block", () => {
		expect(unblock("blocked", "accepted")).toEqual({ next: "accepted" });
		expect(unblock("blocked", "incoming")).toEqual({ next: "incoming" });
		expect(unblock("blocked", undefined)).toEqual({ next: "declined" });
		for (const state of [undefined, "outgoing", "incoming", "accepted", "declined"] as const) {
			expect(unblock(state, undefined)).toEqual({ refuse: "not_found", why: "You have not blocked this account." });
		}
	});
});
