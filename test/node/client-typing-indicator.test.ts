import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stillTyping, TypingIndicator } from "../../client/app/features/typing-indicator.ts";
import { ALICE, BOB, storeWith } from "./client-fakes.ts";

describe("the typing indicator", () => {
	beforeEach(() => {
		vi.useFakeTimers();
		vi.setSystemTime(100_000);
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("tells a contact that the user types at most every three seconds", () => {
		const client = { sendTyping: vi.fn() };
		const typing = new TypingIndicator(storeWith(), client);
		typing.userTyping(BOB);
		vi.advanceTimersByTime(2_999);
		typing.userTyping(BOB);
		typing.userTyping(ALICE);
		expect(client.sendTyping.mock.calls).toEqual([[BOB], [ALICE]]);
		vi.advanceTimersByTime(1);
		typing.userTyping(BOB);
		expect(client.sendTyping.mock.calls).toEqual([[BOB], [ALICE], [BOB]]);
	});

	it("goes on when a typing notice cannot be sent", () => {
		const client = {
			sendTyping: vi.fn(() => {
				throw new Error("not connected");
			}),
		};
		expect(() => new TypingIndicator(storeWith(), client).userTyping(BOB)).not.toThrow();
	});

	it("shows a contact as typing until six seconds after their latest notice, then clears it", () => {
		const store = storeWith();
		const typing = new TypingIndicator(store, { sendTyping: vi.fn() });
		typing.peerTyping(BOB);
		expect(store.state.typing).toEqual({ [BOB]: 106_000 });
		vi.advanceTimersByTime(4_000);
		typing.peerTyping(BOB);
		expect(store.state.typing).toEqual({ [BOB]: 110_000 });
		vi.advanceTimersByTime(6_000);
		expect(store.state.typing).toEqual({ [BOB]: 110_000 });
		vi.advanceTimersByTime(50);
		expect(store.state.typing).toEqual({});
	});

	it("stops showing a contact as typing once their message came", () => {
		const store = storeWith();
		const typing = new TypingIndicator(store, { sendTyping: vi.fn() });
		typing.peerTyping(BOB);
		typing.peerSent(BOB);
		expect(store.state.typing).toEqual({});
	});

	it("keeps only those whose time has not run out", () => {
		expect(stillTyping({ a: 10, b: 11, c: 12 }, 11)).toEqual({ c: 12 });
	});
});
