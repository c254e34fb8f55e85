import { describe, expect, it } from "vitest";
import { ledgerRuns } from "../../worker/db/credits.ts";

const charge = (reason: string, amount: number, ref: string, at: number) => ({ reason, amount, ref, at });

describe("the ledger's runs", () => {
	it("sums charges of one reason made one after another into a row, keeps the order, and gives each attachment its own row", () => {
		const runs = ledgerRuns([
			charge("text", 4, "m1", 1),
			charge("text", 4, "m2", 2),
			charge("text", 4, "m3", 3),
			charge("attachment", 8, "a1", 4),
			charge("attachment", 16, "a2", 5),
			charge("edit", 2, "m4", 6),
			charge("text", 4, "m5", 7),
		]);
		expect(runs).toEqual([
			{ reason: "text", amount: 12, count: 3, ref: null, at: 3 },
			{ reason: "attachment", amount: 8, count: 1, ref: "a1", at: 4 },
			{ reason: "attachment", amount: 16, count: 1, ref: "a2", at: 5 },
			{ reason: "edit", amount: 2, count: 1, ref: "m4", at: 6 },
			{ reason: "text", amount: 4, count: 1, ref: "m5", at: 7 },
		]);
		expect(ledgerRuns([])).toEqual([]);
	});
});
