import { CallSession, type CallSessionEnd, type CallSessionOptions, type CallSessionState } from "../core/call-session.ts";
import type { IncomingCall } from "../core/sdk.ts";
import { type SdkError, toSdkError } from "../core/sdk-error.ts";
import type { MediaStreamLike, PeerConnectionConstructor } from "../core/webrtc-like.ts";
import { callLogRecord } from "./call-log.ts";
import { type CallEnd, callEndText, callRequestNotNowText } from "./call-text.ts";
import type { MessengerController } from "./messenger-controller.ts";
import { type RingAudioState, type RingKind, Ringtone } from "./ringtone.ts";

/** WebRTC and media capture as the page hands them in (CallSession never touches a DOM global). */
export interface BrowserMedia {
	RTCPeerConnection: typeof RTCPeerConnection;
	getUserMedia: (constraints: { audio: boolean; video: boolean }) => Promise<MediaStream>;
	/** Absent on most phones: no screen sharing there. */
	getDisplayMedia?: (constraints: { audio: boolean; video: boolean }) => Promise<MediaStream>;
}

/** The browser's WebRTC and capture, or why there are none (an old browser, or a page not served over https). */
export function browserMedia(): BrowserMedia | string {
	if (typeof RTCPeerConnection === "undefined") return "This browser cannot make calls.";
	const devices = typeof navigator === "undefined" ? undefined : navigator.mediaDevices;
	if (!devices || typeof devices.getUserMedia !== "function") {
		return window.isSecureContext ? "This browser cannot use a camera or microphone." : "Calls need the app to be opened over https.";
	}
	return {
		RTCPeerConnection,
		getUserMedia: (constraints) => devices.getUserMedia(constraints),
		...(typeof devices.getDisplayMedia === "function" && {
			getDisplayMedia: (constraints: { audio: boolean; video: boolean }) => devices.getDisplayMedia(constraints),
		}),
	};
}

export interface CallState {
	/** New for every call, so that views start afresh. */
	key: number;
	peerId: string;
	direction: "outgoing" | "incoming";
	/** A video call (this device may still send no video, if it was accepted with audio only). */
	video: boolean;
	/** `asking`: the callee had not allowed calls from this account, and was asked to; the call is placed once they allow it. */
	phase: CallSessionState | "asking";
	/** The RTCPeerConnection's own connectionState: "new" until there is one, "closed" after the call. */
	connection: string;
	muted: boolean;
	cameraOff: boolean;
	sharingScreen: boolean;
	/** This device sends a camera picture. */
	sendsVideo: boolean;
	local: MediaStream | null;
	remote: MediaStream | null;
	/** The shared screen, for the self view while sharing. */
	screen: MediaStream | null;
	/** Once the call is over: why, as a sentence. */
	end: CallEnd | null;
	/** A control that did not work (screen sharing), as a sentence. */
	problem: string | null;
	/** The other side said (sealed) that its microphone, or its camera, is off. */
	remoteMuted: boolean;
	remoteCameraOff: boolean;
	/** What the ringtone plays (ringtone.ts), and its AudioContext's state. */
	ringing: RingKind | null;
	ringAudio: RingAudioState;
}

/** What rings for a call in this phase: the callee's ring, or the caller's quiet ring-back while the callee's devices ring. */
function ringFor(call: CallState | null): RingKind | null {
	if (call?.phase === "incoming") return "incoming";
	if (call?.phase === "ringing" && call.direction === "outgoing") return "ringback";
	return null;
}

/** An ended call that needs no reading stays this long. */
const AUTO_CLOSE_MS = 4_000;

/** The streams CallSession hands out are the browser's own (see its docs); anything else is not shown. */
const asStream = (stream: MediaStreamLike | null): MediaStream | null => (stream instanceof MediaStream ? stream : null);

/**
 * The call of the web app, at most one at a time, as one immutable state object for the
 * views: places and answers calls through CallSession, and turns its events (and the peer
 * connection's own state) into that state. A call that rings while another is going on is
 * answered `busy`.
 */
