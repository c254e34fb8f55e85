import { describe, expect, it } from "vitest";
import { devicePresence } from "../../client/app/device-presence.ts";
import { controlStep, listMove, movedIndex } from "../../client/app/list-keys.ts";

describe("the message list's keys", () => {
	it("moves between messages with the arrows, Home and End, stopping at the ends", () => {
		expect(["ArrowUp", "ArrowDown", "Home", "End", "Tab", "Enter", "a"].map(listMove)).toEqual([
			"previous",
			"next",
			"first",
			"last",
			null,
			null,
			null,
		]);
		expect(movedIndex("previous", 3, 5)).toBe(2);
		expect(movedIndex("next", 3, 5)).toBe(4);
		expect(movedIndex("next", 4, 5)).toBe(4);
		expect(movedIndex("previous", 0, 5)).toBe(0);
		expect(movedIndex("first", 3, 5)).toBe(0);
		expect(movedIndex("last", 0, 5)).toBe(4);
		// Nothing focused yet counts as past the newest: up reaches the newest, not the oldest.
		expect(movedIndex("previous", -1, 5)).toBe(4);
		expect(movedIndex("next", -1, 5)).toBe(4);
		expect(movedIndex("first", -1, 0)).toBe(-1);
	});

	it("steps through a message's controls with ArrowRight and ArrowLeft, back to the message from the first", () => {
		expect(controlStep("ArrowRight", -1, 3)).toBe(0);
		expect(controlStep("ArrowRight", 1, 3)).toBe(2);
		expect(controlStep("ArrowRight", 2, 3)).toBe(2);
		expect(controlStep("ArrowLeft", 2, 3)).toBe(1);
		expect(controlStep("ArrowLeft", 0, 3)).toBe(-1);
		expect(controlStep("ArrowRight", -1, 0)).toBeNull();
		expect(controlStep("Enter", 0, 3)).toBeNull();
	});
});

describe("a device's presence in the Devices panel", () => {
	const when = (at: number) => `at ${at}`;

	it("says Online for a connected device, never when it connected", () => {
		expect(devicePresence({ online: true, lastSeenAt: 5 }, false, "online", when)).toEqual({ term: "Status", text: "Online" });
	});

	it("says when the others were last seen, or that they have not been yet", () => {
		expect(devicePresence({ lastSeenAt: 5 }, false, "online", when)).toEqual({ term: "Last seen", text: "at 5" });
		expect(devicePresence({}, false, "online", when)).toEqual({ term: "Last seen", text: "not yet" });
	});

	it("shows this device's own connection, whatever the listing said", () => {
		expect(devicePresence({ lastSeenAt: 5 }, true, "online", when)).toEqual({ term: "Status", text: "Online" });
		expect(devicePresence({ online: true }, true, "offline", when)).toEqual({ term: "Status", text: "Offline" });
		expect(devicePresence({}, true, "connecting", when)).toEqual({ term: "Status", text: "Connecting…" });
	});
});
