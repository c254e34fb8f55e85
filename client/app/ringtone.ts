/**
 * The sounds of a ringing call, made with Web Audio (oscillators through a gain envelope), so
 * the app ships no audio file: `incoming`, a two-tone ring that repeats, for the callee; and
 * `ringback`, a quiet long tone every few seconds, for the caller while the callee's devices
 * ring. What plays is `kind`, and the AudioContext's own `state` (a browser may keep it
 * `suspended` until the user touched the page), so a test can see both without listening.
 */

export type RingKind = "incoming" | "ringback";

/** The part of Web Audio the ringtone uses (the browser's AudioContext is one), so it also runs, and is tested, without a DOM. */
interface AudioParamLike {
	setValueAtTime(value: number, at: number): unknown;
	linearRampToValueAtTime(value: number, at: number): unknown;
}
interface AudioNodeLike {
	connect(destination: unknown): unknown;
}
export interface AudioContextLike {
	readonly state: "suspended" | "running" | "closed" | "interrupted";
	readonly currentTime: number;
	readonly destination: unknown;
	addEventListener(type: "statechange", listener: () => void): void;
	resume(): Promise<void>;
	close(): Promise<void>;
	createGain(): AudioNodeLike & { gain: AudioParamLike };
	createOscillator(): AudioNodeLike & { type: string; frequency: { value: number }; start(at: number): void; stop(at: number): void };
}

/** "none": no AudioContext was made (nothing rang yet, or this browser has no Web Audio); "closed" once one stopped. */
export type RingAudioState = AudioContextLike["state"] | "none";

interface Pattern {
	/** Frequencies played together. */
	tones: number[];
	gain: number;
	/** [start, length] of each burst within one cycle, in seconds. */
	bursts: Array<[number, number]>;
	cycle: number;
}

const PATTERNS: Record<RingKind, Pattern> = {
	incoming: {
		tones: [660, 880],
		gain: 0.18,
		bursts: [
			[0, 0.4],
			[0.6, 0.4],
		],
		cycle: 3,
	},
	// The North American ring-back tone, softly: the caller hears that it rings, nothing loud.
	ringback: { tones: [440, 480], gain: 0.05, bursts: [[0, 1.5]], cycle: 4.5 },
};

/** A ramp this long at each end of a burst, so that it does not click. */
const RAMP = 0.02;

function defaultContext(): AudioContextLike | null {
	const Ctor = (globalThis as { AudioContext?: new () => AudioContextLike }).AudioContext;
	return Ctor ? new Ctor() : null;
}

export class Ringtone {
	private ctx: AudioContextLike | null = null;
	private current: RingKind | null = null;
	private hadContext = false;
	private timer: ReturnType<typeof setInterval> | null = null;
	/** Up to when (the context's clock) bursts are scheduled. */
	private scheduledTo = 0;

	constructor(
		/** Told whenever what plays or the AudioContext's state changes. */
		private readonly onChange: () => void = () => {},
		private readonly makeContext: () => AudioContextLike | null = defaultContext,
	) {}

	get kind(): RingKind | null {
		return this.current;
	}

	get audioState(): RingAudioState {
		return this.ctx?.state ?? (this.hadContext ? "closed" : "none");
	}

	/** Play `kind` (null: stop). The same kind again changes nothing. */
	play(kind: RingKind | null): void {
		if (kind === this.current) return;
		this.stop();
		if (kind === null) return;
		this.current = kind;
		let ctx: AudioContextLike | null = null;
		try {
			ctx = this.makeContext();
		} catch {
			// No audio here (too many contexts, a locked-down browser): the call screen still shows the call.
		}
		this.ctx = ctx;
		if (ctx) {
			this.hadContext = true;
			ctx.addEventListener("statechange", () => this.onChange());
			// Allowed when the page had a user gesture; otherwise it stays suspended, silently.
			ctx.resume().catch(() => {});
			this.scheduledTo = ctx.currentTime;
			const pattern = PATTERNS[kind];
			this.schedule(ctx, pattern);
			// A cycle ahead at all times: a throttled timer in a background tab still leaves no gap.
			this.timer = setInterval(() => this.schedule(ctx, pattern), (pattern.cycle * 1000) / 2);
		}
		this.onChange();
	}

	stop(): void {
		if (this.current === null && this.ctx === null) return;
		if (this.timer !== null) clearInterval(this.timer);
		this.timer = null;
		const ctx = this.ctx;
		this.ctx = null;
		this.current = null;
		// Closing the context stops every oscillator scheduled on it at once.
		ctx?.close().catch(() => {});
		this.onChange();
	}

	private schedule(ctx: AudioContextLike, pattern: Pattern): void {
		if (this.ctx !== ctx) return;
		const horizon = ctx.currentTime + pattern.cycle * 2;
		while (this.scheduledTo < horizon) {
			const start = this.scheduledTo;
			for (const [offset, length] of pattern.bursts) this.burst(ctx, pattern, start + offset, length);
			this.scheduledTo = start + pattern.cycle;
		}
	}

	private burst(ctx: AudioContextLike, pattern: Pattern, at: number, length: number): void {
		const gain = ctx.createGain();
		gain.gain.setValueAtTime(0, at);
		gain.gain.linearRampToValueAtTime(pattern.gain, at + RAMP);
		gain.gain.setValueAtTime(pattern.gain, at + length - RAMP);
		gain.gain.linearRampToValueAtTime(0, at + length);
		gain.connect(ctx.destination);
		for (const frequency of pattern.tones) {
			const osc = ctx.createOscillator();
			osc.type = "sine";
			osc.frequency.value = frequency;
			osc.connect(gain);
			osc.start(at);
			osc.stop(at + length);
		}
	}
}
