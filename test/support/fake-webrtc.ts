/**
 * Stand-ins for the browser's WebRTC and media capture, for driving CallSession from Node.
 * The fake peer connection exchanges nothing itself: it records the descriptions and
 * candidates it is given (so a test can check they crossed the relay intact), gathers one
 * candidate after each local description, and says "connected" once it has both
 * descriptions and a candidate of the other side (or, made by unreachablePeerConnection,
 * stays "connecting" or says "failed", as when no candidate pair works).
 */
import type {
	IceCandidateEventLike,
	IceCandidateInitLike,
	IceServerLike,
	MediaStreamLike,
	MediaStreamTrackLike,
	PeerConnectionLike,
	RtpSenderLike,
	TrackEventLike,
} from "../../client/core/webrtc-like.ts";

let counter = 0;

export class FakeTrack implements MediaStreamTrackLike {
	enabled = true;
	stopped = false;
	private readonly onEnded: Array<() => void> = [];

	constructor(
		readonly kind: "audio" | "video",
		readonly label: string,
	) {}

	stop(): void {
		this.stopped = true;
	}

	addEventListener(_type: "ended", listener: () => void): void {
		this.onEnded.push(listener);
	}

	/** What the browser does when the user stops sharing from its own UI. */
	endFromOutside(): void {
		this.stopped = true;
		for (const listener of this.onEnded) listener();
	}
}

export class FakeStream implements MediaStreamLike {
	readonly id = `stream-${++counter}`;

	constructor(private readonly tracks: FakeTrack[]) {}

	getTracks(): FakeTrack[] {
		return [...this.tracks];
	}

	getAudioTracks(): FakeTrack[] {
		return this.tracks.filter((t) => t.kind === "audio");
	}

	getVideoTracks(): FakeTrack[] {
		return this.tracks.filter((t) => t.kind === "video");
	}
}

class FakeSender implements RtpSenderLike {
	constructor(public track: MediaStreamTrackLike | null) {}

	async replaceTrack(track: MediaStreamTrackLike | null): Promise<void> {
		this.track = track;
	}
}

type Listeners = {
	icecandidate: Array<(event: IceCandidateEventLike) => void>;
	track: Array<(event: TrackEventLike) => void>;
	connectionstatechange: Array<() => void>;
};

export class FakePeerConnection implements PeerConnectionLike {
	static readonly instances: FakePeerConnection[] = [];
	readonly name = `pc-${++counter}`;
	connectionState = "new";
	local: { type: string; sdp: string } | null = null;
	remote: { type: string; sdp: string } | null = null;
	readonly remoteCandidates: IceCandidateInitLike[] = [];
	readonly senders: FakeSender[] = [];
	private readonly listeners: Listeners = { icecandidate: [], track: [], connectionstatechange: [] };

	constructor(readonly config: { iceServers: IceServerLike[] }) {
		FakePeerConnection.instances.push(this);
	}

	addTrack(track: MediaStreamTrackLike): RtpSenderLike {
		const sender = new FakeSender(track);
		this.senders.push(sender);
		return sender;
	}

	async createOffer(): Promise<{ type: string; sdp: string }> {
		return { type: "offer", sdp: `v=0 offer of ${this.name}: ${this.senders.map((s) => s.track?.kind).join(",")}` };
	}

	async createAnswer(): Promise<{ type: string; sdp: string }> {
		if (!this.remote) throw new Error("createAnswer without a remote offer");
		return { type: "answer", sdp: `v=0 answer of ${this.name}` };
	}

	async setLocalDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<void> {
		this.local = description;
		setTimeout(() => {
			const candidate = {
				candidate: `candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host of ${this.name}`,
				sdpMid: "0",
				sdpMLineIndex: 0,
			};
			for (const l of this.listeners.icecandidate) l({ candidate: { toJSON: () => candidate } });
			for (const l of this.listeners.icecandidate) l({ candidate: null });
		}, 5);
		this.maybeConnect();
	}

	async setRemoteDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<void> {
		this.remote = description;
		const track = new FakeTrack("video", `remote video of ${this.name}`);
		const stream = new FakeStream([new FakeTrack("audio", `remote audio of ${this.name}`), track]);
		for (const l of this.listeners.track) l({ track, streams: [stream] });
		this.maybeConnect();
	}

	async addIceCandidate(candidate: IceCandidateInitLike): Promise<void> {
		if (!this.remote) throw new Error("addIceCandidate before the remote description");
		this.remoteCandidates.push(candidate);
		this.maybeConnect();
	}

	close(): void {
		this.connectionState = "closed";
	}

	addEventListener(type: "icecandidate", listener: (event: IceCandidateEventLike) => void): void;
	addEventListener(type: "track", listener: (event: TrackEventLike) => void): void;
	addEventListener(type: "connectionstatechange", listener: () => void): void;
	addEventListener(type: keyof Listeners, listener: (event: any) => void): void {
		(this.listeners[type] as Array<(event: any) => void>).push(listener);
	}

	/** Where ICE ends up once it has something to check: "connected" here. */
	protected readonly outcome: "connected" | "failed" | "stuck" = "connected";

	private maybeConnect(): void {
		if (!this.local || !this.remote || this.remoteCandidates.length === 0 || this.connectionState !== "new") return;
		this.connectionState = "connecting";
		for (const l of this.listeners.connectionstatechange) l();
		if (this.outcome === "stuck") return;
		setTimeout(() => {
			if (this.connectionState !== "connecting") return;
			this.connectionState = this.outcome;
			for (const l of this.listeners.connectionstatechange) l();
		}, 5);
	}
}

/** A peer connection whose ICE checks all fail ("failed"), or never finish ("stuck" in "connecting"). */
export function unreachablePeerConnection(outcome: "failed" | "stuck"): typeof FakePeerConnection {
	return class UnreachablePeerConnection extends FakePeerConnection {
		protected override readonly outcome = outcome;
	};
}

/** getUserMedia / getDisplayMedia that hand out fake tracks, and remember them. */
export function fakeMedia(owner: string) {
	const captured: FakeStream[] = [];
	const screens: FakeStream[] = [];
	return {
		captured,
		screens,
		getUserMedia: async (constraints: { audio: boolean; video: boolean }): Promise<MediaStreamLike> => {
			const tracks = [new FakeTrack("audio", `${owner} microphone`)];
			if (constraints.video) tracks.push(new FakeTrack("video", `${owner} camera`));
			const stream = new FakeStream(tracks);
			captured.push(stream);
			return stream;
		},
		getDisplayMedia: async (): Promise<MediaStreamLike> => {
			const stream = new FakeStream([new FakeTrack("video", `${owner} screen`)]);
			screens.push(stream);
			return stream;
		},
	};
}
