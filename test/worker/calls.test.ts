import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openMessage } from "../../client/core/message-seal.ts";
import type { ServerFrame } from "../../common/protocol/wire.ts";
import { callNotAllowed, callSignal, contactPair, iceSignal, newMessageId, rotateContactKey, sealedSend, suspendFor } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestSocket, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const callsOf = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) =>
		state.storage.sql.exec("SELECT call_id, role, own_device, peer_device, state FROM calls").toArray(),
	);
const queued = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec("SELECT msg_id FROM queue").toArray());

type CallEvent = Extract<ServerFrame, { type: "call" }>;
const callFrames = (socket: TestSocket): CallEvent[] => socket.frames.filter((f): f is CallEvent => f.type === "call");

const offer = (from: TestUser, to: TestUser, key: Uint8Array, callId = newMessageId()) =>
	callSignal(from, to, key, callId, "offer", { sdp: "v=0 offer", video: true });

async function allowCalls(callee: TestUser, caller: TestUser, allow = true) {
	const res = await api(`/api/contacts/${caller.accountId}/calls`, { token: callee.token, body: { allow } });
	expect(res.status).toBe(200);
	return res.json.contact;
}

const suspendForAnHour = (user: TestUser) => suspendFor(user, 3_600_000);

/** Alice calls Bob, who allows her calls; his one device is ringing. */
async function ringingCall() {
	const { alice, bob, key } = await contactPair();
	await allowCalls(bob, alice);
	const a = await connect(alice.token);
	const b = await connect(bob.token);
	const callId = newMessageId();
	a.send(offer(alice, bob, key, callId));
	await b.next("call", (f) => f.kind === "offer");
	return { alice, bob, key, a, b, callId };
}

