import { describe, expect, it } from "vitest";
import { CallSession, type CallSessionState } from "../../client/core/call-session.ts";
import type { CallEnded, CallSignal, IncomingCall } from "../../client/core/sdk.ts";
import type { SdkError } from "../../client/core/sdk-error.ts";
import type { ServerFrame } from "../../common/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { FakePeerConnection, type FakeStream, type FakeTrack, fakeMedia, unreachablePeerConnection } from "../support/fake-webrtc.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { contactPair, linkDevice, type Member, registerMember, relayForFile } from "../support/sdk-clients.ts";

// Bob's reporters are accounts made during the test, weighing 0.5 each (worker/abuse/report-weight.ts):
// three of them reach a suspension at a weight of 1.5.
const relay = relayForFile({ vars: { ...RELAXED_LIMITS, SUSPEND_AFTER_REPORTERS: "1.5" } });
const { factory } = relay;

/** Every event of one kind from now on. */
function record<T>(member: Pick<Member, "client">, event: "call_signal" | "call_ended" | "call_incoming" | "error"): T[] {
	const seen: T[] = [];
	member.client.on(event, (payload) => seen.push(payload as T));
	return seen;
}

const until = async (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
};

describe("calls through the SDK against the real relay", () => {
	it("carry a sealed offer, answer and ICE candidates between two clients, and end on hangup on both sides", async () => {
		const { alice, bob } = await contactPair(factory);
		const aliceId = alice.account.accountId;
		const bobId = bob.account.accountId;
		await bob.client.setCallPermission(aliceId, true);

		const atAlice = record<CallSignal>(alice, "call_signal");
		const incoming = bob.client.waitFor("call_incoming");
		const call = await alice.client.startCall(bobId, { video: true, sdp: "v=0 alice's offer\r\n" });
		const rung: IncomingCall = await incoming;
		expect(rung).toMatchObject({
			callId: call.callId,
			peerId: aliceId,
			fromDevice: alice.account.deviceId,
			video: true,
			sdp: "v=0 alice's offer\r\n",
		});
		// Bob's client says it rings on its own.
		await until(() => atAlice.some((s) => s.kind === "ringing"), "ringing");

		const atBob = record<CallSignal>(bob, "call_signal");
		await bob.client.sendCallSignal(call.callId, { kind: "accept" });
		await bob.client.sendCallSignal(call.callId, { kind: "answer", sdp: "v=0 bob's answer\r\n" });
		await bob.client.sendCallSignal(call.callId, {
			kind: "ice",
			candidate: { candidate: "candidate:2 1 udp 1 192.0.2.2 6000 typ host", sdpMid: "0", sdpMLineIndex: 0 },
		});
		await alice.client.sendCallSignal(call.callId, {
			kind: "ice",
			candidate: { candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host", sdpMid: "0" },
		});
		await until(() => atAlice.some((s) => s.kind === "ice") && atBob.some((s) => s.kind === "ice"), "ICE both ways");
		expect(atAlice.map((s) => s.kind)).toEqual(["ringing", "accept", "answer", "ice"]);
		expect(atAlice[2]).toEqual({
			kind: "answer",
			sdp: "v=0 bob's answer\r\n",
			callId: call.callId,
			peerId: bobId,
			fromDevice: bob.account.deviceId,
		});
		expect(atAlice[3]).toMatchObject({
			kind: "ice",
			candidate: { candidate: "candidate:2 1 udp 1 192.0.2.2 6000 typ host", sdpMLineIndex: 0 },
		});
		expect(atBob).toEqual([
			{
				kind: "ice",
				candidate: { candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host", sdpMid: "0" },
				callId: call.callId,
				peerId: aliceId,
				fromDevice: alice.account.deviceId,
			},
		]);

		const bobEnded = bob.client.waitFor("call_ended");
		const aliceEnded = alice.client.waitFor("call_ended");
		await alice.client.sendCallSignal(call.callId, { kind: "hangup" });
		expect(await aliceEnded).toEqual({ callId: call.callId, peerId: bobId, reason: "hangup", local: true });
		expect(await bobEnded).toEqual({ callId: call.callId, peerId: aliceId, reason: "hangup", local: false });
		await expect(bob.client.sendCallSignal(call.callId, { kind: "ice", candidate: { candidate: "x" } })).rejects.toMatchObject({
			code: "not_found",
		});
	});

	it("reject a tampered or re-routed signal in the client, and still take the genuine call", async () => {
		// Alice's relay connection is hostile: it alters the first offer and moves the second into another call.
		let tamper: "flip" | "move" | null = "flip";
		const hostile = interceptingWebSocket({
			incoming: (data) => {
				const frame = JSON.parse(data) as ServerFrame;
				if (frame.type !== "call" || frame.kind !== "offer" || tamper === null || !frame.box) return data;
				const mode = tamper;
				tamper = mode === "flip" ? "move" : null;
				if (mode === "flip") {
					const i = Math.floor(frame.box.length / 2);
					return JSON.stringify({ ...frame, box: frame.box.slice(0, i) + (frame.box[i] === "A" ? "B" : "A") + frame.box.slice(i + 1) });
				}
				return JSON.stringify({ ...frame, id: "AAAAAAAAAAAAAAAAAAAAAA" });
			},
		});
		const { alice, bob } = await contactPair(factory, { aliceSocket: hostile });
		await alice.client.setCallPermission(bob.account.accountId, true);
		const errors = record<SdkError>(alice, "error");
		const rings = record<IncomingCall>(alice, "call_incoming");

		await bob.client.startCall(alice.account.accountId, { video: false, sdp: "v=0 first" });
		await until(() => errors.length === 1, "the altered offer to be refused");
		expect(errors[0]).toMatchObject({ code: "undecryptable", message: expect.stringContaining("open_failed") });
		await bob.client.startCall(alice.account.accountId, { video: false, sdp: "v=0 second" });
		await until(() => errors.length === 2, "the moved offer to be refused");
		expect(errors[1]).toMatchObject({ code: "undecryptable", message: expect.stringContaining("header_mismatch") });
		expect(rings).toEqual([]);

		const genuine = await bob.client.startCall(alice.account.accountId, { video: false, sdp: "v=0 third" });
		await until(() => rings.length === 1, "the genuine call");
		expect(rings[0]).toMatchObject({ callId: genuine.callId, sdp: "v=0 third", video: false });
	});

	it("act on no control signal that is unsealed or sealed for something else, nor on the relay's own word once connected", async () => {
		// Alice's relay connection is hostile: it turns the frames named in `forge` into forgeries.
		const forge = new Map<string, (frame: Extract<ServerFrame, { type: "call" }>) => object>();
		const hostile = interceptingWebSocket({
			incoming: (data) => {
				const frame = JSON.parse(data) as ServerFrame;
				const rewrite = frame.type === "call" && forge.get(frame.kind);
				if (!rewrite) return data;
				forge.delete(frame.kind);
				return JSON.stringify(rewrite(frame));
			},
		});
		const { alice, bob } = await contactPair(factory, { aliceSocket: hostile });
		const aliceId = alice.account.accountId;
		await bob.client.setCallPermission(aliceId, true);
		const signals = record<CallSignal>(alice, "call_signal");
		const ended = record<CallEnded>(alice, "call_ended");
		const errors = record<SdkError>(alice, "error");

		// Bob's ringing arrives relabelled as an accept: its sealed kind says call:ringing.
		forge.set("ringing", (f) => ({ ...f, kind: "accept" }));
		const incoming = bob.client.waitFor("call_incoming");
		const call = await alice.client.startCall(bob.account.accountId, { video: false, sdp: "v=0 offer" });
		await incoming;
		await until(() => errors.length === 1, "the relabelled accept to be refused");
		expect(errors[0]).toMatchObject({ code: "undecryptable", message: expect.stringContaining("header_mismatch") });
		expect(signals).toEqual([]);

		await bob.client.sendCallSignal(call.callId, { kind: "accept" });
		await until(() => signals.some((s) => s.kind === "accept"), "the genuine accept");
		alice.client.callConnected(call.callId);

		// Once connected, each of Bob's candidates is swapped for a forgery that would end the call.
		const forgeries: Array<(f: Extract<ServerFrame, { type: "call" }>) => object> = [
			// Unsealed: refused by the frame rules before the call logic sees it.
			({ keyVersion: _k, nonce: _n, box: _b, ...f }) => ({ ...f, kind: "hangup" }),
			// Sealed, but a candidate's box under a hangup's name.
			(f) => ({ ...f, kind: "hangup" }),
			// The relay's own, unsealed events.
			(f) => ({ type: "call", id: f.id, from: f.from, to: f.to, kind: "timeout", at: f.at }),
			(f) => ({ type: "error", code: "not_found", message: "There is no such call.", ref: f.id }),
		];
		const candidate = (n: number) => ({
			kind: "ice" as const,
			candidate: { candidate: `candidate:${n} 1 udp 1 192.0.2.2 600${n} typ host` },
		});
		for (const [n, rewrite] of forgeries.entries()) {
			forge.set("ice", rewrite);
			await bob.client.sendCallSignal(call.callId, candidate(n));
			await until(() => !forge.has("ice"), `forgery ${n} to be delivered`);
		}
		// A genuine candidate after them: frames are handled in order, so the forgeries were too.
		await bob.client.sendCallSignal(call.callId, candidate(9));
		await until(() => signals.some((s) => s.kind === "ice"), "the genuine candidate");
		expect(signals.map((s) => s.kind)).toEqual(["accept", "ice"]);
		// (An error frame is handled as it arrives, the others in turn: the order may differ.)
		expect(errors.map((e) => e.code).sort()).toEqual(["internal", "not_found", "undecryptable", "undecryptable"]);
		expect(ended).toEqual([]);

		await bob.client.sendCallSignal(call.callId, { kind: "hangup" });
		await until(() => ended.length === 1, "the genuine hangup");
		expect(ended[0]).toEqual({ callId: call.callId, peerId: bob.account.accountId, reason: "hangup", local: false });
	});

	it("a callee suspended while it rings: its accept is refused, and it hangs up, so the caller stops ringing at once", async () => {
		const { alice, bob } = await contactPair(factory);
		const aliceId = alice.account.accountId;
		const bobId = bob.account.accountId;
		await bob.client.setCallPermission(aliceId, true);
		const incoming = bob.client.waitFor("call_incoming");
		const call = await alice.client.startCall(bobId, { video: false, sdp: "v=0 alice's offer\r\n" });
		await incoming;

		// Reports from three contacts Bob wrote to suspend him (SUSPEND_AFTER_REPORTERS) mid-ring.
		for (const name of ["carol", "dave", "erin"]) {
			const reporter = await registerMember(factory, name);
			await reporter.client.connect();
			const requested = bob.client.waitFor("contact", (c) => c.event === "requested" && c.contact.accountId === reporter.account.accountId);
			await reporter.client.requestContact(bob.account.handle);
			await requested;
			const accepted = reporter.client.waitFor("contact", (c) => c.event === "accepted" && c.contact.accountId === bobId);
			await bob.client.acceptContact(reporter.account.accountId);
			await accepted;
			await bob.client.sendText(reporter.account.accountId, "buy my coins");
			await reporter.client.report(bobId, "spam");
		}
		expect((await bob.client.accountStatus()).suspendedUntil).toBeGreaterThan(Date.now());

		const bobEnded = bob.client.waitFor("call_ended");
		const aliceEnded = alice.client.waitFor("call_ended", () => true, 10_000);
		await bob.client.sendCallSignal(call.callId, { kind: "accept" });
		expect(await bobEnded).toMatchObject({ callId: call.callId, reason: "error", local: true, error: { code: "suspended" } });
		expect(await aliceEnded).toMatchObject({ callId: call.callId, peerId: bobId, local: false });
	});

	it("tell the caller clearly when the callee is offline or takes no calls from them, and ask the callee instead", async () => {
		const { alice, bob } = await contactPair(factory);
		const ended = record<CallEnded>(alice, "call_ended");
		const asked = bob.client.waitFor("call_request");
		const refused = await alice.client.startCall(bob.account.accountId, { video: false, sdp: "v=0" });
		await until(() => ended.length === 1, "a refusal");
		expect(ended[0]).toMatchObject({ callId: refused.callId, reason: "error", local: true, error: { code: "calls_not_allowed" } });
		expect(await asked).toMatchObject({ event: "asked", peerId: alice.account.accountId, at: expect.any(Number) });
		const answer = alice.client.waitFor("call_request");
		await bob.client.dismissCallRequest(alice.account.accountId);
		expect(await answer).toMatchObject({ event: "not_now", peerId: bob.account.accountId });
		await expect(bob.client.dismissCallRequest(alice.account.accountId)).rejects.toMatchObject({ code: "not_found" });

		await bob.client.setCallPermission(alice.account.accountId, true);
		bob.client.close();
		const unreachable = await alice.client.startCall(bob.account.accountId, { video: false, sdp: "v=0" });
		await until(() => ended.length === 2, "a second refusal");
		expect(ended[1]).toMatchObject({ callId: unreachable.callId, reason: "error", error: { code: "peer_unreachable" } });
		expect(ended[1]!.error!.message).toMatch(/online/);
	});

	it("CallSession drives injected peer connections and media: connect, mute, camera off, screen share, hang up", async () => {
		const { alice, bob } = await contactPair(factory);
		await bob.client.setCallPermission(alice.account.accountId, true);
		const aliceMedia = fakeMedia("alice");
		const bobMedia = fakeMedia("bob");
		const options = (member: Member, media: ReturnType<typeof fakeMedia>) => ({
			client: member.client,
			RTCPeerConnection: FakePeerConnection,
			getUserMedia: media.getUserMedia,
			getDisplayMedia: media.getDisplayMedia,
		});

		let bobCall: CallSession | null = null;
		const bobStates: CallSessionState[] = [];
		bob.client.on("call_incoming", (incoming) => {
			bobCall = CallSession.incoming(options(bob, bobMedia), incoming);
			bobCall.on("state", (s) => bobStates.push(s));
		});
		const aliceStates: CallSessionState[] = [];
		const aliceCall = await CallSession.start(options(alice, aliceMedia), bob.account.accountId, { video: true });
		expect(aliceCall.state).toBe("calling");
		aliceCall.on("state", (s) => aliceStates.push(s));
		const remoteAtAlice = aliceCall.waitFor("remote_stream");
		await until(() => bobCall !== null && aliceStates.includes("ringing"), "the call to ring");
		const callee = bobCall as unknown as CallSession;
		expect(callee.state).toBe("incoming");
		await callee.accept();
		await until(() => aliceCall.state === "connected" && callee.state === "connected", "both sides to connect");
		expect(aliceStates).toEqual(["ringing", "connecting", "connected"]);
		expect(bobStates).toEqual(["connecting", "connected"]);

		const [alicePc, bobPc] = FakePeerConnection.instances.slice(-2) as [FakePeerConnection, FakePeerConnection];
		// Descriptions and candidates crossed the relay intact, sealed both ways.
		expect(bobPc.remote).toEqual(alicePc.local);
		expect(alicePc.remote).toEqual(bobPc.local);
		expect(alicePc.remoteCandidates.map((c) => c.candidate)).toEqual([expect.stringContaining(bobPc.name)]);
		expect(bobPc.remoteCandidates.map((c) => c.candidate)).toEqual([expect.stringContaining(alicePc.name)]);
		// Without TURN configured only STUN is handed out, and calls still connect directly.
		expect(alicePc.config.iceServers).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
		expect(await remoteAtAlice).toBe(aliceCall.remoteStream);

		const local = aliceMedia.captured[0] as FakeStream;
		const [mic, camera] = [local.getAudioTracks()[0] as FakeTrack, local.getVideoTracks()[0] as FakeTrack];
		const heardByBob: Array<{ audio: boolean; video: boolean }> = [];
		callee.on("remote_media", (m) => heardByBob.push(m));
		aliceCall.setMuted(true);
		aliceCall.setCameraOff(true);
		expect([mic.enabled, camera.enabled, aliceCall.muted, aliceCall.cameraOff]).toEqual([false, false, true, true]);
		// Bob hears it in a sealed media signal: a disabled track itself raises no event on his side.
		await until(() => heardByBob.some((m) => !m.audio && !m.video), "Bob to hear Alice's microphone and camera are off");
		aliceCall.setMuted(false);
		aliceCall.setCameraOff(false);
		expect([mic.enabled, camera.enabled]).toEqual([true, true]);
		await until(() => callee.remoteMedia?.audio === true && callee.remoteMedia.video === true, "Bob to hear they are on again");

		const videoSender = alicePc.senders.find((s) => s.track?.kind === "video");
		await aliceCall.startScreenShare();
		const screen = (aliceMedia.screens[0] as FakeStream).getVideoTracks()[0] as FakeTrack;
		expect(videoSender?.track).toBe(screen);
		expect(aliceCall.sharingScreen).toBe(true);
		// Stopping from the browser's own "stop sharing" button puts the camera back.
		screen.endFromOutside();
		await until(() => !aliceCall.sharingScreen, "screen sharing to stop");
		expect(videoSender?.track).toBe(camera);

		await new Promise((resolve) => setTimeout(resolve, 30));
		const bobEnded = callee.waitFor("ended");
		aliceCall.hangup();
		expect((await bobEnded).reason).toBe("hangup");
		expect(aliceCall.state).toBe("ended");
		expect(aliceCall.durationMs).toBeGreaterThan(0);
		expect([alicePc.connectionState, bobPc.connectionState]).toEqual(["closed", "closed"]);
		expect([mic.stopped, camera.stopped]).toEqual([true, true]);
		expect(bobMedia.captured[0]?.getTracks().every((t) => t.stopped)).toBe(true);
	});

	it("a CallSession to a callee who is offline ends with peer_unreachable", async () => {
		const { alice, bob } = await contactPair(factory);
		await bob.client.setCallPermission(alice.account.accountId, true);
		bob.client.close();
		const media = fakeMedia("alice");
		const call = await CallSession.start(
			{ client: alice.client, RTCPeerConnection: FakePeerConnection, getUserMedia: media.getUserMedia },
			bob.account.accountId,
			{ video: false },
		);
		const ended = await call.waitFor("ended");
		expect(ended).toMatchObject({ reason: "error", error: { code: "peer_unreachable" }, durationMs: 0 });
		expect(call.error?.code).toBe("peer_unreachable");
		expect(media.captured[0]?.getTracks().every((t) => t.stopped)).toBe(true);
	});

	it("a CallSession whose media cannot connect ends as failed on this side, in time, and hangs up the other", async () => {
		for (const outcome of ["failed", "stuck"] as const) {
			const { alice, bob } = await contactPair(factory);
			await bob.client.setCallPermission(alice.account.accountId, true);
			const options = (member: Member, RTCPeerConnection: typeof FakePeerConnection, connectTimeoutMs?: number) => ({
				client: member.client,
				RTCPeerConnection,
				getUserMedia: fakeMedia(member.account.handle).getUserMedia,
				...(connectTimeoutMs !== undefined && { connectTimeoutMs }),
			});
			const bobCall = new Promise<CallSession>((resolve) =>
				bob.client.on("call_incoming", (incoming) => resolve(CallSession.incoming(options(bob, FakePeerConnection), incoming))),
			);
			// Alice's checks fail, or never finish and her short connect timeout gives up. Only the
			// stuck case gets the short timeout: the failed one must fail on its own, however slow
			// the machine is at carrying Bob's answer.
			const timeoutMs = outcome === "stuck" ? 300 : undefined;
			const aliceCall = await CallSession.start(options(alice, unreachablePeerConnection(outcome), timeoutMs), bob.account.accountId, {
				video: false,
			});
			const aliceEnded = aliceCall.waitFor("ended");
			const callee = await bobCall;
			const bobEnded = callee.waitFor("ended");
			await callee.accept();
			const ended = await aliceEnded;
			expect(ended).toMatchObject({ reason: "failed", error: { code: "network" }, durationMs: 0 });
			expect(ended.error?.message).toMatch(outcome === "failed" ? /connection failed/ : /could not connect in time/);
			expect(aliceCall.error?.code).toBe("network");
			// Bob's side connected on its own (the fake does), and still hears that the call is over.
			expect((await bobEnded).reason).toBe("hangup");
		}
	});

	it("a call to someone already in a call gets busy from their busy device; their other devices stop ringing as declined elsewhere", async () => {
		const { alice, bob } = await contactPair(factory);
		const { client: phone } = await linkDevice(factory, bob, "bob's phone");
		const carol = await registerMember(factory, "carol");
		await carol.client.connect();
		const requested = bob.client.waitFor("contact", (c) => c.event === "requested");
		await carol.client.requestContact(bob.account.handle);
		await requested;
		const accepted = carol.client.waitFor("contact", (c) => c.event === "accepted");
		await bob.client.acceptContact(carol.account.accountId);
		await accepted;
		await bob.client.setCallPermission(alice.account.accountId, true);
		await bob.client.setCallPermission(carol.account.accountId, true);

		// Alice and Bob's laptop are in a call (the phone rang too, and stopped).
		const phoneEnded = record<CallEnded>({ client: phone }, "call_ended");
		const phoneRings = record<IncomingCall>({ client: phone }, "call_incoming");
		const rung = bob.client.waitFor("call_incoming");
		const first = await alice.client.startCall(bob.account.accountId, { video: true, sdp: "v=0 alice" });
		await rung;
		await bob.client.sendCallSignal(first.callId, { kind: "accept" });
		await until(() => phoneEnded.length === 1, "the phone to stop ringing for Alice");
		expect(phoneEnded[0]).toMatchObject({ callId: first.callId, reason: "answered_elsewhere" });

		const bobEnded = record<CallEnded>(bob, "call_ended");
		const bobRings = record<IncomingCall>(bob, "call_incoming");
		const carolEnded = carol.client.waitFor("call_ended");
		const second = await carol.client.startCall(bob.account.accountId, { video: false, sdp: "v=0 carol" });
		expect(await carolEnded).toEqual({ callId: second.callId, peerId: bob.account.accountId, reason: "busy", local: false });
		// The laptop answered busy without showing the call; the phone rang for a moment.
		await until(() => phoneEnded.length === 2, "the phone to stop ringing for Carol");
		expect(phoneEnded[1]).toMatchObject({ callId: second.callId, peerId: carol.account.accountId, reason: "declined_elsewhere" });
		expect(phoneRings.map((c) => c.callId)).toEqual([first.callId, second.callId]);
		expect(bobRings).toEqual([]);
		expect(bobEnded).toEqual([{ callId: second.callId, peerId: carol.account.accountId, reason: "busy", local: true }]);
		// The call with Alice goes on.
		const atBob = record<CallSignal>(bob, "call_signal");
		await alice.client.sendCallSignal(first.callId, {
			kind: "ice",
			candidate: { candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host" },
		});
		await until(() => atBob.some((s) => s.kind === "ice" && s.callId === first.callId), "Alice's candidate at Bob's laptop");
	});
});
