import { describe, expect, it } from "vitest";
import { sealedFileSize } from "../../common/file-layout.ts";
import type { HistoryTransfer } from "../../common/protocol/wire.ts";
import {
	archiveLength,
	expiresFrom,
	type HistoryAction,
	historyRefusal,
	NO_SUCH_TRANSFER,
} from "../../worker/relay/history/history-rules.ts";

const NOW = 1_700_000_000_000;
// wrangler.toml's defaults: HISTORY_TRANSFER_TTL_MS and HISTORY_ARCHIVE_MAX_MB.
const TTL = 3_600_000;
const MAX = 90 * 1024 * 1024;
const FROM = "A".repeat(22);
const TO = "B".repeat(22);
const OTHER = "C".repeat(22);

const transfer = (over: Partial<HistoryTransfer> = {}): HistoryTransfer => ({
	transferId: "T".repeat(22),
	fromDevice: FROM,
	fromPublicKey: "k".repeat(43),
	toDevice: TO,
	nonce: "n".repeat(32),
	box: "b".repeat(174),
	state: "offered",
	createdAt: NOW,
	expiresAt: expiresFrom(NOW, TTL),
	...over,
});

/** A refusal's code and message, or "ok" for none. */
const verdict = (r: ReturnType<typeof historyRefusal>) => (r === null || r.ok ? { code: "ok", message: "" } : r);

/** Which of the four actions `device` may take, with the answer to the rest. */
const answers = (t: HistoryTransfer | undefined, device: string, now = NOW) =>
	Object.fromEntries(
		(["upload", "download", "import", "skip"] as HistoryAction[]).map((a) => [a, verdict(historyRefusal(t, device, a, now)).code]),
	);

describe("historyRefusal", () => {
	it("lets the approving device upload and skip, the new device skip but not yet fetch or import, while offered", () => {
		const t = transfer();
		expect(answers(t, FROM)).toEqual({ upload: "ok", download: "not_found", import: "not_found", skip: "ok" });
		expect(answers(t, TO)).toEqual({ upload: "not_found", download: "conflict", import: "conflict", skip: "ok" });
	});

	it("lets the approving device upload again and the new device fetch, import or skip, once uploaded", () => {
		const t = transfer({ state: "uploaded", size: 1000 });
		expect(answers(t, FROM)).toEqual({ upload: "ok", download: "not_found", import: "not_found", skip: "ok" });
		expect(answers(t, TO)).toEqual({ upload: "not_found", download: "ok", import: "ok", skip: "ok" });
	});

	it("answers another device, a missing transfer and one past its hour alike, with the one not_found", () => {
		const none = { upload: "not_found", download: "not_found", import: "not_found", skip: "not_found" };
		const t = transfer({ state: "uploaded", size: 1000 });
		expect(answers(t, OTHER)).toEqual(none);
		expect(answers(undefined, FROM)).toEqual(none);
		expect(answers(t, TO, NOW + TTL)).toEqual(none);
		expect(answers(t, TO, NOW + TTL - 1).import).toBe("ok");
		expect(verdict(historyRefusal(undefined, TO, "skip", NOW)).message).toBe(NO_SUCH_TRANSFER);
	});
});

describe("archiveLength", () => {
	it("takes a Content-Length from an empty sealed archive's size up to the cap", () => {
		expect(archiveLength(String(sealedFileSize(0)), MAX)).toEqual({ ok: true, value: 36 });
		expect(archiveLength(String(MAX), MAX)).toEqual({ ok: true, value: MAX });
	});

	it("refuses one past the cap as too_large, naming it, and a missing, malformed or too short one as bad_request", () => {
		expect(archiveLength(String(MAX + 1), MAX)).toMatchObject({ ok: false, code: "too_large", message: expect.stringContaining("90 MiB") });
		for (const header of [null, "", "-1", "1e6", "12 ", "0x100", "35", "9".repeat(17)]) {
			expect([header, archiveLength(header, MAX)]).toMatchObject([header, { ok: false, code: "bad_request" }]);
		}
	});
});