/** Lets in-flight frames land before asserting that something did not arrive. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

afterEach(() => {
	vi.useRealTimers();
});

describe("call permission", () => {
	it("is off by default, set by the callee alone, and the callee's other devices hear of a change", async () => {
		const { alice, bob, bobDevices } = await contactPair({ extraDevices: 1 });
		const otherBob = await connect(bobDevices[1]!.token);
		await otherBob.next("synced");
		expect((await api("/api/contacts", { token: bob.token })).json.contacts).toEqual([
			expect.objectContaining({ accountId: alice.accountId, callsAllowed: false }),
		]);
		expect(await allowCalls(bob, alice)).toMatchObject({ accountId: alice.accountId, callsAllowed: true });
		expect(await otherBob.next("contact")).toMatchObject({ event: "calls_changed", contact: { callsAllowed: true } });
		// Alice's view of Bob is her own setting, still off.
		expect((await api("/api/contacts", { token: alice.token })).json.contacts[0]).toMatchObject({ callsAllowed: false });

		const stranger = await registerUser("stranger");
		const refused = await api(`/api/contacts/${stranger.accountId}/calls`, { token: bob.token, body: { allow: true } });
		expect(refused.status).toBe(404);
		expect((await api(`/api/contacts/${alice.accountId}/calls`, { token: bob.token, body: { allow: "yes" } })).status).toBe(400);
	});

	it("refuses a call to a contact who has not allowed calls, relaying nothing", async () => {
		const { alice, bob, key } = await contactPair();
		const { a, b } = await callNotAllowed(alice, bob, key, true);
		await allowCalls(bob, alice);
		await allowCalls(bob, alice, false);
		const again = offer(alice, bob, key);
		a.send(again);
		expect(await a.next("error")).toMatchObject({ code: "calls_not_allowed", ref: again.id });
		await settle();
		expect(callFrames(b)).toEqual([]);
		expect(await callsOf(alice.accountId)).toEqual([]);
		expect(await callsOf(bob.accountId)).toEqual([]);
	});

	it("refuses calls to strangers as not_a_contact, and a blocked caller's as one that cannot ring, relaying nothing", async () => {
		const { alice, bob, key } = await contactPair();
		const stranger = await registerUser("stranger");
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		const s = await connect(stranger.token);
		await allowCalls(bob, alice);
		const toStranger = offer(alice, stranger, key);
		a.send(toStranger);
		expect(await a.next("error")).toMatchObject({ code: "not_a_contact", ref: toStranger.id });
		const fromStranger = offer(stranger, bob, key);
		s.send(fromStranger);
		expect(await s.next("error")).toMatchObject({ code: "not_a_contact", ref: fromStranger.id });

		await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: bob.token });
		const blocked = offer(alice, bob, key);
		a.send(blocked);
		// Blocking stays silent: Bob took her calls, so she hears what she would if none of his devices were online.
		expect(await a.next("error")).toMatchObject({ code: "peer_unreachable", ref: blocked.id });
		await settle();
		expect(callFrames(b)).toEqual([]);
		expect(callFrames(s)).toEqual([]);
	});

	it("refuses a suspended caller new calls, signals and TURN credentials, but lets it hang up", async () => {
		const { alice, bob, key, a, b, callId } = await ringingCall();

		await suspendForAnHour(alice);
		const next = offer(alice, bob, key);
		a.send(next);
		expect(await a.next("error")).toMatchObject({ code: "suspended", ref: next.id });
		a.send(iceSignal(alice, bob, key, callId, 1));
		expect(await a.next("error")).toMatchObject({ code: "suspended", ref: callId });
		const turn = await api("/api/turn", { token: alice.token });
		expect(turn.status).toBe(403);
		expect(turn.json.error.code).toBe("suspended");

		a.send(callSignal(alice, bob, key, callId, "hangup"));
		expect(await b.next("call", (f) => f.kind === "hangup")).toMatchObject({ id: callId, from: alice.accountId });
		expect(callFrames(b).map((f) => f.kind)).toEqual(["offer", "hangup"]);
		expect(await callsOf(bob.accountId)).toEqual([]);
	});

	it("refuses a call to a suspended callee at once, ringing none of its devices, in the words used for an unreachable one", async () => {
		const { alice, bob, key } = await contactPair();
		await allowCalls(bob, alice);
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		await suspendForAnHour(bob);
		const call = offer(alice, bob, key);
		a.send(call);
		expect(await a.next("error")).toMatchObject({
			code: "peer_unreachable",
			ref: call.id,
			message: expect.stringMatching(/cannot take calls/),
		});
		await settle();
		expect(callFrames(b)).toEqual([]);
		expect(await callsOf(alice.accountId)).toEqual([]);
		expect(await callsOf(bob.accountId)).toEqual([]);
	});

	it("answers peer_unreachable when no device of the callee is online, and queues nothing for later", async () => {
		const { alice, bob, key } = await contactPair();
		await allowCalls(bob, alice);
		const a = await connect(alice.token);
		const call = offer(alice, bob, key);
		a.send(call);
		expect(await a.next("error")).toMatchObject({ code: "peer_unreachable", ref: call.id });
		expect(await callsOf(alice.accountId)).toEqual([]);
		expect(await callsOf(bob.accountId)).toEqual([]);
		expect(await queued(bob.accountId)).toEqual([]);
		const b = await connect(bob.token);
		await b.next("synced");
		await settle();
		expect(callFrames(b)).toEqual([]);
	});
});

describe("call signaling", () => {
	it("rings every online device of the callee; after one accepts, the others stop and signals flow only between the two devices", async () => {
		const { alice, bob, key, aliceDevices, bobDevices } = await contactPair({ extraDevices: 1 });
		await allowCalls(bob, alice);
		const [a1, a2] = await Promise.all(aliceDevices.map((d) => connect(d.token)));
		const [b1, b2] = await Promise.all(bobDevices.map((d) => connect(d.token)));
		const [bob1, bob2] = bobDevices as [TestUser, TestUser];
		for (const s of [a1, a2, b1, b2]) await s!.next("synced");

		const callId = newMessageId();
		a1!.send(offer(alice, bob, key, callId));
		for (const b of [b1!, b2!]) {
			const rung = await b.next("call", (f) => f.kind === "offer");
			expect(rung).toMatchObject({ id: callId, from: alice.accountId, fromDevice: alice.deviceId, to: bob.accountId });
			const routing = { id: callId, from: rung.from, fromDevice: rung.fromDevice!, to: rung.to, keyVersion: 1, kind: "call:offer" };
			expect(openMessage(key, routing, rung.nonce!, rung.box!).body).toEqual({ sdp: "v=0 offer", video: true });
		}
		b1!.send(callSignal(bob1, alice, key, callId, "ringing"));
		b2!.send(callSignal(bob2, alice, key, callId, "ringing"));
		expect(await a1!.next("call", (f) => f.kind === "ringing" && f.fromDevice === bob1.deviceId)).toBeTruthy();
		expect(await a1!.next("call", (f) => f.kind === "ringing" && f.fromDevice === bob2.deviceId)).toBeTruthy();
		// The caller's candidates reach every ringing device until one accepts.
		a1!.send(iceSignal(alice, bob, key, callId, 1));
		await b1!.next("call", (f) => f.kind === "ice");
		await b2!.next("call", (f) => f.kind === "ice");

		// Both devices accept in the same tick: the callee's object lets exactly one through.
		b1!.send(callSignal(bob1, alice, key, callId, "accept"));
		b2!.send(callSignal(bob2, alice, key, callId, "accept"));
		const accepted = await a1!.next("call", (f) => f.kind === "accept");
		expect(accepted).toMatchObject({ id: callId, from: bob.accountId });
		// The accept is relayed sealed, as its device sent it: a relay could not have forged it.
		const acceptRouting = { id: callId, from: bob.accountId, fromDevice: accepted.fromDevice!, to: alice.accountId, keyVersion: 1 };
		expect(openMessage(key, { ...acceptRouting, kind: "call:accept" }, accepted.nonce!, accepted.box!).body).toEqual({});
		const [winner, loser, winnerSocket, loserSocket] =
			accepted.fromDevice === bob1.deviceId ? [bob1, bob2, b1!, b2!] : [bob2, bob1, b2!, b1!];
		expect(await loserSocket.next("call", (f) => f.kind === "answered_elsewhere")).toMatchObject({
			id: callId,
			from: bob.accountId,
			fromDevice: winner.deviceId,
			to: alice.accountId,
		});
		// The device that lost the race is refused, and hears nothing more of the call.
		expect(await loserSocket.next("error")).toMatchObject({ code: "conflict", ref: callId });

		winnerSocket.send(callSignal(winner, alice, key, callId, "answer", { sdp: "v=0 answer" }));
		const answer = await a1!.next("call", (f) => f.kind === "answer");
		const routing = {
			id: callId,
			from: bob.accountId,
			fromDevice: winner.deviceId,
			to: alice.accountId,
			keyVersion: 1,
			kind: "call:answer",
		};
		expect(openMessage(key, routing, answer.nonce!, answer.box!).body).toEqual({ sdp: "v=0 answer" });
		winnerSocket.send(iceSignal(winner, alice, key, callId, 2));
		await a1!.next("call", (f) => f.kind === "ice");
		a1!.send(iceSignal(alice, bob, key, callId, 3));
		await winnerSocket.next("call", (f) => f.kind === "ice");

		loserSocket.send(callSignal(loser, alice, key, callId, "answer", { sdp: "v=0 late" }));
		expect(await loserSocket.next("error")).toMatchObject({ code: "conflict", ref: callId });
		expect(await callsOf(bob.accountId)).toEqual([
			{ call_id: callId, role: "callee", own_device: winner.deviceId, peer_device: alice.deviceId, state: "active" },
		]);
		expect(await callsOf(alice.accountId)).toEqual([
			{ call_id: callId, role: "caller", own_device: alice.deviceId, peer_device: winner.deviceId, state: "active" },
		]);

		a1!.send(callSignal(alice, bob, key, callId, "hangup"));
		expect(await winnerSocket.next("call", (f) => f.kind === "hangup")).toMatchObject({ id: callId });
		await settle();
		expect(callFrames(loserSocket).map((f) => f.kind)).toEqual(["offer", "ice", "answered_elsewhere"]);
		expect(callFrames(winnerSocket).map((f) => f.kind)).toEqual(["offer", "ice", "ice", "hangup"]);
		expect(callFrames(a1!).map((f) => f.kind)).toEqual(["ringing", "ringing", "accept", "answer", "ice"]);
		expect(callFrames(a2!)).toEqual([]);
		expect(await callsOf(alice.accountId)).toEqual([]);
		expect(await callsOf(bob.accountId)).toEqual([]);
		expect(await queued(bob.accountId)).toEqual([]);
	});

	it("a decline on one device stops the others ringing and reaches the caller", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		await allowCalls(bob, alice);
		const a = await connect(alice.token);
		const [b1, b2] = await Promise.all(bobDevices.map((d) => connect(d.token)));
		const callId = newMessageId();
		a.send(offer(alice, bob, key, callId));
		await b1!.next("call", (f) => f.kind === "offer");
		await b2!.next("call", (f) => f.kind === "offer");
		b1!.send(callSignal(bobDevices[0]!, alice, key, callId, "decline"));
		expect(await a.next("call", (f) => f.kind === "decline")).toMatchObject({ id: callId, fromDevice: bobDevices[0]!.deviceId });
		expect(await b2!.next("call", (f) => f.kind === "declined_elsewhere")).toMatchObject({ id: callId, from: bob.accountId });
		expect(await callsOf(alice.accountId)).toEqual([]);
		expect(await callsOf(bob.accountId)).toEqual([]);
		a.send(iceSignal(alice, bob, key, callId, 1));
		expect(await a.next("error")).toMatchObject({ code: "not_found", ref: callId });
	});

	it("after a key rotation refuses signals under the old key version as stale_key, but still relays a hangup under it", async () => {
		const { alice, bob, key, a, b, callId } = await ringingCall();
		b.send(callSignal(bob, alice, key, callId, "accept"));
		await a.next("call", (f) => f.kind === "accept");

		expect((await rotateContactKey(bob, alice, 2)).res.status).toBe(200);
		a.send(iceSignal(alice, bob, key, callId, 1));
		expect(await a.next("error")).toMatchObject({ code: "stale_key", ref: callId });
		// A version that does not exist yet is refused, even for a hangup.
		a.send({ ...callSignal(alice, bob, key, callId, "hangup"), keyVersion: 3 });
		expect(await a.next("error", (e) => e.code === "stale_key")).toMatchObject({ ref: callId });
		a.send(callSignal(alice, bob, key, callId, "hangup"));
		expect(await b.next("call", (f) => f.kind === "hangup")).toMatchObject({ id: callId, keyVersion: 1 });
		expect(await callsOf(alice.accountId)).toEqual([]);
		expect(await callsOf(bob.accountId)).toEqual([]);
	});

	it("an unanswered call rings out after the timeout on both sides", async () => {
		const { alice, bob, key } = await contactPair();
		await allowCalls(bob, alice);
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const callId = newMessageId();
		a.send(offer(alice, bob, key, callId));
		await b.next("call", (f) => f.kind === "offer");
		vi.setSystemTime(start + 45_500);
		expect(await runDurableObjectAlarm(relay(bob.accountId))).toBe(true);
		expect(await b.next("call", (f) => f.kind === "timeout")).toMatchObject({ id: callId, from: alice.accountId, to: bob.accountId });
		expect(await callsOf(bob.accountId)).toEqual([]);
		// The caller's record lasts a little longer, so an accept sent in the last second still finds it.
		vi.setSystemTime(start + 50_500);
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(await a.next("call", (f) => f.kind === "timeout")).toMatchObject({ id: callId, from: bob.accountId, to: alice.accountId });
		expect(await callsOf(alice.accountId)).toEqual([]);
		b.send(callSignal(bob, alice, key, callId, "accept"));
		expect(await b.next("error")).toMatchObject({ code: "not_found", ref: callId });
	});

	it("refuses signals that do not fit the call or the frame rules, and never lets a signal pass as a message", async () => {
		const { alice, bob, key } = await contactPair();
		await allowCalls(bob, alice);
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		const unknown = newMessageId();
		a.send(iceSignal(alice, bob, key, unknown, 1));
		expect(await a.next("error")).toMatchObject({ code: "not_found", ref: unknown });

		const callId = newMessageId();
		a.send(offer(alice, bob, key, callId));
		await b.next("call", (f) => f.kind === "offer");
		a.send(offer(alice, bob, key, callId));
		expect(await a.next("error")).toMatchObject({ code: "conflict", ref: callId });
		b.send(callSignal(bob, alice, key, callId, "answer", { sdp: "v=0 too early" }));
		expect(await b.next("error")).toMatchObject({ code: "conflict", ref: callId });
		// Every signal a device sends is sealed: an unsealed accept or hangup (what a relay
		// forging one would have to produce) is refused and changes nothing.
		b.send({ type: "call", id: callId, to: alice.accountId, kind: "accept" });
		expect(await b.next("error")).toMatchObject({
			code: "bad_request",
			ref: callId,
			message: expect.stringMatching(/keyVersion, nonce and box/),
		});
		a.send({ type: "call", id: callId, to: bob.accountId, kind: "hangup" });
		expect(await a.next("error")).toMatchObject({ code: "bad_request", ref: callId });
		expect(await callsOf(bob.accountId)).toEqual([
			{ call_id: callId, role: "callee", own_device: null, peer_device: alice.deviceId, state: "ringing" },
		]);
		a.send({ type: "call", id: callId, to: bob.accountId, kind: "offer" });
		expect(await a.next("error")).toMatchObject({ code: "bad_request", ref: callId });
		a.send({ ...callSignal(alice, bob, key, callId, "hangup"), kind: "answered_elsewhere" });
		expect(await a.next("error")).toMatchObject({ code: "bad_request", ref: callId });
		a.send(callSignal(alice, alice, key, newMessageId(), "hangup"));
		expect(await a.next("error")).toMatchObject({ code: "bad_request" });

		// The sealed kind of a signal ("call:ice") never matches a message's ("text"), nor the
		// other way round: a relay replaying one as the other is caught by the receiver.
		const sealed = iceSignal(alice, bob, key, callId, 9);
		const routing = { id: callId, from: alice.accountId, fromDevice: alice.deviceId, to: bob.accountId, keyVersion: 1, kind: "text" };
		expect(() => openMessage(key, routing, sealed.nonce!, sealed.box!)).toThrow(/kind differs/);
		const message = sealedSend(alice, bob, key, "hello", callId);
		expect(() => openMessage(key, { ...routing, kind: "call:offer" }, message.nonce, message.box)).toThrow(/kind differs/);
	});
});

describe("call signaling is metered", () => {
	it("refuses a signal larger than its kind needs as too_large, and past the call's budget all but ending it as quota_exceeded", async () => {
		const { alice, bob, key, a, b, callId } = await ringingCall();
		b.send(callSignal(bob, alice, key, callId, "accept"));
		await a.next("call", (f) => f.kind === "accept");

		// An ICE "candidate" of 3 KB is no candidate: a free channel, refused, and nothing reaches Bob.
		const padded = callSignal(alice, bob, key, callId, "ice", {
			candidate: `candidate:1 1 udp 1 192.0.2.1 5000 typ host ${"x".repeat(3000)}`,
		});
		a.send(padded);
		expect(await a.next("error")).toMatchObject({ code: "too_large", ref: callId });
		a.send(callSignal(alice, bob, key, callId, "ringing", { note: "y".repeat(2000) }));
		expect(await a.next("error")).toMatchObject({ code: "too_large", ref: callId });
		await settle();
		expect(callFrames(b).filter((f) => f.kind === "ice" || f.kind === "ringing")).toEqual([]);

		// Renegotiations of 15 KB each, until the call's 256 KiB are carried (the first offer counts too).
		const sealedBytes = (f: { box?: string }) => Math.floor(((f.box?.length ?? 0) * 3) / 4);
		const renegotiation = () => callSignal(alice, bob, key, callId, "offer", { sdp: `v=0 ${"m".repeat(15_000)}`, video: true });
		const fit = Math.floor((256 * 1024 - sealedBytes(offer(alice, bob, key, callId))) / sealedBytes(renegotiation()));
		expect(fit).toBe(17);
		for (let i = 0; i < fit; i++) {
			a.send(renegotiation());
			await b.next("call", (f) => f.kind === "offer");
		}
		a.send(renegotiation());
		expect(await a.next("error")).toMatchObject({ code: "quota_exceeded", ref: callId });
		await settle();
		expect(callFrames(b).filter((f) => f.kind === "offer")).toHaveLength(1 + fit);
		// An ending signal always goes: the call can be hung up, and then it and its budget are gone.
		a.send(callSignal(alice, bob, key, callId, "hangup"));
		await b.next("call", (f) => f.kind === "hangup");
		expect(await callsOf(alice.accountId)).toEqual([]);
		const budgets = await runInDurableObject(relay(alice.accountId), (_, state) =>
			state.storage.sql.exec("SELECT * FROM call_budgets").toArray(),
		);
		expect(budgets).toEqual([]);
	});
});

describe("TURN credentials", () => {
	it("verify with the coturn formula and expire TURN_TTL_SECONDS after they are issued", async () => {
		const { alice } = await contactPair();
		const before = Math.floor(Date.now() / 1000);
		const res = await api("/api/turn", { token: alice.token });
		expect(res.status).toBe(200);
		const { iceServers, expiresAt } = res.json;
		expect(iceServers[0]).toEqual({ urls: ["stun:stun.cloudflare.com:3478"] });
		const turn = iceServers[1];
		expect(turn.urls).toEqual(["turn:turn.relay.test:3478?transport=udp", "turns:turn.relay.test:5349?transport=tcp"]);
		const [expiry, user] = turn.username.split(":");
		expect(user).toBe(alice.accountId);
		expect(Number(expiry)).toBeGreaterThanOrEqual(before + 43_200);
		expect(Number(expiry)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 43_200);
		expect(expiresAt).toBe(Number(expiry) * 1000);
		// coturn (use-auth-secret) recomputes the password from the shared secret and the user name.
		const expected = createHmac("sha1", env.TURN_SECRET).update(turn.username).digest("base64");
		expect(turn.credential).toBe(expected);
	});

	it("a request after the expiry gets a new user name with a later expiry", async () => {
		const { alice } = await contactPair();
		vi.useFakeTimers({ toFake: ["Date"] });
		const first = (await api("/api/turn", { token: alice.token })).json;
		vi.setSystemTime(first.expiresAt + 1000);
		// The session token expired too: sign in again.
		const token = (await signIn(alice.keys)).json.token;
		const second = (await api("/api/turn", { token })).json;
		expect(second.iceServers[1].username).not.toBe(first.iceServers[1].username);
		expect(second.expiresAt).toBeGreaterThan(first.expiresAt);
		expect(second.iceServers[1].credential).toBe(
			createHmac("sha1", env.TURN_SECRET).update(second.iceServers[1].username).digest("base64"),
		);
	});

	it("are only for signed-in devices", async () => {
		expect((await api("/api/turn")).status).toBe(401);
		expect((await api("/api/turn", { token: "v1.bad" })).status).toBe(401);
	});
});
