import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../common/protocol/wire.ts";
import { acceptContact, callNotAllowed, callSignal, contactPair, newMessageId } from "./fixtures.ts";
import { api, connect, registerUser, type TestSocket, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const requestsOf = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec("SELECT peer_id FROM call_requests").toArray());

type RequestFrame = Extract<ServerFrame, { type: "call_request" }>;
const requestFrames = (socket: TestSocket): RequestFrame[] => socket.frames.filter((f): f is RequestFrame => f.type === "call_request");
const callFrames = (socket: TestSocket) => socket.frames.filter((f) => f.type === "call");

const offer = (from: TestUser, to: TestUser, key: Uint8Array, callId = newMessageId()) =>
	callSignal(from, to, key, callId, "offer", { sdp: "v=0 offer", video: false });
const notNow = (callee: TestUser, caller: TestUser, token: string | undefined = callee.token) =>
	api(`/api/contacts/${caller.accountId}/call-request`, { method: "DELETE", ...(token && { token }) });

/** Lets in-flight frames land before asserting that something did not arrive. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/** Alice calls Bob, who has not allowed her calls: he is asked. */
async function askedCall() {
	const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
	const { a, b } = await callNotAllowed(alice, bob, key);
	const asked = await b.next("call_request");
	return { alice, bob, key, bobDevices, a, b, asked };
}

describe("call requests", () => {
	it("ask the callee instead of ringing, once while one waits, and reach a device that connects later", async () => {
		const { alice, bob, key, bobDevices, a, b, asked } = await askedCall();
		expect(asked).toEqual({ type: "call_request", event: "asked", from: alice.accountId, to: bob.accountId, at: expect.any(Number) });
		// Nothing beyond who and when: no call id, no device, nothing sealed.
		expect(Object.keys(asked).sort()).toEqual(["at", "event", "from", "to", "type"]);
		const again = offer(alice, bob, key);
		a.send(again);
		expect(await a.next("error", (e) => e.ref === again.id)).toMatchObject({ code: "calls_not_allowed" });
		await settle();
		expect(requestFrames(b)).toHaveLength(1);
		expect(callFrames(b)).toEqual([]);

		const later = await connect(bobDevices[1]!.token);
		expect(await later.next("call_request")).toMatchObject({ event: "asked", from: alice.accountId, at: asked.at });
	});

	it("when allowed (the permission route), tell the caller at once and every device of the callee, and the next call rings", async () => {
		const { alice, bob, key, a, b } = await askedCall();
		const allowed = await api(`/api/contacts/${alice.accountId}/calls`, { token: bob.token, body: { allow: true } });
		expect(allowed.status).toBe(200);
		expect(await a.next("call_request")).toMatchObject({ event: "allowed", from: bob.accountId, to: alice.accountId });
		expect(await b.next("call_request", (f) => f.event === "answered")).toMatchObject({ from: alice.accountId });
		expect(await requestsOf(bob.accountId)).toEqual([]);
		const call = offer(alice, bob, key);
		a.send(call);
		expect(await b.next("call", (f) => f.kind === "offer")).toMatchObject({ id: call.id, from: alice.accountId });
		// Nothing waits any more: "not now" has nothing to answer.
		expect((await notNow(bob, alice)).status).toBe(404);
	});

	it("when answered not now, tell the caller calmly and forget the request", async () => {
		const { alice, bob, a, b } = await askedCall();
		const res = await notNow(bob, alice);
		expect(res.status).toBe(204);
		expect(await a.next("call_request")).toMatchObject({ event: "not_now", from: bob.accountId });
		expect(await b.next("call_request", (f) => f.event === "answered")).toMatchObject({ from: alice.accountId });
		expect(await requestsOf(bob.accountId)).toEqual([]);
		// The permission is untouched: still off.
		expect((await api("/api/contacts", { token: bob.token })).json.contacts[0]).toMatchObject({ callsAllowed: false });
	});

	it("cannot be answered by another account, a non-contact or without signing in, and cannot be made by a non-contact", async () => {
		const { alice, bob, a } = await askedCall();
		const carol = await registerUser("carol");
		await api("/api/contacts", { token: carol.token, body: { handle: bob.handle } });
		await acceptContact(bob, carol);
		const stranger = await registerUser("stranger");
		// Carol (Bob's contact, not Alice's) and a stranger have no request from Alice to answer.
		expect((await notNow(carol, alice)).status).toBe(404);
		expect((await notNow(stranger, alice)).status).toBe(404);
		const unsigned = await notNow(bob, alice, "");
		expect([unsigned.status, unsigned.json.error.code]).toEqual([401, "unauthorized"]);
		const bad = await api("/api/contacts/not-an-id/call-request", { method: "DELETE", token: bob.token });
		expect([bad.status, typeof bad.json.error.code]).toEqual([404, "string"]);
		await settle();
		expect(requestFrames(a)).toEqual([]);
		expect(await requestsOf(bob.accountId)).toEqual([{ peer_id: alice.accountId }]);

		// A stranger's call asks nobody: it is not a contact.
		const s = await connect(stranger.token);
		const call = offer(stranger, bob, new Uint8Array(32));
		s.send(call);
		expect(await s.next("error")).toMatchObject({ code: "not_a_contact", ref: call.id });
		expect(await requestsOf(bob.accountId)).toEqual([{ peer_id: alice.accountId }]);
	});

	it("from a blocked caller is dropped silently: the same refusal, and nothing reaches the callee", async () => {
		const { alice, bob, key } = await contactPair();
		await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: bob.token });
		const { b } = await callNotAllowed(alice, bob, key);
		await settle();
		expect(requestFrames(b)).toEqual([]);
		expect(await requestsOf(bob.accountId)).toEqual([]);
	});
});

describe("media state signals", () => {
	it("are relayed sealed within an accepted call, and refused before the accept", async () => {
		const { alice, bob, key } = await contactPair();
		await api(`/api/contacts/${alice.accountId}/calls`, { token: bob.token, body: { allow: true } });
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		const callId = newMessageId();
		a.send(offer(alice, bob, key, callId));
		await b.next("call", (f) => f.kind === "offer");
		const early = callSignal(bob, alice, key, callId, "media", { audio: false, video: true });
		b.send(early);
		expect(await b.next("error")).toMatchObject({ code: "conflict", ref: callId });
		b.send(callSignal(bob, alice, key, callId, "accept"));
		await a.next("call", (f) => f.kind === "accept");
		b.send(callSignal(bob, alice, key, callId, "media", { audio: false, video: true }));
		const relayed = await a.next("call", (f) => f.kind === "media");
		expect(relayed).toMatchObject({ id: callId, from: bob.accountId, fromDevice: bob.deviceId, box: expect.any(String) });
		a.send(callSignal(alice, bob, key, callId, "media", { audio: true, video: false }));
		expect(await b.next("call", (f) => f.kind === "media")).toMatchObject({ from: alice.accountId });
		// A media signal larger than its 1 KiB cap is not signaling.
		const big = callSignal(alice, bob, key, callId, "media", { audio: true, video: false, pad: "x".repeat(2000) });
		a.send(big);
		expect(await a.next("error")).toMatchObject({ code: "too_large", ref: callId });
	});
});
