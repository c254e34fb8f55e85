import { describe, expect, it } from "vitest";
import { finite, ValidationError } from "../../common/protocol/schema.ts";

describe("finite", () => {
	const weight = finite({ min: 0, max: 3 });

	it("takes whole and fractional numbers within its bounds, the bounds included", () => {
		expect([0, 0.5, 2.25, 3].map((v) => weight.parse(v, "w"))).toEqual([0, 0.5, 2.25, 3]);
	});

	it("refuses what lies outside, what is not finite and what is not a number", () => {
		for (const value of [-0.5, 3.0001, Number.NaN, Number.POSITIVE_INFINITY, "1", null, undefined, [1]]) {
			expect(() => weight.parse(value, "w")).toThrow(ValidationError);
		}
	});
});
