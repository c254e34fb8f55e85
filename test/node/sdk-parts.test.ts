import { randomFillSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../client/core/backoff.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { OTHER_DEVICE_GRACE_MS, Outbox } from "../../client/core/outbox.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { streamToBlob } from "../../client/core/stream-to-blob.ts";
import type { SendFrame } from "../../common/protocol/wire.ts";

const frame = (id: string): SendFrame => ({
	type: "send",
	id,
	to: "B".repeat(22),
	kind: "text",
	keyVersion: 1,
	nonce: "n".repeat(32),
	box: "b".repeat(24),
});

describe("MemoryKeyStore", () => {
	it("remembers the newest seen ids up to its bound and forgets the oldest first", async () => {
		const store = new MemoryKeyStore(3);
		for (const id of ["a", "b", "c", "d"]) await store.markSeen(id);
		expect(await store.hasSeen("a")).toBe(false);
		expect(await Promise.all(["b", "c", "d"].map((id) => store.hasSeen(id)))).toEqual([true, true, true]);
	});

	it("keeps its own copies of keys, and knows the latest version per peer", async () => {
		const store = new MemoryKeyStore();
		const key = new Uint8Array(32).fill(7);
		const lists = { me: 1, peer: 2 };
		await store.putContactKey("peer", 1, key, lists);
		await store.putContactKey("peer", 3, new Uint8Array(32).fill(9), { me: 4, peer: 2 });
		key.fill(0);
		lists.me = 99;
		expect(await store.getContactKey("peer", 1)).toEqual(new Uint8Array(32).fill(7));
		expect(await store.getKeyLists("peer", 1)).toEqual({ me: 1, peer: 2 });
		expect(await store.latestVersion("peer")).toBe(3);
		expect(await store.latestVersion("nobody")).toBeUndefined();
	});
});

describe("backoffDelay", () => {
	it("doubles from the minimum up to the maximum, drawn from the upper half of each step", () => {
		const opts = { minDelayMs: 250, maxDelayMs: 30_000 };
		expect([1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 1))).toEqual([250, 500, 1000, 2000]);
		expect([1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 0))).toEqual([250, 250, 500, 1000]);
		expect(backoffDelay(50, opts, () => 1)).toBe(30_000);
		expect(backoffDelay(50, opts, () => 0)).toBe(15_000);
	});
});

