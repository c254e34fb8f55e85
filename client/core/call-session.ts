import type { CallEnded, CallEndReason, CallSignal, IncomingCall, OutgoingSignal } from "./call-signaling.ts";
import { EventEmitter } from "./event-emitter.ts";
import type { MessengerClient } from "./sdk.ts";
import { SdkError, toSdkError } from "./sdk-error.ts";
import type {
	GetDisplayMedia,
	GetUserMedia,
	IceCandidateInitLike,
	IceServerLike,
	MediaStreamLike,
	MediaStreamTrackLike,
	PeerConnectionConstructor,
	PeerConnectionLike,
	RtpSenderLike,
} from "./webrtc-like.ts";

/**
 * One 1:1 call in a browser: media, the peer connection, and its signaling through the SDK.
 *
 * Driving it from a page (nothing here touches a DOM global; the page hands them in):
 *
 *     const media = {
 *       client,                                     // a connected MessengerClient
 *       RTCPeerConnection,
 *       getUserMedia: (c) => navigator.mediaDevices.getUserMedia(c),
 *       getDisplayMedia: (c) => navigator.mediaDevices.getDisplayMedia(c),
 *     };
 *     // Calling (the callee must have allowed calls from us: client.setCallPermission on their side):
 *     const call = await CallSession.start(media, peerId, { video: true });
 *     // Being called. Create the session inside the listener, before any await, so that it
 *     // hears the caller's ICE candidates that follow the offer:
 *     client.on("call_incoming", (incoming) => {
 *       const call = CallSession.incoming(media, incoming);   // state "incoming": show it
 *       acceptButton.onclick = () => call.accept();            // or call.decline()
 *     });
 *     call.on("local_stream", (s) => (selfView.srcObject = s));
 *     call.on("remote_stream", (s) => (peerView.srcObject = s));
 *     call.on("state", (state) => …);   // starting → calling → ringing → connecting → connected → ended
 *                                        // (call.state is the current one: start() resolves in "calling")
 *     call.on("ended", ({ reason, error, durationMs }) => …);   // error.code "peer_unreachable": nobody online
 *     call.setMuted(true); call.setCameraOff(true);
 *     await call.startScreenShare(); await call.stopScreenShare();   // video calls only
 *     call.hangup(); call.durationMs;
 *
 * The streams handed out are the browser's own MediaStream objects. Every error of the call
 * ends it with reason "error"/"failed" and `error` set; nothing is thrown at the page after
 * start() (or accept()) resolved.
 */

export type CallSessionState = "starting" | "calling" | "ringing" | "incoming" | "connecting" | "connected" | "ended";

/** How the call ended; `failed`: the media connection could not be made or broke. */
export type CallSessionEnd = CallEndReason | "failed";

export interface CallSessionEvents {
	state: CallSessionState;
	local_stream: MediaStreamLike;
	remote_stream: MediaStreamLike;
	/** Mute, camera or screen sharing changed. */
	media: { muted: boolean; cameraOff: boolean; sharingScreen: boolean };
	/**
	 * The peer's microphone (`audio`) or camera (`video`) went on or off, as its sealed `media`
	 * signal says: a disabled track sends silence or black frames and raises no event here.
	 */
	remote_media: { audio: boolean; video: boolean };
	ended: { reason: CallSessionEnd; error?: SdkError; durationMs: number };
}

export interface CallSessionOptions {
	client: Pick<MessengerClient, "startCall" | "sendCallSignal" | "callConnected" | "iceServers" | "on">;
	RTCPeerConnection: PeerConnectionConstructor;
	getUserMedia: GetUserMedia;
	/** Needed for screen sharing only. */
	getDisplayMedia?: GetDisplayMedia;
	/** Where the ICE servers come from; default `client.iceServers()` (GET /api/turn). */
	iceServers?: () => Promise<IceServerLike[]>;
	/** How long after an accept the media connection may take; default 30 s. */
	connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

export class CallSession extends EventEmitter<CallSessionEvents> {
	private currentState: CallSessionState;
	private id: string | null;
	private pc: PeerConnectionLike | null = null;
	private local: MediaStreamLike | null = null;
	private remote: MediaStreamLike | null = null;
	private videoSender: RtpSenderLike | null = null;
	private cameraTrack: MediaStreamTrackLike | null = null;
	private screen: MediaStreamLike | null = null;
	private remoteCandidates: IceCandidateInitLike[] = [];
	private localCandidates: IceCandidateInitLike[] = [];
	private hasRemoteDescription = false;
	/** Signals for a call whose id is not known yet (start() is still sending the offer). */
	private early: Array<{ signal?: CallSignal; ended?: CallEnded }> = [];
	private readonly unsubscribe: Array<() => void> = [];
	private connectTimer: ReturnType<typeof setTimeout> | null = null;
	private connectedAt: number | null = null;
	private endedAt: number | null = null;
	private isMuted = false;
	private isCameraOff = false;
	private peerMedia: { audio: boolean; video: boolean } | null = null;
	private failure: SdkError | undefined;

