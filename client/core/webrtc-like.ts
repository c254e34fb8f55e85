/**
 * The parts of WebRTC and media capture that CallSession uses. The browser's own classes fit
 * them, so a page passes `RTCPeerConnection` and `navigator.mediaDevices` functions in, and
 * this module (like the rest of client/core) never touches a DOM global: it type-checks for
 * workers and Node, and a test can drive it with fakes.
 */

export interface MediaStreamTrackLike {
	readonly kind: string;
	enabled: boolean;
	stop(): void;
	addEventListener(type: "ended", listener: () => void): void;
}

export interface MediaStreamLike {
	readonly id: string;
	getTracks(): MediaStreamTrackLike[];
	getAudioTracks(): MediaStreamTrackLike[];
	getVideoTracks(): MediaStreamTrackLike[];
}

export interface RtpSenderLike {
	readonly track: MediaStreamTrackLike | null;
	replaceTrack(track: MediaStreamTrackLike | null): Promise<void>;
}

export interface SessionDescriptionLike {
	readonly type: string;
	readonly sdp?: string;
}

export interface IceCandidateInitLike {
	candidate?: string;
	sdpMid?: string | null;
	sdpMLineIndex?: number | null;
	usernameFragment?: string | null;
}

export interface IceCandidateEventLike {
	/** null once gathering is complete. */
	readonly candidate: { toJSON(): IceCandidateInitLike } | null;
}

export interface TrackEventLike {
	readonly track: MediaStreamTrackLike;
	readonly streams: readonly MediaStreamLike[];
}

export interface PeerConnectionLike {
	/** "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed" */
	readonly connectionState: string;
	addTrack(track: MediaStreamTrackLike, ...streams: MediaStreamLike[]): RtpSenderLike;
	createOffer(): Promise<SessionDescriptionLike>;
	createAnswer(): Promise<SessionDescriptionLike>;
	setLocalDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<void>;
	setRemoteDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<void>;
	addIceCandidate(candidate: IceCandidateInitLike): Promise<void>;
	close(): void;
	addEventListener(type: "icecandidate", listener: (event: IceCandidateEventLike) => void): void;
	addEventListener(type: "track", listener: (event: TrackEventLike) => void): void;
	addEventListener(type: "connectionstatechange", listener: () => void): void;
}

export interface IceServerLike {
	urls: string[];
	username?: string;
	credential?: string;
}

export type PeerConnectionConstructor = new (config: { iceServers: IceServerLike[] }) => PeerConnectionLike;

/** `navigator.mediaDevices.getUserMedia`, bound. */
export type GetUserMedia = (constraints: { audio: boolean; video: boolean }) => Promise<MediaStreamLike>;
/** `navigator.mediaDevices.getDisplayMedia`, bound. */
export type GetDisplayMedia = (constraints: { video: boolean; audio: boolean }) => Promise<MediaStreamLike>;