export class CallController {
	private current: CallState | null = null;
	private readonly listeners = new Set<(state: CallState | null) => void>();
	private session: CallSession | null = null;
	private pc: RTCPeerConnection | null = null;
	private unsubscribe: Array<() => void> = [];
	private counter = 0;
	private byMe = false;
	private connected = false;
	private closeTimer: ReturnType<typeof setTimeout> | null = null;
	/** When the current call was placed or began to ring here, for its log line. */
	private startedAt = 0;
	private readonly ringtone: Ringtone;
	/** Why this browser cannot call, or null. */
	readonly unavailable: string | null;
	private readonly media: BrowserMedia | null;

	constructor(
		private readonly messenger: MessengerController,
		media: BrowserMedia | string,
	) {
		this.media = typeof media === "string" ? null : media;
		this.unavailable = typeof media === "string" ? media : null;
		this.ringtone = new Ringtone(() => this.emit());
		// Subscribed before the client connects, so that no call rings unheard.
		messenger.client.on("call_incoming", (call) => this.onIncoming(call));
		messenger.client.on("call_request", ({ event, peerId }) => {
			if (event === "allowed" || event === "not_now") this.onRequestAnswered(peerId, event);
		});
	}

	get state(): CallState | null {
		return this.current;
	}

	subscribe(listener: (state: CallState | null) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** A call is ringing or going on (an ended one that is still shown, or one only asking, does not count). */
	get busy(): boolean {
		return this.current !== null && this.current.phase !== "ended" && this.current.phase !== "asking";
	}

	/** This browser can share its screen (most phones cannot). */
	get canShareScreen(): boolean {
		return this.media?.getDisplayMedia !== undefined;
	}

	/** Time since the media connected, frozen when the call ends. */
	get durationMs(): number {
		return this.session?.durationMs ?? 0;
	}

	/** Call a contact; everything after the start shows in the state. */
	async start(peerId: string, video: boolean): Promise<void> {
		if (this.busy || !this.media) return;
		const key = this.begin({ peerId, direction: "outgoing", video, phase: "starting" });
		let session: CallSession;
		try {
			session = await CallSession.start(this.options(key, this.media), peerId, { video });
		} catch (err) {
			this.finish(key, "error", toSdkError(err), 0);
			return;
		}
		// Cancelled (or replaced) while the camera and the offer were being made.
		if (this.current?.key !== key || this.current.phase === "ended") {
			session.hangup();
			return;
		}
		this.attach(key, session);
	}

	/** Answer the ringing call, with the camera or (for a video call) with audio only. */
	accept(video: boolean): void {
		// A failure ends the session, with its reason, through the `ended` event.
		this.session?.accept({ video }).catch(() => {});
	}

	decline(): void {
		this.byMe = true;
		this.session?.decline();
	}

	/** End the call, or stop calling. */
	hangup(): void {
		const call = this.current;
		if (!call || call.phase === "ended") return;
		this.byMe = true;
		if (this.session) this.session.hangup();
		// Still starting: start() hangs the session up as soon as it has one.
		else this.finish(call.key, "hangup", undefined, 0);
	}

	setMuted(muted: boolean): void {
		this.session?.setMuted(muted);
	}

	setCameraOff(off: boolean): void {
		this.session?.setCameraOff(off);
	}

	async toggleScreenShare(): Promise<void> {
		const session = this.session;
		const call = this.current;
		if (!session || !call) return;
		try {
			if (session.sharingScreen) await session.stopScreenShare();
			else await session.startScreenShare();
			this.patch(call.key, { problem: null });
		} catch (err) {
			// The user closed the browser's screen picker: nothing went wrong.
			if (err instanceof DOMException && err.name === "NotAllowedError") return;
			this.patch(call.key, { problem: "The screen could not be shared." });
		}
	}

	/** The screen of call `key` went: nothing rings on without it (the screen of an older call going changes nothing). */
	screenGone(key: number): void {
		if (this.current === null || this.current.key === key) this.ringtone.stop();
	}

	/** Close the screen of an ended call (or stop waiting for an answer to a call request). */
	close(): void {
		if (this.busy) return;
		this.clearCloseTimer();
		this.set(null);
	}

	/** Call the same person the same way again, after a call that did not work out. */
	again(): void {
		const call = this.current;
		if (!call || this.busy) return;
		this.close();
		void this.start(call.peerId, call.video);
	}

	// ------------------------------------------------------------------ internals

	private onIncoming(call: IncomingCall): void {
		const handle = `@${this.messenger.contact(call.peerId)?.handle ?? "a contact"}`;
		if (!this.media) {
			// Left to ring out here: another device of this account may take it.
			this.messenger.notify(`${handle} is calling you, but this browser cannot take calls. ${this.unavailable ?? ""}`.trim(), "info");
			return;
		}
		if (this.busy) {
			this.messenger.client.sendCallSignal(call.callId, { kind: "busy" }).catch(() => {});
			this.messenger.notify(`${handle} tried to call you while you were in another call.`, "info");
			const missed = callLogRecord({
				callId: call.callId,
				peerId: call.peerId,
				direction: "incoming",
				video: call.video,
				reason: "hangup",
				byMe: false,
				connected: false,
				durationMs: 0,
				startedAt: Date.now(),
			});
			if (missed) void this.messenger.recordCall(missed).catch((err) => this.messenger.report(err));
			return;
		}
		// Made here, before any await, so that the session hears the ICE candidates that follow the offer.
		const key = this.begin({ peerId: call.peerId, direction: "incoming", video: call.video, phase: "incoming" });
		this.attach(key, CallSession.incoming(this.options(key, this.media), call));
	}

	private begin(call: Pick<CallState, "peerId" | "direction" | "video" | "phase">): number {
		this.detach();
		this.clearCloseTimer();
		this.byMe = false;
		this.connected = false;
		this.session = null;
		this.pc = null;
		this.startedAt = Date.now();
		const key = ++this.counter;
		this.set({
			key,
			...call,
			connection: "new",
			muted: false,
			cameraOff: false,
			sharingScreen: false,
			sendsVideo: false,
			local: null,
			remote: null,
			screen: null,
			end: null,
			problem: null,
			remoteMuted: false,
			remoteCameraOff: false,
			ringing: null,
			ringAudio: "none",
		});
		return key;
	}

	private options(key: number, media: BrowserMedia): CallSessionOptions {
		const Base = media.RTCPeerConnection;
		const onCreate = (pc: RTCPeerConnection) => {
			if (this.current?.key !== key) return;
			this.pc = pc;
			const report = () => this.patch(key, { connection: pc.connectionState });
			pc.addEventListener("connectionstatechange", report);
			report();
		};
		// The browser's own class, watched, so that the screen can show the connection's real state.
		const Watched: PeerConnectionConstructor = class extends Base {
			constructor(config: RTCConfiguration) {
				super(config);
				onCreate(this);
			}
		};
		return {
			client: this.messenger.client,
			RTCPeerConnection: Watched,
			getUserMedia: media.getUserMedia,
			...(media.getDisplayMedia && { getDisplayMedia: media.getDisplayMedia }),
		};
	}

	private attach(key: number, session: CallSession): void {
		this.session = session;
		const local = () => {
			const stream = asStream(session.localStream);
			return { local: stream, sendsVideo: (stream?.getVideoTracks().length ?? 0) > 0 };
		};
		this.unsubscribe = [
			session.on("state", (phase) => {
				if (phase === "connected") this.connected = true;
				if (phase !== "ended") this.patch(key, { phase });
			}),
			session.on("local_stream", () => this.patch(key, local())),
			session.on("remote_stream", (stream) => this.patch(key, { remote: asStream(stream) })),
			session.on("media", (media) => this.patch(key, { ...media, screen: asStream(session.screenStream) })),
			session.on("remote_media", ({ audio, video }) => this.patch(key, { remoteMuted: !audio, remoteCameraOff: !video })),
			session.on("ended", ({ reason, error, durationMs }) => this.finish(key, reason, error, durationMs)),
		];
		// Whatever happened before these listeners were added (start() resolves after the first events).
		if (session.state === "connected") this.connected = true;
		this.patch(key, {
			...local(),
			remote: asStream(session.remoteStream),
			muted: session.muted,
			cameraOff: session.cameraOff,
			sharingScreen: session.sharingScreen,
			...(session.state !== "ended" && { phase: session.state }),
		});
		if (session.state === "ended") this.finish(key, session.error ? "error" : "hangup", session.error, session.durationMs);
	}

	private detach(): void {
		for (const off of this.unsubscribe.splice(0)) off();
	}

	private finish(key: number, reason: CallSessionEnd, error: SdkError | undefined, durationMs: number): void {
		const call = this.current;
		if (!call || call.key !== key || call.phase === "ended") return;
		this.detach();
		if (call.direction === "outgoing" && error?.code === "calls_not_allowed") {
			// Not a dead end: the relay asked the callee to allow calls. The call is placed again
			// as soon as they do (onRequestAnswered); no log line, as nothing rang.
			this.set({ ...call, phase: "asking", connection: "closed", local: null, remote: null, screen: null, sharingScreen: false });
			return;
		}
		const callId = this.session?.callId ?? null;
		const entry =
			callId === null
				? null
				: callLogRecord({
						callId,
						peerId: call.peerId,
						direction: call.direction,
						video: call.video,
						reason,
						byMe: this.byMe,
						connected: this.connected,
						durationMs,
						startedAt: this.startedAt,
					});
		if (entry) void this.messenger.recordCall(entry).catch((err) => this.messenger.report(err));
		const end = callEndText({
			reason,
			error,
			direction: call.direction,
			peer: `@${this.messenger.contact(call.peerId)?.handle ?? "your contact"}`,
			byMe: this.byMe,
			connected: this.connected,
			durationMs,
		});
		this.set({
			...call,
			phase: "ended",
			connection: this.pc?.connectionState ?? "closed",
			local: null,
			remote: null,
			screen: null,
			sharingScreen: false,
			end,
		});
		if (end.autoClose) {
			this.closeTimer = setTimeout(() => {
				if (this.current?.key === key) this.close();
			}, AUTO_CLOSE_MS);
		}
	}

	private clearCloseTimer(): void {
		if (this.closeTimer !== null) clearTimeout(this.closeTimer);
		this.closeTimer = null;
	}

	private patch(key: number, patch: Partial<CallState>): void {
		if (this.current?.key !== key) return;
		this.set({ ...this.current, ...patch });
	}

	/** The callee answered this account's call request: call at once if still waiting, else say so. */
	private onRequestAnswered(peerId: string, answer: "allowed" | "not_now"): void {
		const call = this.current;
		const handle = `@${this.messenger.contact(peerId)?.handle ?? "your contact"}`;
		const waiting = call?.phase === "asking" && call.peerId === peerId;
		if (answer === "allowed") {
			if (waiting) {
				this.close();
				void this.start(peerId, call.video);
			} else this.messenger.notify(`${handle} now takes calls from you.`, "info");
			return;
		}
		const end = callRequestNotNowText(handle);
		if (waiting) this.set({ ...call, phase: "ended", end });
		else this.messenger.notify(end.text, "info");
	}

	private set(state: CallState | null): void {
		this.current = state;
		this.ringtone.play(ringFor(state));
		this.emit();
	}

	/** Tell the views, with what the ringtone does now. */
	private emit(): void {
		const state = this.current && { ...this.current, ringing: this.ringtone.kind, ringAudio: this.ringtone.audioState };
		this.current = state;
		for (const listener of this.listeners) listener(state);
	}
}
