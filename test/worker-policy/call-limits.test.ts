import { afterEach, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "../../common/protocol/wire.ts";
import { callSignal, contactPair, iceSignal, newMessageId, sealedSend } from "../worker/fixtures.ts";
import { api, connect, type TestSocket, type TestUser } from "../worker/helpers.ts";

afterEach(() => {
	vi.useRealTimers();
});

const offer = (from: TestUser, to: TestUser, key: Uint8Array, callId = newMessageId()) =>
	callSignal(from, to, key, callId, "offer", { sdp: "v=0 offer", video: false });

const callFrames = (socket: TestSocket) => socket.frames.filter((f): f is Extract<ServerFrame, { type: "call" }> => f.type === "call");

async function callablePair() {
	const pair = await contactPair();
	await api(`/api/contacts/${pair.alice.accountId}/calls`, { token: pair.bob.token, body: { allow: true } });
	return pair;
}

describe("the signaling limiter (its own, apart from the 1-per-10-s message limit)", () => {
	it("lets a burst of ICE candidates through, up to 200 signals a minute, and still allows a text message and a hangup", async () => {
		const { alice, bob, key } = await callablePair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		const callId = newMessageId();
		a.send(offer(alice, bob, key, callId));
		for (let n = 0; n < 199; n++) a.send(iceSignal(alice, bob, key, callId, n));
		await vi.waitFor(() => expect(callFrames(b)).toHaveLength(200), { timeout: 10_000 });
		expect(a.frames.filter((f) => f.type === "error")).toEqual([]);

		a.send(iceSignal(alice, bob, key, callId, 200));
		const refused = await a.next("error");
		expect(refused).toMatchObject({ code: "rate_limited", ref: callId });
		expect(refused.retryAfter).toBeGreaterThan(0);
		expect(refused.retryAfter).toBeLessThanOrEqual(60_000);
		// The message limit is a separate budget, and ending the call is never held back.
		a.send(sealedSend(alice, bob, key, "still here"));
		expect(await a.next("sent")).toBeTruthy();
		a.send(callSignal(alice, bob, key, callId, "hangup"));
		await b.next("call", (f) => f.kind === "hangup");
	});

	it("refuses the 11th call within 10 minutes, ringing nobody, and allows calls again once the window moved on", async () => {
		const { alice, bob, key } = await callablePair();
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		for (let i = 0; i < 10; i++) {
			vi.setSystemTime(start + i * 1000);
			const callId = newMessageId();
			a.send(offer(alice, bob, key, callId));
			await b.next("call", (f) => f.id === callId && f.kind === "offer");
			a.send(callSignal(alice, bob, key, callId, "hangup"));
			await b.next("call", (f) => f.id === callId && f.kind === "hangup");
		}
		vi.setSystemTime(start + 30_000);
		const spam = offer(alice, bob, key);
		a.send(spam);
		expect(await a.next("error")).toMatchObject({ code: "rate_limited", ref: spam.id, retryAfter: 600_000 - 30_000 });
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(callFrames(b).filter((f) => f.kind === "offer")).toHaveLength(10);

		vi.setSystemTime(start + 600_001);
		const later = offer(alice, bob, key);
		a.send(later);
		expect(await b.next("call", (f) => f.id === later.id)).toMatchObject({ kind: "offer" });
	});

	it("charges call requests to the same limiter: asking again and again is refused like calling, and the callee is told once", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		for (let i = 0; i < 10; i++) {
			const ask = offer(alice, bob, key);
			a.send(ask);
			expect(await a.next("error", (e) => e.ref === ask.id)).toMatchObject({ code: "calls_not_allowed" });
		}
		const spam = offer(alice, bob, key);
		a.send(spam);
		expect(await a.next("error", (e) => e.ref === spam.id)).toMatchObject({ code: "rate_limited" });
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(b.frames.filter((f) => f.type === "call_request")).toHaveLength(1);
		expect(callFrames(b)).toEqual([]);
	});
});
