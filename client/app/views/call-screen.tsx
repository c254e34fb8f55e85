import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { CallController, CallState } from "../call-controller.ts";
import { formatClock } from "../call-log.ts";
import { askingText } from "../call-text.ts";
import type { MessengerController } from "../messenger-controller.ts";
import { useNow } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";
import { CameraIcon, HangUpIcon, MicIcon, MicOffIcon, PhoneIcon, ScreenIcon } from "./icons.tsx";

export { formatClock };

/**
 * A stream in a <video>: srcObject is a property, not an attribute, so it is set here. The
 * remote one also carries the sound of an audio call; the self view is muted.
 */
function StreamView({ stream, muted, className, label }: { stream: MediaStream | null; muted: boolean; className: string; label: string }) {
	const video = useRef<HTMLVideoElement>(null);
	useEffect(() => {
		const el = video.current;
		if (!el || el.srcObject === stream) return;
		el.srcObject = stream;
		// The user just clicked call or accept, so the browser lets it play with sound.
		if (stream) el.play().catch(() => {});
	}, [stream]);
	return <video ref={video} class={className} autoplay playsinline muted={muted} aria-label={label} />;
}

function statusText(call: CallState, handle: string): string {
	switch (call.phase) {
		case "asking":
			return askingText(handle);
		case "starting":
			return call.video ? "Starting your camera and microphone…" : "Starting your microphone…";
		case "calling":
			return "Calling…";
		case "ringing":
			return "Ringing…";
		case "incoming":
			return call.video ? "Incoming video call" : "Incoming audio call";
		case "connecting":
			return "Connecting…";
		case "connected":
			return call.video ? "Video call" : "Audio call";
		case "ended":
			return "Call ended";
	}
}

/** A control of the call: an icon with its name written under it. */
function Control({
	label,
	icon,
	onClick,
	pressed,
	tone,
	primary,
}: {
	label: string;
	icon: ComponentChildren;
	onClick: () => void;
	pressed?: boolean;
	tone?: "danger" | "accept";
	primary?: { current: HTMLButtonElement | null };
}) {
	return (
		<button type="button" class={`call-control${tone ? ` ${tone}` : ""}`} aria-pressed={pressed} onClick={onClick} ref={primary}>
			{icon}
			<span>{label}</span>
		</button>
	);
}

/**
 * The whole screen while a call rings, goes on, or has just ended. Its `data-call-phase` and
 * `data-peer-connection` (the RTCPeerConnection's own state) say where the call is.
 */
export function CallScreen({ calls, call, messenger }: { calls: CallController; call: CallState; messenger: MessengerController }) {
	const handle = `@${messenger.contact(call.peerId)?.handle ?? "your contact"}`;
	const primary = useRef<HTMLButtonElement>(null);
	useNow(call.phase === "connected");
	// A camera turned off on the other side sends black frames: their avatar shows instead.
	const showRemoteVideo = call.video && !call.remoteCameraOff && call.remote !== null && call.remote.getVideoTracks().length > 0;
	const self = call.sharingScreen ? call.screen : call.local;
	const live = call.phase !== "ended";
	const canShare = call.video && call.sendsVideo && calls.canShareScreen && call.phase === "connected";

	// The main action has the focus: accept, hang up, or close.
	const focusKey = call.phase === "incoming" ? "incoming" : live ? "live" : "ended";
	useEffect(() => {
		primary.current?.focus();
	}, [call.key, focusKey]);
	// Back where the user was once the screen goes.
	useEffect(() => {
		const before = document.activeElement;
		return () => {
			if (before instanceof HTMLElement && before.isConnected) before.focus();
		};
	}, []);
	// Nothing rings on without the screen of its call.
	const key = call.key;
	useEffect(() => () => calls.screenGone(key), [calls, key]);

	return (
		<section
			class={`call-screen ${call.video ? "video" : "audio"}${showRemoteVideo ? " with-video" : ""}`}
			role="dialog"
			aria-modal="true"
			aria-labelledby="call-title"
			aria-describedby="call-status"
			data-call-phase={call.phase}
			data-peer-connection={call.connection}
			data-ringing={call.ringing ?? "off"}
			data-ring-audio={call.ringAudio}
		>
			<div class="call-stage">
				<StreamView
					stream={call.remote}
					muted={false}
					className={showRemoteVideo ? "remote-video" : "remote-video sound-only"}
					label={`${handle}'s video`}
				/>
				{!showRemoteVideo && (
					<div class="call-avatar" aria-hidden="true">
						{handle.slice(1, 2).toUpperCase()}
					</div>
				)}
				{call.remoteMuted && live && (
					<output class="call-remote-muted" aria-label={`${handle} muted`}>
						<MicOffIcon />
					</output>
				)}
				{self && call.sendsVideo && live && (
					<StreamView
						stream={self}
						muted
						className={call.sharingScreen ? "self-view" : "self-view mirrored"}
						label={call.sharingScreen ? "Your shared screen" : "Your camera"}
					/>
				)}
			</div>
			<div class="call-info">
				<h2 id="call-title">{handle}</h2>
				<p id="call-status" class="call-status" aria-live="polite">
					{statusText(call, handle)}
				</p>
				{call.phase === "connected" && (
					<p class="call-duration">
						<span class="visually-hidden">Duration </span>
						<time data-testid="call-duration">{formatClock(calls.durationMs)}</time>
					</p>
				)}
				{call.end && (
					<p class={`call-end ${call.end.tone}`} role={call.end.tone === "error" ? "alert" : "status"}>
						{call.end.text}
					</p>
				)}
				<ErrorLine text={call.problem} />
			</div>
			<fieldset class="call-controls">
				<legend class="visually-hidden">Call controls</legend>
				{call.phase === "incoming" && (
					<>
						{call.video && (
							<Control label="Accept with video" icon={<CameraIcon />} tone="accept" primary={primary} onClick={() => calls.accept(true)} />
						)}
						<Control
							label={call.video ? "Accept audio only" : "Accept"}
							icon={<PhoneIcon />}
							tone="accept"
							{...(!call.video && { primary })}
							onClick={() => calls.accept(false)}
						/>
						<Control label="Decline" icon={<HangUpIcon />} tone="danger" onClick={() => calls.decline()} />
					</>
				)}
				{call.phase === "asking" && (
					<Control label="Stop waiting" icon={<span class="close-mark">×</span>} primary={primary} onClick={() => calls.close()} />
				)}
				{live && call.phase !== "incoming" && call.phase !== "asking" && (
					<>
						{call.local && <Control label="Mute" icon={<MicIcon />} pressed={call.muted} onClick={() => calls.setMuted(!call.muted)} />}
						{call.sendsVideo && (
							<Control
								label="Camera off"
								icon={<CameraIcon />}
								pressed={call.cameraOff}
								onClick={() => calls.setCameraOff(!call.cameraOff)}
							/>
						)}
						{canShare && (
							<Control
								label="Share screen"
								icon={<ScreenIcon />}
								pressed={call.sharingScreen}
								onClick={() => void calls.toggleScreenShare()}
							/>
						)}
						<Control label="Hang up" icon={<HangUpIcon />} tone="danger" primary={primary} onClick={() => calls.hangup()} />
					</>
				)}
				{!live && (
					<>
						{call.end?.canRetry && <Control label="Call again" icon={<PhoneIcon />} tone="accept" onClick={() => calls.again()} />}
						<Control label="Close" icon={<span class="close-mark">×</span>} primary={primary} onClick={() => calls.close()} />
					</>
				)}
			</fieldset>
		</section>
	);
}
