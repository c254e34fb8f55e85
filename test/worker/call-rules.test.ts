import { describe, expect, it } from "vitest";
import {
	type CallRecord,
	checkCallLimits,
	incomingStep,
	outgoingStep,
	signalSizeRefusal,
} from "../../worker/relay/calls/call-signaling.ts";

const NOW = 1_000_000;
const ringingAsCaller: CallRecord = {
	callId: "call",
	peerId: "bob",
	role: "caller",
	ownDevice: "a1",
	peerDevice: null,
	state: "ringing",
	expiresAt: NOW + 1,
};
const ringingAsCallee: CallRecord = { ...ringingAsCaller, peerId: "alice", role: "callee", ownDevice: null, peerDevice: "a1" };
const activeAsCallee: CallRecord = { ...ringingAsCallee, ownDevice: "b2", state: "active" };
const activeAsCaller: CallRecord = { ...ringingAsCaller, peerDevice: "b2", state: "active" };

describe("call routing rules", () => {
	it("start a call only with an offer under an unused id", () => {
		expect(outgoingStep(undefined, { kind: "offer", to: "bob" }, "a1", NOW)).toEqual({ start: true });
		expect(outgoingStep(undefined, { kind: "ice", to: "bob" }, "a1", NOW)).toMatchObject({ refuse: "not_found" });
		// An expired record still blocks its id: a call id is never reused.
		expect(outgoingStep({ ...ringingAsCaller, expiresAt: NOW }, { kind: "offer", to: "bob" }, "a1", NOW)).toMatchObject({
			refuse: "not_found",
		});
		expect(outgoingStep(ringingAsCaller, { kind: "offer", to: "bob" }, "a1", NOW)).toMatchObject({ refuse: "conflict" });
	});

	it("let only the calling device speak for the caller, and only the accepting device for the callee", () => {
		expect(outgoingStep(ringingAsCaller, { kind: "ice", to: "bob" }, "a2", NOW)).toMatchObject({ refuse: "not_found" });
		expect(outgoingStep(ringingAsCaller, { kind: "ice", to: "carol" }, "a1", NOW)).toMatchObject({ refuse: "not_found" });
		expect(outgoingStep(activeAsCallee, { kind: "answer", to: "alice" }, "b1", NOW)).toMatchObject({ refuse: "conflict" });
		expect(outgoingStep(activeAsCallee, { kind: "answer", to: "alice" }, "b2", NOW)).toEqual({ forward: true, after: "keep" });
		expect(incomingStep(ringingAsCallee, { kind: "ice", from: "alice", fromDevice: "a2" }, NOW)).toMatchObject({ refuse: "not_found" });
		expect(incomingStep(activeAsCaller, { kind: "ice", from: "bob", fromDevice: "b1" }, NOW)).toMatchObject({ refuse: "not_found" });
	});

	it("while ringing: any callee device may ring, accept (stopping the others) or turn the call down for all", () => {
		expect(outgoingStep(ringingAsCallee, { kind: "ringing", to: "alice" }, "b1", NOW)).toEqual({ forward: true, after: "keep" });
		expect(outgoingStep(ringingAsCallee, { kind: "accept", to: "alice" }, "b1", NOW)).toEqual({
			forward: true,
			after: "activate",
			others: "answered_elsewhere",
		});
		for (const kind of ["decline", "busy", "hangup"] as const) {
			expect(outgoingStep(ringingAsCallee, { kind, to: "alice" }, "b1", NOW)).toEqual({
				forward: true,
				after: "end",
				others: "declined_elsewhere",
			});
		}
		expect(outgoingStep(ringingAsCallee, { kind: "ice", to: "alice" }, "b1", NOW)).toMatchObject({ refuse: "conflict" });
		expect(incomingStep(ringingAsCallee, { kind: "ice", from: "alice", fromDevice: "a1" }, NOW)).toEqual({
			deliver: "ringing_devices",
			after: "keep",
		});
		expect(incomingStep(ringingAsCaller, { kind: "accept", from: "bob", fromDevice: "b2" }, NOW)).toEqual({
			deliver: "own_device",
			after: "activate",
		});
		expect(incomingStep(ringingAsCaller, { kind: "answer", from: "bob", fromDevice: "b2" }, NOW)).toMatchObject({ refuse: "conflict" });
	});

	it("once active: media signals both ways between the two devices, hangup ends it", () => {
		expect(incomingStep(activeAsCallee, { kind: "ice", from: "alice", fromDevice: "a1" }, NOW)).toEqual({
			deliver: "own_device",
			after: "keep",
		});
		expect(incomingStep(activeAsCaller, { kind: "offer", from: "bob", fromDevice: "b2" }, NOW)).toEqual({
			deliver: "own_device",
			after: "keep",
		});
		expect(outgoingStep(activeAsCaller, { kind: "hangup", to: "bob" }, "a1", NOW)).toEqual({ forward: true, after: "end" });
		expect(incomingStep(activeAsCaller, { kind: "hangup", from: "bob", fromDevice: "b2" }, NOW)).toEqual({
			deliver: "own_device",
			after: "end",
		});
		expect(outgoingStep(activeAsCallee, { kind: "accept", to: "alice" }, "b2", NOW)).toMatchObject({ refuse: "conflict" });
	});
});

