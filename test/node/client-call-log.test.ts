import { describe, expect, it } from "vitest";
import { type CallFacts, callLogRecord, callOutcome, callRequestKey, formatClock } from "../../client/app/call-log.ts";
import { callRequestNotNowText } from "../../client/app/call-text.ts";
import { CallLog } from "../../client/app/features/call-log.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { BOB, contactOf, MemoryHistory, received, settle, storeWith } from "./client-fakes.ts";

const facts = (patch: Partial<CallFacts>): CallFacts => ({
	callId: "call1",
	peerId: BOB,
	direction: "outgoing",
	video: true,
	reason: "hangup",
	byMe: false,
	connected: false,
	durationMs: 0,
	startedAt: 100,
	...patch,
});

describe("call log lines", () => {
	it("say how each call ended, from either side", () => {
		const cases: Array<[Partial<CallFacts>, string | null]> = [
			[{ connected: true, reason: "hangup", durationMs: 134_400 }, "Video call · 2:14"],
			[{ connected: true, video: false, reason: "failed", durationMs: 7_000 }, "Audio call · 0:07"],
			[{ direction: "incoming", reason: "timeout", video: false }, "Missed call"],
			[{ direction: "incoming", reason: "hangup" }, "Missed video call"],
			[{ direction: "incoming", reason: "hangup", byMe: true }, "Declined"],
			[{ direction: "incoming", reason: "declined_elsewhere" }, "Declined"],
			[{ direction: "incoming", reason: "answered_elsewhere" }, null],
			[{ reason: "declined" }, "Declined"],
			[{ reason: "busy" }, "Declined"],
			[{ reason: "timeout" }, "No answer"],
			[{ reason: "hangup", byMe: true }, "No answer"],
			[{ reason: "failed" }, "Call failed"],
		];
		for (const [patch, text] of cases) expect([patch, callLogRecord(facts(patch))?.text ?? null]).toEqual([patch, text]);
		expect(callOutcome({ direction: "incoming", reason: "error", byMe: false, connected: false })).toBe("missed");
		expect(formatClock(3_723_000)).toBe("1:02:03");
	});

	it("are local records without a relay id (what every message action needs), unread only when missed", () => {
		const missed = callLogRecord(facts({ direction: "incoming", reason: "timeout" }));
		const done = callLogRecord(facts({ connected: true, durationMs: 5_000 }));
		expect(missed).toMatchObject({ key: "call:call1", peerId: BOB, outgoing: false, at: 100, unread: 1, call: { outcome: "missed" } });
		expect(done).toMatchObject({ outgoing: true, state: "sent", call: { outcome: "ended", durationMs: 5_000, direction: "outgoing" } });
		expect(done).not.toHaveProperty("unread");
		for (const record of [missed, done]) expect(record).not.toHaveProperty("id");
	});

	it("sort with the messages by time, are kept once, and a missed one counts as unread", async () => {
		const history = new MemoryHistory();
		const store = storeWith({ contacts: [contactOf(BOB, "accepted")] });
		const conversations = new Conversations(store, history, () => false);
		await history.put(received("m1", BOB, 50));
		await history.put(received("m2", BOB, 150));
		await conversations.load(BOB);
		const log = new CallLog(store, history, conversations);
		const missed = callLogRecord(facts({ direction: "incoming", reason: "timeout" }))!;
		await log.record(missed);
		await log.record(missed);
		expect(store.state.conversations[BOB]?.map((m) => m.key)).toEqual([
			received("m1", BOB, 50).key,
			"call:call1",
			received("m2", BOB, 150).key,
		]);
		expect(store.state.unread).toEqual({ [BOB]: 1 });
		expect(await history.unreadCounts()).toEqual({ [BOB]: 1 });
		// An ended call is no unread message.
		await log.record(callLogRecord(facts({ callId: "call2", connected: true, durationMs: 1000, startedAt: 200 }))!);
		expect(store.state.unread).toEqual({ [BOB]: 1 });
		expect((await history.conversation(BOB)).map((m) => m.key)).toContain("call:call2");
	});
});

describe("call requests in the chat", () => {
	it("show once per request as unread, and go once answered", async () => {
		const history = new MemoryHistory();
		const store = storeWith({ contacts: [{ ...contactOf(BOB, "accepted"), handle: "bob" }] });
		const conversations = new Conversations(store, history, () => false);
		await conversations.load(BOB);
		const log = new CallLog(store, history, conversations);
		await log.asked(BOB, 1_000);
		// Sent again when the device connects while it waits: not counted twice.
		await log.asked(BOB, 1_000);
		expect(store.state.conversations[BOB]).toEqual([
			expect.objectContaining({ key: callRequestKey(BOB), text: "@bob wants to call you", callRequest: true, unread: 1 }),
		]);
		expect(store.state.unread).toEqual({ [BOB]: 1 });
		await log.answered(BOB);
		await settle();
		expect(store.state.conversations[BOB]).toEqual([]);
		expect(store.state.unread).toEqual({});
		expect(await history.get(callRequestKey(BOB))).toBeUndefined();
		// Answered again (another device's frame after this one's): nothing left to do.
		await log.answered(BOB);
		expect(store.state.unread).toEqual({});
	});

	it("tell a caller who is turned down calmly, without saying more", () => {
		expect(callRequestNotNowText("@bob")).toEqual({
			text: "@bob can't take calls from you right now.",
			tone: "info",
			canRetry: false,
			autoClose: false,
		});
	});
});
