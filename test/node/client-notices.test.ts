import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Notices, withNotice } from "../../client/app/features/notices.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { storeWith } from "./client-fakes.ts";

describe("notices", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("shows a text that is already shown only once", () => {
		const store = storeWith();
		const notices = new Notices(store);
		notices.notify("The server cannot be reached.");
		notices.notify("The server cannot be reached.");
		expect(store.state.notices.map((n) => n.text)).toEqual(["The server cannot be reached."]);
	});

	it("keeps only the four newest, each with its own id", () => {
		const store = storeWith();
		const notices = new Notices(store);
		for (const n of [1, 2, 3, 4, 5]) notices.notify(`error ${n}`);
		expect(store.state.notices.map((n) => n.text)).toEqual(["error 2", "error 3", "error 4", "error 5"]);
		expect(new Set(store.state.notices.map((n) => n.id)).size).toBe(4);
	});

	it("lets news fade after eight seconds while an error stays until it is dismissed", () => {
		const store = storeWith();
		const notices = new Notices(store);
		notices.notify("You and @bob are now contacts.", "info");
		notices.notify("Something went wrong.");
		vi.advanceTimersByTime(7_999);
		expect(store.state.notices).toHaveLength(2);
		vi.advanceTimersByTime(1);
		expect(store.state.notices.map((n) => n.text)).toEqual(["Something went wrong."]);
		vi.advanceTimersByTime(60_000);
		expect(store.state.notices).toHaveLength(1);
		notices.dismiss(store.state.notices[0]!.id);
		expect(store.state.notices).toEqual([]);
	});

	it("reports a refusal as a sentence, but not a network failure (the connection state shows it) nor a pending device's wait", () => {
		const store = storeWith({ phase: "ready" });
		const notices = new Notices(store);
		notices.report(new SdkError("network", "fetch failed"));
		notices.report(new SdkError("internal", "500"));
		expect(store.state.notices).toEqual([]);
		notices.report(new SdkError("forbidden", "no"));
		expect(store.state.notices.map((n) => n.text)).toEqual(["That is not allowed for this account."]);
		const pending = storeWith({ phase: "pending" });
		new Notices(pending).report(new SdkError("device_pending", "wait"));
		expect(pending.state.notices).toEqual([]);
	});

	it("adds nothing when the text is shown already", () => {
		const shown = [{ id: 1, tone: "error" as const, text: "a" }];
		expect(withNotice(shown, { id: 2, tone: "info", text: "a" })).toBeNull();
		expect(withNotice(shown, { id: 2, tone: "info", text: "b" })).toEqual([...shown, { id: 2, tone: "info", text: "b" }]);
	});
});