	private constructor(
		private readonly opts: CallSessionOptions,
		readonly peerId: string,
		readonly video: boolean,
		state: CallSessionState,
		callId: string | null,
		private readonly offer: string | null,
	) {
		super();
		this.currentState = state;
		this.id = callId;
		this.unsubscribe.push(
			opts.client.on("call_signal", (signal) => this.onSignal(signal)),
			opts.client.on("call_ended", (ended) => this.onEnded(ended)),
		);
	}

	/** Call a contact. Resolves once the offer is on its way; from then on everything arrives as events. */
	static async start(opts: CallSessionOptions, peerId: string, call: { video: boolean }): Promise<CallSession> {
		const session = new CallSession(opts, peerId, call.video, "starting", null, null);
		try {
			await session.dial();
		} catch (err) {
			const error = toSdkError(err);
			session.finish("error", error);
			throw error;
		}
		return session;
	}

	/** A call that rings on this device (the `call_incoming` event); accept() or decline() it. */
	static incoming(opts: CallSessionOptions, call: IncomingCall): CallSession {
		return new CallSession(opts, call.peerId, call.video, "incoming", call.callId, call.sdp);
	}

	get state(): CallSessionState {
		return this.currentState;
	}

	get callId(): string | null {
		return this.id;
	}

	get localStream(): MediaStreamLike | null {
		return this.local;
	}

	get remoteStream(): MediaStreamLike | null {
		return this.remote;
	}

	/** The screen being shared, for a local preview. */
	get screenStream(): MediaStreamLike | null {
		return this.screen;
	}

	get muted(): boolean {
		return this.isMuted;
	}

	get cameraOff(): boolean {
		return this.isCameraOff;
	}

	/** What the peer last said of its microphone and camera; null until it said anything. */
	get remoteMedia(): { audio: boolean; video: boolean } | null {
		return this.peerMedia;
	}

	get sharingScreen(): boolean {
		return this.screen !== null;
	}

	/** Why the call failed, once it has. */
	get error(): SdkError | undefined {
		return this.failure;
	}

	/** Time since the media connected (0 before), frozen when the call ends. */
	get durationMs(): number {
		if (this.connectedAt === null) return 0;
		return (this.endedAt ?? Date.now()) - this.connectedAt;
	}

	/** Answer an incoming call: camera and microphone (camera only if `video` and the call is a video call), then the SDP answer. */
	async accept(opts: { video?: boolean } = {}): Promise<void> {
		if (this.currentState !== "incoming" || this.id === null || this.offer === null) {
			throw new SdkError("conflict", "Only a ringing incoming call can be accepted.");
		}
		const callId = this.id;
		this.setState("connecting");
		try {
			await this.prepare(this.video && opts.video !== false);
			if (this.isOver()) return;
			const pc = this.pc;
			if (!pc) return;
			await this.opts.client.sendCallSignal(callId, { kind: "accept" });
			await this.applyRemote({ type: "offer", sdp: this.offer });
			const answer = await pc.createAnswer();
			await pc.setLocalDescription({ type: "answer", sdp: answer.sdp ?? "" });
			await this.opts.client.sendCallSignal(callId, { kind: "answer", sdp: answer.sdp ?? "" });
			this.flushLocalCandidates();
			this.armConnectTimer();
		} catch (err) {
			this.fail(err);
		}
	}

	/** Turn an incoming call down (every device of this account stops ringing). */
	decline(): void {
		if (this.currentState !== "incoming") {
			this.hangup();
			return;
		}
		this.signal({ kind: "decline" });
		this.finish("declined");
	}

	/** End the call (or stop calling). */
	hangup(): void {
		if (this.isOver()) return;
		if (this.id !== null) this.signal({ kind: "hangup" });
		this.finish(this.currentState === "incoming" ? "declined" : "hangup");
	}

	setMuted(muted: boolean): void {
		this.isMuted = muted;
		for (const track of this.local?.getAudioTracks() ?? []) track.enabled = !muted;
		this.mediaChanged();
	}

	/** The peer sees no picture (the track is disabled, not removed, so turning it back on needs no renegotiation). */
	setCameraOff(off: boolean): void {
		this.isCameraOff = off;
		if (this.cameraTrack) this.cameraTrack.enabled = !off;
		this.mediaChanged();
	}

