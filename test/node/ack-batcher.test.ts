import { afterEach, describe, expect, it, vi } from "vitest";
import { ACK_DELAY_MS, AckBatcher } from "../../client/core/ack-batcher.ts";
import type { ClientFrame } from "../../common/protocol/wire.ts";

const key = { version: 1, key: new Uint8Array(32) };

function batcher() {
	const written: ClientFrame[] = [];
	const sealed: string[][] = [];
	const acks = new AckBatcher(
		(frame) => written.push(frame) > 0,
		(_to, _key, ids) => {
			sealed.push(ids);
			return { id: `r${sealed.length}`, keyVersion: 1, nonce: "n", box: "b" };
		},
	);
	return { acks, written, sealed };
}

describe("the ack batcher", () => {
	afterEach(() => vi.useRealTimers());

	it("acks messages that came close together in one frame with one receipt, a moment after the queue ran dry", () => {
		vi.useFakeTimers();
		const { acks, written, sealed } = batcher();
		acks.add("bob", "m1", key);
		acks.drained();
		acks.add("bob", "m2", key);
		acks.drained();
		vi.advanceTimersByTime(ACK_DELAY_MS - 1);
		expect(written).toEqual([]);
		vi.advanceTimersByTime(1);
		expect(written).toEqual([{ type: "ack", ids: ["m1", "m2"], from: "bob", receipt: { id: "r1", keyVersion: 1, nonce: "n", box: "b" } }]);
		expect(sealed).toEqual([["m1", "m2"]]);
		// Nothing waits, so nothing more is written.
		acks.drained();
		vi.advanceTimersByTime(ACK_DELAY_MS);
		expect(written).toHaveLength(1);
	});

	it("does not wait with a full batch, and a flush (as when the client closes) sends what waits at once", () => {
		vi.useFakeTimers();
		const { acks, written } = batcher();
		for (let i = 0; i < 50; i++) acks.add("carol", `c${i}`);
		expect(written).toHaveLength(1);
		expect((written[0] as { ids: string[] }).ids).toHaveLength(50);
		acks.add("dave", "d1");
		acks.drained();
		acks.flush();
		expect(written.map((f) => (f as { from: string }).from)).toEqual(["carol", "dave"]);
		vi.advanceTimersByTime(ACK_DELAY_MS);
		expect(written).toHaveLength(2);
	});

	it("with no delay (a socket that acks at once) acks the moment the queue runs dry, in one frame per sender", () => {
		vi.useFakeTimers();
		const written: ClientFrame[] = [];
		const acks = new AckBatcher((frame) => written.push(frame) > 0, null, 0);
		acks.add("bob", "m1");
		acks.add("carol", "m2");
		expect(written).toEqual([]);
		acks.drained();
		expect(written).toEqual([
			{ type: "ack", ids: ["m1"], from: "bob" },
			{ type: "ack", ids: ["m2"], from: "carol" },
		]);
		acks.drained();
		expect(written).toHaveLength(2);
	});
});
