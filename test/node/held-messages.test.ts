import { afterEach, describe, expect, it, vi } from "vitest";
import { HeldMessages, type HoldEnd } from "../../worker/relay/messaging/held-messages.ts";

/** Sockets are only keys to the holds: any object stands in for one. */
const socket = () => ({}) as WebSocket;

function track(promise: Promise<HoldEnd>): { end: HoldEnd | undefined } {
	const seen: { end: HoldEnd | undefined } = { end: undefined };
	void promise.then((end) => {
		seen.end = end;
	});
	return seen;
}

describe("held messages", () => {
	afterEach(() => vi.useRealTimers());

	it("end unacked when the hold runs out, and the socket gets no more holds until it acks something", async () => {
		vi.useFakeTimers();
		const held = new HeldMessages();
		const ws = socket();
		const first = track(held.hold(ws, "alice", "m1", 1000));
		await vi.advanceTimersByTimeAsync(999);
		expect(first.end).toBeUndefined();
		await vi.advanceTimersByTimeAsync(1);
		expect(first.end).toEqual({ acked: false });
		expect(held.size).toBe(0);
		expect(held.mayHold(ws)).toBe(false);
		// Another socket is not lagging for it.
		expect(held.mayHold(socket())).toBe(true);
		// Any ack, even of nothing held, says the device is answering again.
		expect(held.take(ws, ["m1"], "alice")).toEqual({ ended: [], rest: ["m1"] });
		expect(held.mayHold(ws)).toBe(true);
	});

	it("are taken by an ack of their sender's id only, and what the ack names beyond them is left for the queue", async () => {
		vi.useFakeTimers();
		const held = new HeldMessages();
		const ws = socket();
		const fromAlice = track(held.hold(ws, "alice", "m1", 1000));
		const fromCarol = track(held.hold(ws, "carol", "m1", 1000));
		const taken = held.take(ws, ["m1", "m2"], "alice");
		expect(taken.rest).toEqual(["m2"]);
		expect(taken.ended.map((e) => e.from)).toEqual(["alice"]);
		for (const e of taken.ended) e.end({ acked: true });
		await vi.advanceTimersByTimeAsync(0);
		expect(fromAlice.end).toEqual({ acked: true });
		expect(fromCarol.end).toBeUndefined();
		// The timer of a taken hold is gone: it does not end it again or mark the socket lagging.
		await vi.advanceTimersByTimeAsync(1000);
		expect(fromCarol.end).toEqual({ acked: false });
		expect(held.size).toBe(0);
	});

	it("are taken from every sender by an ack that names none (older clients)", () => {
		const held = new HeldMessages();
		const ws = socket();
		void held.hold(ws, "alice", "m1", 1000);
		void held.hold(ws, "carol", "m1", 1000);
		const taken = held.take(ws, ["m1"]);
		expect(taken.ended.map((e) => e.from).sort()).toEqual(["alice", "carol"]);
		expect(taken.rest).toEqual([]);
		for (const e of taken.ended) e.end({ acked: true });
	});

	it("all end unacked at once when their socket is released, and only theirs", async () => {
		const held = new HeldMessages();
		const ws = socket();
		const other = socket();
		const a = track(held.hold(ws, "alice", "m1", 60_000));
		const b = track(held.hold(ws, "alice", "m2", 60_000));
		const c = track(held.hold(other, "alice", "m3", 60_000));
		held.release(ws);
		await Promise.resolve();
		expect([a.end, b.end, c.end]).toEqual([{ acked: false }, { acked: false }, undefined]);
		expect(held.size).toBe(1);
		// Released is not lagging: the device did not fail to answer.
		expect(held.mayHold(ws)).toBe(true);
		held.release(other);
	});
});