describe("the signaling limiter", () => {
	const rules = { bytesPerCall: 256 * 1024, signals: 200, signalWindowMs: 60_000, starts: 10, startWindowMs: 600_000 };
	const times = (n: number, step: number) => Array.from({ length: n }, (_, i) => NOW - i * step);

	it("counts every signal against 200 a minute, and only new calls against 10 in 10 minutes", () => {
		expect(checkCallLimits(times(199, 100), [], false, NOW, rules)).toEqual({ ok: true });
		expect(checkCallLimits(times(200, 100), [], false, NOW, rules)).toEqual({ ok: false, what: "signals", retryAfterMs: 60_000 - 19_900 });
		expect(checkCallLimits(times(5, 100), times(10, 1000), false, NOW, rules)).toEqual({ ok: true });
		expect(checkCallLimits(times(5, 100), times(10, 1000), true, NOW, rules)).toEqual({
			ok: false,
			what: "calls",
			retryAfterMs: 600_000 - 9000,
		});
		// Older than the window: not counted.
		expect(
			checkCallLimits(
				[],
				times(10, 1000).map((t) => t - 600_000),
				true,
				NOW,
				rules,
			),
		).toEqual({ ok: true });
	});
});

describe("the size of call signals", () => {
	const rules = { bytesPerCall: 64 * 1024 };

	it("caps each kind at what real signaling needs: an offer or answer 16 KiB, one ICE candidate 2 KiB, a control signal 1 KiB", () => {
		expect(signalSizeRefusal("offer", 16 * 1024, 0, rules)).toBeNull();
		expect(signalSizeRefusal("offer", 16 * 1024 + 1, 0, rules)?.refuse).toBe("too_large");
		expect(signalSizeRefusal("answer", 16 * 1024 + 1, 0, rules)?.refuse).toBe("too_large");
		expect(signalSizeRefusal("ice", 2048, 0, rules)).toBeNull();
		expect(signalSizeRefusal("ice", 2049, 0, rules)).toEqual({
			refuse: "too_large",
			why: "A sealed ice signal is at most 2048 bytes; this one has 2049.",
		});
		for (const kind of ["ringing", "accept", "decline", "busy", "hangup"] as const) {
			expect(signalSizeRefusal(kind, 1024, 0, rules)).toBeNull();
			expect(signalSizeRefusal(kind, 1025, 0, rules)?.refuse).toBe("too_large");
		}
	});

	it("meters a call as a whole: past its budget only a decline, busy or hangup still goes", () => {
		expect(signalSizeRefusal("ice", 1000, 64 * 1024 - 1000, rules)).toBeNull();
		expect(signalSizeRefusal("ice", 1001, 64 * 1024 - 1000, rules)?.refuse).toBe("quota_exceeded");
		expect(signalSizeRefusal("offer", 500, 64 * 1024, rules)?.refuse).toBe("quota_exceeded");
		for (const kind of ["decline", "busy", "hangup"] as const) expect(signalSizeRefusal(kind, 300, 64 * 1024, rules)).toBeNull();
	});
});