	/** Send the screen instead of the camera (video calls only); ends by itself when the browser's sharing stops. */
	async startScreenShare(): Promise<void> {
		if (this.screen) return;
		if (!this.videoSender) throw new SdkError("bad_request", "Screen sharing needs a video call.");
		if (!this.opts.getDisplayMedia) throw new SdkError("bad_request", "This page did not give the call a way to capture the screen.");
		const screen = await this.opts.getDisplayMedia({ video: true, audio: false });
		const track = screen.getVideoTracks()[0];
		if (!track || this.isOver()) {
			for (const t of screen.getTracks()) t.stop();
			return;
		}
		track.addEventListener("ended", () => {
			if (this.screen === screen) void this.stopScreenShare().catch((err) => this.fail(err));
		});
		await this.videoSender.replaceTrack(track);
		this.screen = screen;
		this.mediaChanged();
	}

	async stopScreenShare(): Promise<void> {
		const screen = this.screen;
		if (!screen) return;
		this.screen = null;
		if (this.videoSender && !this.isOver()) await this.videoSender.replaceTrack(this.cameraTrack);
		for (const t of screen.getTracks()) t.stop();
		this.mediaChanged();
	}

	// ------------------------------------------------------------------ internals

	private async dial(): Promise<void> {
		await this.prepare(this.video);
		const pc = this.pc;
		if (!pc || this.isOver()) return;
		const offer = await pc.createOffer();
		await pc.setLocalDescription({ type: "offer", sdp: offer.sdp ?? "" });
		if (this.isOver()) return;
		const call = await this.opts.client.startCall(this.peerId, { video: this.video, sdp: offer.sdp ?? "" });
		this.id = call.callId;
		if (this.isOver()) {
			// Hung up while the offer was on its way.
			this.signal({ kind: "hangup" });
			return;
		}
		this.setState("calling");
		this.flushLocalCandidates();
		for (const early of this.early.splice(0)) {
			if (early.signal) this.onSignal(early.signal);
			if (early.ended) this.onEnded(early.ended);
		}
	}

	/** Camera and microphone, ICE servers and the peer connection. */
	private async prepare(video: boolean): Promise<void> {
		const local = await this.opts.getUserMedia({ audio: true, video });
		if (this.isOver()) {
			for (const t of local.getTracks()) t.stop();
			return;
		}
		this.local = local;
		this.emit("local_stream", local);
		const iceServers = await (this.opts.iceServers ?? (() => this.opts.client.iceServers()))();
		if (this.isOver()) return;
		const pc = new this.opts.RTCPeerConnection({ iceServers });
		this.pc = pc;
		pc.addEventListener("icecandidate", (event) => {
			if (event.candidate) this.onLocalCandidate(event.candidate.toJSON());
		});
		pc.addEventListener("track", (event) => {
			const stream = event.streams[0];
			if (stream && stream !== this.remote) {
				this.remote = stream;
				this.emit("remote_stream", stream);
			}
		});
		pc.addEventListener("connectionstatechange", () => this.onConnectionState(pc.connectionState));
		for (const track of local.getTracks()) {
			const sender = pc.addTrack(track, local);
			if (track.kind === "video") {
				this.videoSender = sender;
				this.cameraTrack = track;
			}
		}
		this.setMuted(this.isMuted);
		this.setCameraOff(this.isCameraOff);
	}

	private onLocalCandidate(candidate: IceCandidateInitLike): void {
		if (typeof candidate.candidate !== "string" || candidate.candidate === "") return;
		if (this.id === null) {
			this.localCandidates.push(candidate);
			return;
		}
		this.signal({ kind: "ice", candidate: { ...candidate, candidate: candidate.candidate } });
	}

	private flushLocalCandidates(): void {
		for (const candidate of this.localCandidates.splice(0)) this.onLocalCandidate(candidate);
	}

	private onSignal(signal: CallSignal): void {
		if (this.isOver()) return;
		if (this.id === null) {
			if (this.currentState === "starting") this.early.push({ signal });
			return;
		}
		if (signal.callId !== this.id) return;
		switch (signal.kind) {
			case "ringing":
				if (this.currentState === "calling") this.setState("ringing");
				return;
			case "accept":
				if (this.currentState === "calling" || this.currentState === "ringing") {
					this.setState("connecting");
					this.armConnectTimer();
				}
				return;
			case "answer":
				this.applyRemote({ type: "answer", sdp: signal.sdp }).catch((err) => this.fail(err));
				return;
			case "offer":
				this.renegotiate(signal.sdp).catch((err) => this.fail(err));
				return;
			case "media":
				this.peerMedia = { audio: signal.audio, video: signal.video };
				this.emit("remote_media", this.peerMedia);
				return;
			case "ice":
				if (this.hasRemoteDescription && this.pc) this.pc.addIceCandidate(signal.candidate).catch(() => undefined);
				else this.remoteCandidates.push(signal.candidate);
				return;
			default:
				// decline, busy, hangup: the call_ended event that follows ends the session.
				return;
		}
	}

