import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { decodeQrFile, pixelsOf } from "../qr/picture-pixels.ts";
import { decodeQr } from "../qr/qr-decode.ts";
import { ErrorLine } from "./error-line.tsx";

/** How often a camera frame is searched for a code: often enough to feel instant, rarely enough to leave the CPU alone. */
const FRAME_INTERVAL_MS = 250;

const hasCamera = (): boolean => typeof navigator !== "undefined" && typeof navigator.mediaDevices?.getUserMedia === "function";

/** Why the camera could not be opened, in a sentence. */
function cameraProblem(err: unknown): string {
	const name = err instanceof DOMException ? err.name : "";
	if (name === "NotAllowedError") return "The browser was not allowed to use the camera. Choose a picture of the code instead.";
	if (name === "NotFoundError" || name === "OverconstrainedError")
		return "This device has no camera the browser can use. Choose a picture of the code instead.";
	return "The camera could not be opened. Choose a picture of the code instead.";
}

/** The camera's picture, searched for a QR code until one is found or the person stops. */
function CameraScan({ onText, onStop }: { onText: (text: string) => void; onStop: (problem: string | null) => void }) {
	const video = useRef<HTMLVideoElement>(null);
	useEffect(() => {
		let stopped = false;
		let stream: MediaStream | null = null;
		let timer: ReturnType<typeof setTimeout> | undefined;
		const release = () => {
			for (const track of stream?.getTracks() ?? []) track.stop();
		};
		const look = async () => {
			const el = video.current;
			if (stopped || !el) return;
			if (el.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && el.videoWidth > 0) {
				const text = await decodeQr(pixelsOf(el, el.videoWidth, el.videoHeight)).catch(() => null);
				if (stopped) return;
				if (text !== null) {
					stopped = true;
					release();
					onText(text);
					return;
				}
			}
			timer = setTimeout(() => void look(), FRAME_INTERVAL_MS);
		};
		// The back camera on a phone: the code is on the other person's screen.
		navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(
			(opened) => {
				stream = opened;
				if (stopped || !video.current) return release();
				video.current.srcObject = opened;
				void video.current.play().catch(() => {});
				void look();
			},
			(err: unknown) => {
				if (!stopped) onStop(cameraProblem(err));
			},
		);
		return () => {
			stopped = true;
			clearTimeout(timer);
			release();
		};
	}, [onText, onStop]);
	return (
		<div class="camera-scan stack">
			<video ref={video} class="camera-view" muted playsInline aria-label="Camera picture" />
			<p class="hint">Hold the code in front of the camera until it is read.</p>
			<button type="button" onClick={() => onStop(null)}>
				Stop the camera
			</button>
		</div>
	);
}

/**
 * Read a QR code: from a picture (a screenshot, or a photo of the other screen) and, where
 * the browser has a camera, from the camera. `onText` gets the text of the first code found;
 * a picture without one says so here.
 */
export function QrScanner({
	onText,
	pictureLabel,
	disabled = false,
}: {
	onText: (text: string) => void;
	pictureLabel: string;
	disabled?: boolean;
}) {
	const [camera, setCamera] = useState(false);
	const [problem, setProblem] = useState<string | null>(null);
	const [reading, setReading] = useState(false);
	// The latest onText, behind callbacks that stay the same, so that the camera is not reopened on every render.
	const latest = useRef(onText);
	latest.current = onText;
	const found = useCallback((text: string) => {
		setCamera(false);
		latest.current(text);
	}, []);
	const stopped = useCallback((why: string | null) => {
		setCamera(false);
		setProblem(why);
	}, []);
	return (
		<div class="qr-scanner stack">
			<div class="actions">
				<label class="button">
					{reading ? "Reading the picture…" : pictureLabel}
					<input
						type="file"
						accept="image/*"
						class="visually-hidden"
						disabled={disabled || reading}
						onChange={async (e) => {
							const file = e.currentTarget.files?.[0];
							e.currentTarget.value = "";
							if (!file) return;
							setProblem(null);
							setReading(true);
							try {
								const text = await decodeQrFile(file);
								if (text === null) setProblem("No QR code was found in that picture. Try a sharper one, with the whole code in it.");
								else latest.current(text);
							} catch {
								setProblem("That file could not be read as a picture.");
							} finally {
								setReading(false);
							}
						}}
					/>
				</label>
				{hasCamera() && !camera && (
					<button
						type="button"
						disabled={disabled}
						onClick={() => {
							setProblem(null);
							setCamera(true);
						}}
					>
						Scan with the camera
					</button>
				)}
			</div>
			{camera && <CameraScan onText={found} onStop={stopped} />}
			<ErrorLine text={problem} />
		</div>
	);
}
