import { describe, expect, it, vi } from "vitest";
import { type ChatMessage, receivedKey, sentKey } from "../../client/app/chat-message.ts";
import { DeviceLinks } from "../../client/app/features/device-links.ts";
import { type HistoryClient, HistoryMarks, HistoryTransfer, KEY_LOST } from "../../client/app/features/history-transfer.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { buildHistoryArchive, readHistoryArchive } from "../../client/app/history-archive.ts";
import { emptyChatText, HISTORY_COMING_TEXT, HISTORY_MISSING_TEXT, transferText } from "../../client/app/history-text.ts";
import type { HistoryPhase, HistoryTransferState } from "../../client/app/store.ts";
import type { AttachmentInfo } from "../../client/core/message-body.ts";
import type { HistoryTransferInfo } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import {
	ALICE,
	BOB,
	deferred,
	deviceOf,
	MemoryHistory,
	memoryStorage,
	received as receivedFrom,
	relayId,
	sent,
	settle,
	storeWith,
} from "./client-fakes.ts";

const LAPTOP = relayId("alice_laptop");
const TABLET = relayId("alice_tablet");
const T1 = relayId("transfer1");
const IMAGE: AttachmentInfo = {
	id: relayId("file1"),
	owner: BOB,
	key: "K".repeat(43),
	size: 4,
	type: "image/png",
	name: "cat.png",
	sha256: "H".repeat(43),
};

const fromBob = (key: string, at: number, extra: Partial<ChatMessage> = {}): ChatMessage => receivedFrom(key, BOB, at, extra);

const listed = (
	role: "sending" | "receiving",
	state: "offered" | "uploaded",
	extra: Partial<HistoryTransferInfo> = {},
): HistoryTransferInfo => ({
	transferId: T1,
	role,
	peerDevice: role === "sending" ? TABLET : LAPTOP,
	state,
	expiresAt: 9_999_999,
	...extra,
});

/** The feature over a fake SDK client and an in-memory history, on the device `deviceId`. */
function transferOf({
	deviceId = LAPTOP,
	messages = [] as ChatMessage[],
	storage = memoryStorage(),
	transfers = [] as HistoryTransferInfo[],
} = {}) {
	const store = storeWith({ phase: "ready", me: { accountId: ALICE, deviceId, handle: "alice" } });
	const history = new MemoryHistory(messages);
	const sentArchives: Blob[] = [];
	const client = {
		historyTransfers: vi.fn(async () => transfers),
		sendHistory: vi.fn(async (_id: string, archive: Blob, opts: { onProgress?: (sent: number, total: number) => void } = {}) => {
			sentArchives.push(archive);
			opts.onProgress?.(0, 100);
			opts.onProgress?.(40, 100);
			opts.onProgress?.(100, 100);
		}),
		receiveHistory: vi.fn(async (_id: string, _opts: { onProgress?: (received: number, total: number) => void } = {}) => new Blob()),
		endHistory: vi.fn(async (_id: string, _outcome: "imported" | "skipped") => {}),
	} satisfies HistoryClient;
	const contacts = { refresh: vi.fn(async () => {}) };
	const conversations = {
		load: vi.fn(async (peerId: string) => {
			store.update({ conversations: { ...store.state.conversations, [peerId]: await history.conversation(peerId) } });
		}),
		loadLast: vi.fn(async () => {
			store.update({ lastMessages: await history.lastMessages() });
		}),
	};
	const marks = new HistoryMarks("sm-test", () => storage);
	const feature = new HistoryTransfer(store, client, history, marks, new Notices(store), contacts, conversations);
	return { store, history, client, contacts, conversations, storage, marks, feature, sentArchives };
}

const phases = (store: ReturnType<typeof storeWith>): HistoryPhase[] => store.state.historyTransfers.map((t) => t.phase);

/** Every phase (and share) a transfer passes through, as the views would see them. */
function follow(store: ReturnType<typeof storeWith>): string[] {
	const seen: string[] = [];
	store.subscribe(({ historyTransfers }) => {
		const t = historyTransfers[0];
		const step = t ? (t.share === undefined ? t.phase : `${t.phase} ${t.share}`) : "none";
		if (seen.at(-1) !== step) seen.push(step);
	});
	return seen;
}

