import { describe, expect, it } from "vitest";
import { Ringtone } from "../../client/app/ringtone.ts";

/** Just enough of an AudioContext to see what the ringtone schedules on it. */
class FakeAudioContext {
	state: "suspended" | "running" | "closed" = "suspended";
	currentTime = 0;
	readonly destination = { name: "speakers" };
	readonly oscillators: Array<{ frequency: number; start: number; stop: number }> = [];
	readonly gains: number[] = [];
	private readonly listeners: Array<() => void> = [];
	addEventListener(_: "statechange", listener: () => void) {
		this.listeners.push(listener);
	}
	private setState(state: FakeAudioContext["state"]) {
		this.state = state;
		for (const l of this.listeners) l();
	}
	resume() {
		this.setState("running");
		return Promise.resolve();
	}
	close() {
		this.setState("closed");
		return Promise.resolve();
	}
	createGain() {
		const peaks = this.gains;
		const param = { setValueAtTime: () => {}, linearRampToValueAtTime: (v: number) => v > 0 && peaks.push(v) };
		return { gain: param, connect: () => {} };
	}
	createOscillator() {
		const osc = { type: "", frequency: { value: 0 }, start: 0, stop: 0 };
		const record = this.oscillators;
		return {
			get type() {
				return osc.type;
			},
			set type(t: string) {
				osc.type = t;
			},
			frequency: osc.frequency,
			connect: () => {},
			start: (at: number) => {
				osc.start = at;
			},
			stop: (at: number) => {
				osc.stop = at;
				record.push({ frequency: osc.frequency.value, start: osc.start, stop: at });
			},
		};
	}
}

describe("the ringtone", () => {
	it("schedules oscillator bursts through a gain envelope, reports what plays and its context's state, and closes it when stopped", async () => {
		const contexts: FakeAudioContext[] = [];
		let changes = 0;
		const ring = new Ringtone(
			() => changes++,
			() => {
				const ctx = new FakeAudioContext();
				contexts.push(ctx);
				return ctx;
			},
		);
		expect([ring.kind, ring.audioState]).toEqual([null, "none"]);
		ring.play("incoming");
		await Promise.resolve();
		expect([ring.kind, ring.audioState]).toEqual(["incoming", "running"]);
		const incoming = contexts[0]!;
		// Two tones at once, two bursts a cycle, two cycles ahead.
		expect(new Set(incoming.oscillators.map((o) => o.frequency))).toEqual(new Set([660, 880]));
		expect(incoming.oscillators).toHaveLength(8);
		expect(incoming.oscillators.every((o) => o.stop > o.start)).toBe(true);
		ring.play("incoming");
		expect(contexts).toHaveLength(1);

		// The caller's ring-back is quieter than the callee's ring.
		ring.play("ringback");
		expect(incoming.state).toBe("closed");
		const ringback = contexts[1]!;
		expect(Math.max(...ringback.gains)).toBeLessThan(Math.min(...incoming.gains));
		ring.play(null);
		expect([ring.kind, ring.audioState, ringback.state]).toEqual([null, "closed", "closed"]);
		expect(changes).toBeGreaterThan(3);
	});

	it("still reports what rings where there is no Web Audio", () => {
		const ring = new Ringtone(undefined, () => null);
		ring.play("incoming");
		expect([ring.kind, ring.audioState]).toEqual(["incoming", "none"]);
		ring.stop();
		expect(ring.kind).toBeNull();
	});
});