describe("Outbox", () => {
	const ids = (written: SendFrame[]) => written.map((f) => f.id[0]);
	const sent = (id: string, at: number, nextSendAt?: number) =>
		({ type: "sent", id, at, ...(nextSendAt !== undefined && { nextSendAt }) }) as const;

	it("writes each pending send once per connection, in order: one at a time until the relay says the window is open", () => {
		const outbox = new Outbox();
		void outbox.add(frame("1".repeat(22)), 1);
		void outbox.add(frame("2".repeat(22)), 2);
		const written: SendFrame[] = [];
		const write = (f: SendFrame) => written.push(f) > 0;
		// Nothing known yet about the window: the second waits for the answer to the first.
		outbox.flush(1, write, 0);
		outbox.flush(1, write, 0);
		expect(ids(written)).toEqual(["1"]);
		// A new connection writes again what is unanswered, still one counted send at a time.
		outbox.flush(2, write, 0);
		expect(ids(written)).toEqual(["1", "1"]);
		// Accepted, but written twice: the answer may be to a re-send, which says nothing of the window.
		outbox.settle(sent("1".repeat(22), 10), 10);
		void outbox.add(frame("3".repeat(22)), 3);
		outbox.flush(2, write, 10);
		expect(ids(written)).toEqual(["1", "1", "2"]);
		// A first answer that names no wait: the window is open, the rest may go at once.
		outbox.settle(sent("2".repeat(22), 11), 11);
		outbox.flush(2, write, 11);
		expect(ids(written)).toEqual(["1", "1", "2", "3"]);
	});

	it("holds counted sends until nextSendAt, telling each when it goes, and writes reactions and deletes at once", async () => {
		const outbox = new Outbox();
		const told: Record<string, (number | null)[]> = { 1: [], 2: [], 3: [] };
		const first = outbox.add(frame("1".repeat(22)), 1, { onWait: (t) => told[1]?.push(t) });
		const written: SendFrame[] = [];
		const write = (f: SendFrame) => written.push(f) > 0;
		expect(outbox.flush(1, write, 1000)).toBeNull();
		// The relay's clock is 50 s ahead of ours: only the wait it names counts.
		outbox.settle(sent("1".repeat(22), 51_000, 61_000), 1000);
		await expect(first).resolves.toMatchObject({ acceptedAt: 51_000, nextSendAt: 11_000 });
		void outbox.add(frame("2".repeat(22)), 2, { onWait: (t) => told[2]?.push(t) });
		void outbox.add(frame("3".repeat(22)), 3, { onWait: (t) => told[3]?.push(t) });
		void outbox.add({ ...frame("4".repeat(22)), kind: "reaction" }, 4);
		expect(outbox.flush(1, write, 2000)).toBe(9000);
		expect(ids(written)).toEqual(["1", "4"]);
		// One window after the other: 11 s, then 21 s (an estimate the next answer corrects).
		expect(told).toEqual({ 1: [], 2: [11_000], 3: [21_000] });
		// A flush a moment later says nothing new; the window opens and the next goes.
		outbox.flush(1, write, 2500);
		expect(outbox.flush(1, write, 11_000)).toBeNull();
		expect(ids(written)).toEqual(["1", "4", "2"]);
		expect(told[2]).toEqual([11_000, null]);
	});

	it("waits out a rate_limited or quota_exceeded refusal and writes the send again then; any other refusal fails it", async () => {
		const outbox = new Outbox();
		const limited = new SdkError("rate_limited", "slow down", { retryAfter: 1500 });
		const one = outbox.add(frame("1".repeat(22)), 1);
		const written: SendFrame[] = [];
		const write = (f: SendFrame) => written.push(f) > 0;
		outbox.flush(1, write, 0);
		expect(outbox.refuse("1".repeat(22), limited, 0)).toBe(true);
		expect(outbox.flush(1, write, 100)).toBe(1400);
		expect(outbox.flush(1, write, 1500)).toBeNull();
		expect(ids(written)).toEqual(["1", "1"]);
		const quota = new SdkError("quota_exceeded", "enough for today", { retryAfter: 3_600_000 });
		expect(outbox.refuse("1".repeat(22), quota, 2000)).toBe(true);
		expect(outbox.flush(1, write, 2000)).toBe(3_600_000);
		outbox.flush(1, write, 3_602_000);
		outbox.settle(sent("1".repeat(22), 5), 3_602_000);
		await expect(one).resolves.toMatchObject({ id: "1".repeat(22), sentAt: 1 });

		const broke = outbox.add(frame("2".repeat(22)), 2);
		outbox.flush(1, write, 3_602_000);
		const refused = new SdkError("insufficient_credits", "no credits");
		expect(outbox.refuse("2".repeat(22), refused, 3_602_000)).toBe(true);
		await expect(broke).rejects.toBe(refused);
		expect(outbox.size).toBe(0);
	});

	it("takes back a waiting send as cancelled, but not one on the wire", async () => {
		const outbox = new Outbox();
		const onWire = outbox.add(frame("1".repeat(22)), 1);
		const waiting = outbox.add(frame("2".repeat(22)), 2);
		outbox.flush(1, () => true, 0);
		expect(outbox.cancel("1".repeat(22), 1)).toBe(false);
		expect(outbox.cancel("2".repeat(22), 1)).toBe(true);
		await expect(waiting).rejects.toMatchObject({ code: "cancelled" });
		// Aborted before it was even added: never pending.
		const gone = new AbortController();
		gone.abort();
		await expect(outbox.add(frame("3".repeat(22)), 3, { signal: gone.signal })).rejects.toMatchObject({ code: "cancelled" });
		outbox.settle(sent("1".repeat(22), 5), 5);
		await expect(onWire).resolves.toMatchObject({ id: "1".repeat(22) });
		expect(outbox.size).toBe(0);
	});

	it("holds sends when another device of the account reached the limit, a little longer than that device", () => {
		const outbox = new Outbox();
		outbox.windowFrom({ type: "send_window", at: 100, nextSendAt: 10_100, quotaLeft: 3 }, 0);
		void outbox.add(frame("1".repeat(22)), 1);
		const written: SendFrame[] = [];
		expect(outbox.flush(1, (f) => written.push(f) > 0, 0)).toBe(10_000 + OTHER_DEVICE_GRACE_MS);
		expect(outbox.flush(1, (f) => written.push(f) > 0, 10_000)).toBe(OTHER_DEVICE_GRACE_MS);
		expect(outbox.flush(1, (f) => written.push(f) > 0, 10_000 + OTHER_DEVICE_GRACE_MS)).toBeNull();
		expect(ids(written)).toEqual(["1"]);
	});
});

describe("streamToBlob", () => {
	const chunked = (bytes: Uint8Array, size: number, failAt?: number) =>
		new ReadableStream<Uint8Array>({
			start(c) {
				for (let i = 0; i < bytes.length; i += size) {
					if (failAt !== undefined && i >= failAt) return c.error(new Error("the disk went away"));
					c.enqueue(bytes.slice(i, i + size));
				}
				c.close();
			},
		});

	it("keeps every byte in order across its 4 MB folds, with the type asked for, reporting the bytes read so far", async () => {
		const bytes = randomFillSync(new Uint8Array(9 * 1024 * 1024 + 7));
		const seen: number[] = [];
		const blob = await streamToBlob(chunked(bytes, 65_536), (n) => seen.push(n), "application/octet-stream");
		expect(blob.type).toBe("application/octet-stream");
		expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true);
		expect(seen).toHaveLength(Math.ceil(bytes.length / 65_536));
		expect(seen.at(-1)).toBe(bytes.length);
		expect(seen.every((n, i) => i === 0 || n > (seen[i - 1] as number))).toBe(true);
	});

	it("gives an empty Blob for an empty stream and rejects with the stream's own error", async () => {
		expect((await streamToBlob(chunked(new Uint8Array(0), 10))).size).toBe(0);
		await expect(streamToBlob(chunked(new Uint8Array(100_000), 10_000, 50_000))).rejects.toThrow("the disk went away");
	});
});
