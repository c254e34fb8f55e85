import { describe, expect, it } from "vitest";
import { runSoak } from "./soak.ts";

const devices = Number(process.env.SOAK_DEVICES ?? 1000);
const seconds = Number(process.env.SOAK_SECONDS ?? 180);

describe("soak", () => {
	it(
		`keeps ${devices} devices chatting for ${seconds} s with no message lost and bounded memory`,
		async () => {
			const result = await runSoak({ devices, seconds, sendEveryMs: Number(process.env.SOAK_SEND_EVERY_MS ?? 5000), log: console.log });
			console.log(`soak: ${JSON.stringify(result)}`);
			expect(result.lost).toBe(0);
			expect(result.duplicated).toBe(0);
			expect(result.refused).toBe(0);
			// Bounded: the relay does not grow without limit while the load is steady.
			expect(result.rssMiB.end).toBeLessThan(result.rssMiB.afterSetup * 2 + 200);
		},
		(seconds + 600) * 1000,
	);
});