async function archiveOf(messages: ChatMessage[], files: Record<string, Blob> = {}): Promise<Blob> {
	const { archive } = await buildHistoryArchive({
		accountId: ALICE,
		fromDevice: LAPTOP,
		createdAt: 1,
		messages,
		file: async (id) => files[id],
		maxSealedBytes: 1e9,
	});
	return archive;
}

describe("sending the history to a newly approved device", () => {
	it("approving with the history offers it: the archive of this device's history goes, with progress, until the new device has it", async () => {
		const image = new Blob([new Uint8Array([1, 2, 3, 4])], { type: "image/png" });
		const app = transferOf({ messages: [fromBob(relayId("m1"), 10), sent(relayId("m2"), BOB, 20, { attachment: IMAGE })] });
		await app.history.putFile(IMAGE.id, image);
		const approveDevice = vi.fn(async (_id: string, opts: { history?: boolean } = {}) => ({
			...deviceOf("alice_tablet", "approved"),
			...(opts.history && { historyTransferId: T1 }),
		}));
		const linksClient = { createLinkCode: vi.fn(), cancelLinkCode: vi.fn(), approveDevice, rejectDevice: vi.fn() };
		const links = new DeviceLinks(app.store, linksClient, { refresh: async () => {} }, new Notices(app.store), app.feature);
		const seen = follow(app.store);

		await links.approve(TABLET, { history: true });
		await settle();
		expect(approveDevice).toHaveBeenCalledWith(TABLET, { history: true });
		expect(seen).toEqual(["preparing", "sending 0", "sending 0.4", "sending 1", "uploaded"]);
		expect(app.store.state.historyTransfers).toEqual([{ transferId: T1, role: "sending", peerDevice: TABLET, phase: "uploaded" }]);

		// What went is the history, read back: both messages, and the image's bytes.
		const read = await readHistoryArchive(app.sentArchives[0] as Blob, { accountId: ALICE });
		expect(read.messages.map((m) => m.key)).toEqual([receivedKey(BOB, relayId("m1")), sentKey(relayId("m2"))]);
		expect(read.files.map((f) => f.attachmentId)).toEqual([IMAGE.id]);

		app.feature.changed({ transferId: T1, state: "imported" });
		expect(phases(app.store)).toEqual(["imported"]);
		expect(transferText(app.store.state.historyTransfers[0] as HistoryTransferState, "“tablet”")).toBe("“tablet” has your history.");
		app.feature.dismiss(T1);
		expect(app.store.state.historyTransfers).toEqual([]);
	});

	it("approving without the history offers none", async () => {
		const app = transferOf();
		const approveDevice = vi.fn(async (_id: string, _opts: { history?: boolean } = {}) => deviceOf("alice_tablet", "approved"));
		const linksClient = { createLinkCode: vi.fn(), cancelLinkCode: vi.fn(), approveDevice, rejectDevice: vi.fn() };
		await new DeviceLinks(app.store, linksClient, { refresh: async () => {} }, new Notices(app.store), app.feature).approve(TABLET);
		expect(approveDevice).toHaveBeenCalledWith(TABLET, { history: false });
		expect(app.client.sendHistory).not.toHaveBeenCalled();
		expect(app.store.state.historyTransfers).toEqual([]);
	});

	it("shows a failed upload with the reason; Retry sends a fresh archive, Skip ends the transfer", async () => {
		const app = transferOf({ messages: [fromBob(relayId("m1"), 10)] });
		app.client.sendHistory.mockRejectedValueOnce(new SdkError("network", "offline"));
		app.feature.offered(T1, TABLET);
		await settle();
		expect(app.store.state.historyTransfers[0]).toMatchObject({
			phase: "failed",
			canRetry: true,
			error: expect.stringMatching(/cannot be reached/),
		});

		await app.history.put(fromBob(relayId("m2"), 20));
		await app.feature.retry(T1);
		expect(phases(app.store)).toEqual(["uploaded"]);
		expect(app.client.sendHistory).toHaveBeenCalledTimes(2);
		// The first attempt never took its archive; the second built a new one, with the message that came meanwhile.
		const second = await readHistoryArchive(app.sentArchives.at(-1) as Blob, { accountId: ALICE });
		expect(second.messages).toHaveLength(2);

		await app.feature.skip(T1);
		expect(app.client.endHistory).toHaveBeenCalledWith(T1, "skipped");
		expect(phases(app.store)).toEqual(["skipped"]);
		// The event that follows changes nothing more.
		app.feature.changed({ transferId: T1, state: "expired" });
		expect(phases(app.store)).toEqual(["skipped"]);
	});

	it("after a reload, a transfer still to send cannot be (its key was in memory): it says so and offers Skip only", async () => {
		const app = transferOf({ transfers: [listed("sending", "offered", { canSend: false })] });
		await app.feature.opened();
		expect(app.store.state.historyTransfers).toEqual([
			{ transferId: T1, role: "sending", peerDevice: TABLET, phase: "failed", error: KEY_LOST, canRetry: false },
		]);
		await app.feature.retry(T1);
		expect(app.client.sendHistory).not.toHaveBeenCalled();
		// Ended from the other side meanwhile: skipping it is no error.
		app.client.endHistory.mockRejectedValueOnce(new SdkError("not_found", "gone"));
		await app.feature.skip(T1);
		expect(phases(app.store)).toEqual(["skipped"]);
		expect(app.store.state.historyMissing).toBe(false);
	});

	it("hears when the new device skipped it, or when it expired", async () => {
		const app = transferOf({ transfers: [listed("sending", "uploaded")] });
		await app.feature.opened();
		expect(phases(app.store)).toEqual(["uploaded"]);
		app.feature.changed({ transferId: T1, state: "skipped" });
		expect(phases(app.store)).toEqual(["skipped"]);
		expect(app.marks.get(LAPTOP)).toBeNull();
	});
});

