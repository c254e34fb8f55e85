import { describe, expect, it } from "vitest";
import { runSoak } from "../soak/soak.ts";

describe("the soak harness", () => {
	it("runs at small scale: every accepted message arrives once, and it reports memory", async () => {
		const result = await runSoak({ devices: 10, seconds: 8, sendEveryMs: 500 });
		console.log(`soak smoke: ${JSON.stringify(result)}`);
		expect(result.sent).toBeGreaterThan(50);
		expect(result).toMatchObject({ devices: 10, lost: 0, duplicated: 0, refused: 0 });
		expect(result.rssMiB.end).toBeGreaterThan(0);
	}, 120_000);
});