	private onEnded(ended: CallEnded): void {
		if (this.isOver()) return;
		if (this.id === null) {
			if (this.currentState === "starting") this.early.push({ ended });
			return;
		}
		if (ended.callId !== this.id) return;
		this.finish(ended.reason, ended.error);
	}

	private async applyRemote(description: { type: "offer" | "answer"; sdp: string }): Promise<void> {
		const pc = this.pc;
		if (!pc || this.isOver()) return;
		await pc.setRemoteDescription(description);
		this.hasRemoteDescription = true;
		for (const candidate of this.remoteCandidates.splice(0)) await pc.addIceCandidate(candidate).catch(() => undefined);
	}

	/** The peer changed the session (e.g. an ICE restart): answer it. */
	private async renegotiate(sdp: string): Promise<void> {
		const pc = this.pc;
		if (!pc || this.id === null) return;
		await this.applyRemote({ type: "offer", sdp });
		const answer = await pc.createAnswer();
		await pc.setLocalDescription({ type: "answer", sdp: answer.sdp ?? "" });
		this.signal({ kind: "answer", sdp: answer.sdp ?? "" });
	}

	private onConnectionState(state: string): void {
		if (this.isOver()) return;
		if (state === "connected") {
			this.clearConnectTimer();
			if (this.id !== null) this.opts.client.callConnected(this.id);
			this.connectedAt ??= Date.now();
			this.setState("connected");
			// Whatever was muted or turned off before the media connected.
			this.shareMedia();
		} else if (state === "failed") {
			this.giveUp("failed", new SdkError("network", "The media connection failed: the two devices could not reach each other."));
		}
	}

	private armConnectTimer(): void {
		this.clearConnectTimer();
		this.connectTimer = setTimeout(() => {
			if (this.currentState === "connected" || this.isOver()) return;
			this.giveUp("failed", new SdkError("network", "The call could not connect in time: the two devices could not reach each other."));
		}, this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
	}

	private clearConnectTimer(): void {
		if (this.connectTimer !== null) clearTimeout(this.connectTimer);
		this.connectTimer = null;
	}

	/** Fire and forget: a signal that cannot be sent ends nothing by itself (the relay's refusal does). */
	private signal(signal: OutgoingSignal): void {
		if (this.id === null) return;
		this.opts.client.sendCallSignal(this.id, signal).catch(() => undefined);
	}

	private fail(err: unknown): void {
		if (this.isOver()) return;
		this.giveUp("error", toSdkError(err));
	}

	/**
	 * End the call for a reason of this side's, then tell the peer. In that order: the hangup
	 * ends the call in the SDK at once, whose `call_ended` would otherwise name "hangup" as
	 * the reason.
	 */
	private giveUp(reason: CallSessionEnd, error: SdkError): void {
		const callId = this.id;
		this.finish(reason, error);
		if (callId !== null) this.opts.client.sendCallSignal(callId, { kind: "hangup" }).catch(() => undefined);
	}

	private finish(reason: CallSessionEnd, error?: SdkError): void {
		if (this.isOver()) return;
		this.endedAt = Date.now();
		this.failure = error;
		this.clearConnectTimer();
		for (const off of this.unsubscribe.splice(0)) off();
		for (const t of this.local?.getTracks() ?? []) t.stop();
		for (const t of this.screen?.getTracks() ?? []) t.stop();
		this.screen = null;
		try {
			this.pc?.close();
		} catch {
			// Already closed.
		}
		this.setState("ended");
		this.emit("ended", { reason, ...(error && { error }), durationMs: this.durationMs });
	}

	private isOver(): boolean {
		return this.currentState === "ended";
	}

	private setState(state: CallSessionState): void {
		if (this.currentState === state) return;
		this.currentState = state;
		this.emit("state", state);
	}

	private mediaChanged(): void {
		this.emit("media", { muted: this.isMuted, cameraOff: this.isCameraOff, sharingScreen: this.screen !== null });
		if (this.currentState === "connected") this.shareMedia();
	}

	/** Tell the peer, sealed, whether this side's microphone and camera are on (a shared screen counts as a picture). */
	private shareMedia(): void {
		const video = this.videoSender !== null && (!this.isCameraOff || this.screen !== null);
		this.signal({ kind: "media", audio: !this.isMuted, video });
	}
}
