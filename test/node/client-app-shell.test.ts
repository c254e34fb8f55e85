import { describe, expect, it } from "vitest";
import { updatedSince } from "../../client/app/app-version.ts";
import { memoryStorage } from "./client-fakes.ts";

describe("the 'updated' notice of the app shell", () => {
	it("says nothing on the first load or without a serving version, and once when the version changed", () => {
		const storage = memoryStorage();
		expect(updatedSince(storage, null)).toBe(false);
		expect(updatedSince(storage, "v1")).toBe(false);
		expect(updatedSince(storage, "v1")).toBe(false);
		expect(updatedSince(storage, "v2")).toBe(true);
		expect(updatedSince(storage, "v2")).toBe(false);
	});

	it("says nothing where storage is refused, rather than on every load", () => {
		const refusing = {
			getItem: () => {
				throw new Error("SecurityError");
			},
			setItem: () => {
				throw new Error("SecurityError");
			},
			removeItem: () => undefined,
		};
		expect(updatedSince(refusing, "v1")).toBe(false);
	});
});