describe("receiving the history on a newly linked device", () => {
	it("waits for the upload, then fetches, imports (keeping what it holds already), ends the transfer and shows the earlier messages", async () => {
		const storage = memoryStorage();
		const own = fromBob(relayId("m2"), 20, { text: "as this device received it", unread: 1 });
		const app = transferOf({ deviceId: TABLET, messages: [own], storage, transfers: [listed("receiving", "offered")] });
		app.store.update({ activePeer: BOB, conversations: { [BOB]: [own] } });
		app.feature.linking();
		expect(app.marks.get(TABLET)).toBe("awaiting");
		await app.feature.opened();
		expect(phases(app.store)).toEqual(["waiting"]);
		expect(emptyChatText(app.store.state)).toBe(HISTORY_COMING_TEXT);

		const image = new Blob([new Uint8Array([1, 2, 3, 4])], { type: "image/png" });
		const archive = await archiveOf(
			[fromBob(relayId("m1"), 10, { attachment: IMAGE }), fromBob(relayId("m2"), 20, { text: "as the laptop had it" })],
			{ [IMAGE.id]: image },
		);
		const fetched = deferred<Blob>();
		app.client.receiveHistory.mockImplementationOnce(async (_id, opts = {}) => {
			opts.onProgress?.(40, 100);
			return fetched.promise;
		});
		const seen = follow(app.store);
		app.feature.changed({ transferId: T1, state: "uploaded", size: 100 });
		// An event and a listing at once fetch it once.
		await app.feature.load();
		expect(app.client.receiveHistory).toHaveBeenCalledTimes(1);
		fetched.resolve(archive);
		await vi.waitFor(() => expect(phases(app.store)).toEqual(["imported"]));

		expect(seen).toEqual(["receiving 0", "receiving 0.4", "importing", "imported"]);
		expect(app.client.endHistory).toHaveBeenCalledWith(T1, "imported");
		expect(app.store.state.historyTransfers[0]?.imported).toEqual({ messages: 1, files: 1 });
		// What this device received itself stays as it is; the rest is added, read, with its file.
		expect(app.history.messages.get(receivedKey(BOB, relayId("m2")))).toEqual(own);
		expect(app.history.messages.get(receivedKey(BOB, relayId("m1")))).toEqual(fromBob(relayId("m1"), 10, { attachment: IMAGE }));
		expect(app.history.files.get(IMAGE.id)?.size).toBe(4);
		expect(app.store.state.conversations[BOB]?.map((m) => m.key)).toEqual([relayId("m1"), relayId("m2")].map((id) => receivedKey(BOB, id)));
		expect(app.contacts.refresh).toHaveBeenCalled();
		expect(app.marks.get(TABLET)).toBe("complete");
		expect(app.store.state.historyMissing).toBe(false);
		expect(transferText(app.store.state.historyTransfers[0] as HistoryTransferState, "“laptop”")).toBe(
			"Earlier messages are here: 1 message and 1 file from “laptop”.",
		);
	});

	it("fetches at once an archive uploaded before this device looked", async () => {
		const app = transferOf({ deviceId: TABLET, transfers: [listed("receiving", "uploaded")] });
		app.client.receiveHistory.mockResolvedValueOnce(await archiveOf([fromBob(relayId("m1"), 10)]));
		app.feature.linking();
		await app.feature.opened();
		await vi.waitFor(() => expect(phases(app.store)).toEqual(["imported"]));
		expect(app.history.messages.has(receivedKey(BOB, relayId("m1")))).toBe(true);
	});

	it("imports nothing from a damaged archive, says so, and imports on Retry once a good one came", async () => {
		const app = transferOf({ deviceId: TABLET, transfers: [listed("receiving", "uploaded")] });
		const good = await archiveOf([fromBob(relayId("m1"), 10)]);
		const damaged = new Blob([(await good.arrayBuffer()).slice(0, good.size - 3)]);
		app.client.receiveHistory.mockResolvedValueOnce(damaged).mockResolvedValueOnce(good);
		app.feature.linking();
		await app.feature.opened();
		await vi.waitFor(() => expect(phases(app.store)).toEqual(["failed"]));
		expect(app.store.state.historyTransfers[0]).toMatchObject({
			canRetry: true,
			error: expect.stringMatching(/^The history arrived damaged/),
		});
		expect(app.history.messages.size).toBe(0);
		expect(app.client.endHistory).not.toHaveBeenCalled();
		expect(app.marks.get(TABLET)).toBe("awaiting");

		await app.feature.retry(T1);
		expect(phases(app.store)).toEqual(["imported"]);
		expect(app.history.messages.size).toBe(1);
	});

	it("skipped here while waiting: the relay is told, and the empty chats say where the earlier messages are, also after a reload", async () => {
		const storage = memoryStorage();
		const app = transferOf({ deviceId: TABLET, storage, transfers: [listed("receiving", "offered")] });
		app.feature.linking();
		await app.feature.opened();
		await app.feature.skip(T1);
		expect(app.client.endHistory).toHaveBeenCalledWith(T1, "skipped");
		expect(phases(app.store)).toEqual(["skipped"]);
		expect(app.store.state.historyMissing).toBe(true);
		expect(emptyChatText(app.store.state)).toBe(HISTORY_MISSING_TEXT);

		const again = transferOf({ deviceId: TABLET, storage });
		await again.feature.opened();
		expect(again.store.state.historyMissing).toBe(true);
	});

	it("skipped by the other device, or expired: the same", async () => {
		for (const state of ["skipped", "expired"] as const) {
			const app = transferOf({ deviceId: TABLET, transfers: [listed("receiving", "offered")] });
			app.feature.linking();
			await app.feature.opened();
			app.feature.changed({ transferId: T1, state });
			expect(phases(app.store)).toEqual([state]);
			expect(app.store.state.historyMissing).toBe(true);
		}
	});

	it("approved without a transfer: the empty chats say so; a device made with an account or a recovery key keeps the usual text", async () => {
		const linked = transferOf({ deviceId: TABLET });
		linked.feature.linking();
		await linked.feature.opened();
		expect(linked.store.state.historyMissing).toBe(true);
		expect(linked.marks.get(TABLET)).toBe("missing");
		expect(emptyChatText(linked.store.state)).toBe(HISTORY_MISSING_TEXT);

		const registered = transferOf({ deviceId: LAPTOP });
		await registered.feature.opened();
		expect(registered.store.state.historyMissing).toBe(false);
		expect(emptyChatText(registered.store.state)).toBe("No messages yet. Say hello!");
	});

	it("a transfer that ended while this device was away ends here too when it looks again", async () => {
		const app = transferOf({ deviceId: TABLET, transfers: [listed("receiving", "offered")] });
		app.feature.linking();
		await app.feature.opened();
		app.client.historyTransfers.mockResolvedValueOnce([]);
		await app.feature.load();
		expect(phases(app.store)).toEqual(["ended"]);
		expect(app.store.state.historyMissing).toBe(true);
	});

	it("keeps waiting when the relay cannot be asked, and asks again later", async () => {
		const app = transferOf({ deviceId: TABLET });
		app.client.historyTransfers.mockRejectedValueOnce(new SdkError("network", "offline"));
		app.feature.linking();
		await app.feature.opened();
		expect(app.store.state.historyMissing).toBe(false);
		expect(app.marks.get(TABLET)).toBe("awaiting");
		await app.feature.load();
		expect(app.store.state.historyMissing).toBe(true);
	});
});
