import { describe, expect, it } from "vitest";
import { CallSession, type CallSessionState } from "../../client/core/call-session.ts";
import type { CallEnded, CallSignal, IncomingCall } from "../../client/core/sdk.ts";
import type { SdkError } from "../../client/core/sdk-error.ts";
import type { ServerFrame } from "../../worker/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { FakePeerConnection, type FakeStream, type FakeTrack, fakeMedia } from "../support/fake-webrtc.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { contactPair, type Member, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

/** Every event of one kind from now on. */
function record<T>(member: Member, event: "call_signal" | "call_ended" | "call_incoming" | "error"): T[] {
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

	it("tell the caller clearly when the callee is offline or takes no calls from them", async () => {
		const { alice, bob } = await contactPair(factory);
		const ended = record<CallEnded>(alice, "call_ended");
		const refused = await alice.client.startCall(bob.account.accountId, { video: false, sdp: "v=0" });
		await until(() => ended.length === 1, "a refusal");
		expect(ended[0]).toMatchObject({ callId: refused.callId, reason: "error", local: true, error: { code: "calls_not_allowed" } });

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
		aliceCall.setMuted(true);
		aliceCall.setCameraOff(true);
		expect([mic.enabled, camera.enabled, aliceCall.muted, aliceCall.cameraOff]).toEqual([false, false, true, true]);
		aliceCall.setMuted(false);
		aliceCall.setCameraOff(false);
		expect([mic.enabled, camera.enabled]).toEqual([true, true]);

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
});
