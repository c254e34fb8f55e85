import { describe, expect, it } from "vitest";
import { Lane } from "../../worker/relay/lane.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("a lane", () => {
	it("runs its items one at a time, in the order they arrived, even when a later one would finish first", async () => {
		const lane = new Lane();
		const log: string[] = [];
		const slow = lane.run(async () => {
			log.push("slow starts");
			await tick();
			await tick();
			log.push("slow ends");
			return "slow";
		});
		const fast = lane.run(async () => {
			log.push("fast runs");
			return "fast";
		});
		expect(await Promise.all([slow, fast])).toEqual(["slow", "fast"]);
		expect(log).toEqual(["slow starts", "slow ends", "fast runs"]);
	});

	it("hands a failure to its own caller only, and the next item still runs", async () => {
		const lane = new Lane();
		const failed = lane.run(async () => {
			throw new Error("boom");
		});
		const next = lane.run(async () => 42);
		await expect(failed).rejects.toThrow("boom");
		expect(await next).toBe(42);
	});

	it("keeps two lanes apart: one waiting does not hold the other", async () => {
		const sends = new Lane();
		const calls = new Lane();
		let open!: () => void;
		const gate = new Promise<void>((resolve) => {
			open = resolve;
		});
		const held = sends.run(() => gate.then(() => "send"));
		expect(await calls.run(async () => "call")).toBe("call");
		open();
		expect(await held).toBe("send");
	});

	it("counts the items running or waiting, down as each one ends, before the next one starts", async () => {
		const lane = new Lane();
		const seen: number[] = [];
		expect(lane.pending).toBe(0);
		const first = lane.run(async () => {
			seen.push(lane.pending);
			await tick();
		});
		const second = lane.run(async () => {
			seen.push(lane.pending);
		});
		const failing = lane.run(async () => {
			seen.push(lane.pending);
			throw new Error("boom");
		});
		expect(lane.pending).toBe(3);
		await Promise.allSettled([first, second, failing]);
		await tick();
		expect(seen).toEqual([3, 2, 1]);
		expect(lane.pending).toBe(0);
	});
});
