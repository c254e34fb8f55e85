import { randomFillSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../client/core/backoff.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { Outbox } from "../../client/core/outbox.ts";
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
	it("writes each pending send once per connection, in the order they were made", () => {
		const outbox = new Outbox();
		void outbox.add(frame("1".repeat(22)), 1);
		void outbox.add(frame("2".repeat(22)), 2);
		const written: string[] = [];
		outbox.flush(1, (f) => written.push(f.id) > 0);
		outbox.flush(1, (f) => written.push(f.id) > 0);
		outbox.flush(2, (f) => written.push(f.id) > 0);
		expect(written.map((id) => id[0])).toEqual(["1", "2", "1", "2"]);
	});

	it("fails a first send that the rate limit refuses, but waits it out for a re-sent one", async () => {
		const outbox = new Outbox();
		const limited = new SdkError("rate_limited", "slow down", { retryAfter: 1500 });
		const first = outbox.add(frame("1".repeat(22)), 1);
		const resent = outbox.add(frame("2".repeat(22)), 2);
		outbox.flush(1, () => true);
		expect(outbox.refuse("1".repeat(22), limited)).toEqual({ pending: true });
		await expect(first).rejects.toBe(limited);

		outbox.flush(2, () => true);
		expect(outbox.refuse("2".repeat(22), limited)).toEqual({ pending: true, retryInMs: 1500 });
		const again: string[] = [];
		outbox.flush(2, (f) => again.push(f.id) > 0);
		expect(again).toEqual(["2".repeat(22)]);
		outbox.settle({ type: "sent", id: "2".repeat(22), at: 5 });
		await expect(resent).resolves.toEqual({ id: "2".repeat(22), sentAt: 2, acceptedAt: 5 });
		expect(outbox.size).toBe(0);
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
