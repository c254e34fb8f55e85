import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { collect, collectUntilSynced, contactPair, relayForFile, setTrustAsAdmin } from "../support/sdk-clients.ts";

const ADMIN_TOKEN = `admin-${toB64u(randomBytes(24))}`;
const relay = relayForFile({ vars: { ...RELAXED_LIMITS, ADMIN_TOKEN } });
const { factory } = relay;

const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> =>
	new ReadableStream({
		start(c) {
			for (let i = 0; i < bytes.length; i += 10_000) c.enqueue(bytes.subarray(i, i + 10_000));
			c.close();
		},
	});

/** A fetch whose attachment uploads the relay refuses as during an R2 outage while `refuse()` says so. */
function outageFetch(refuse: () => boolean, retryAfter: number): typeof fetch {
	return async (input, init) => {
		const url = input instanceof Request ? input.url : String(input);
		if (init?.method === "PUT" && url.includes("/api/attachments/") && refuse()) {
			await (init.body as ReadableStream<Uint8Array>).cancel();
			return Response.json(
				{ error: { code: "unavailable", message: "The file store did not take the upload.", retryAfter } },
				{ status: 503 },
			);
		}
		return fetch(input, init);
	};
}

/** A contact pair whose sender an admin verified, so every size tier is open to it. */
async function verifiedPair(): ReturnType<typeof contactPair> {
	const pair = await contactPair(factory);
	await setTrustAsAdmin(relay.server.baseUrl, ADMIN_TOKEN, pair.alice.account.accountId, "verified");
	return pair;
}

describe("files and changes to sent messages through the SDK", () => {
	it("sends a file sealed in chunks; the recipient downloads, opens and checks it", async () => {
		const { alice, bob } = await contactPair(factory);
		const plain = randomBytes(300_000);
		const progress: number[] = [];
		const arriving = collect(bob.client, 1);
		const sent = await alice.client.sendFile(
			bob.account.accountId,
			{ stream: streamOf(plain), size: plain.length, name: "report.pdf", type: "application/pdf" },
			{ caption: "the report", onProgress: (sentBytes) => progress.push(sentBytes) },
		);
		expect(progress.at(-1)).toBeGreaterThan(plain.length);
		const [message] = await arriving;
		expect(message).toMatchObject({
			kind: "attachment",
			text: "the report",
			attachment: { name: "report.pdf", type: "application/pdf", size: plain.length },
		});
		expect(message?.attachment?.sha256).toBe(toB64u(createHash("sha256").update(plain).digest()));
		const { stream, digest } = await bob.client.downloadFile(message?.attachment as NonNullable<typeof message>["attachment"] & object);
		const received = new Uint8Array(await new Response(stream).arrayBuffer());
		expect(received).toEqual(plain);
		expect((await digest).sha256).toBe(sent.attachment.sha256);
		// Fetched by every recipient device: the blob is gone.
		await vi.waitFor(() => expect(bob.client.downloadFile(sent.attachment)).rejects.toMatchObject({ code: "not_found" }), {
			timeout: 5000,
		});
	});

	it.each([
		0,
		1,
		65_535,
		65_536,
		65_537,
		1024 * 1024,
		10 * 1024 * 1024,
	])("carries a file of %i bytes through the relay and R2 whole, hash-checked", async (size) => {
		const { alice, bob } = await verifiedPair();
		const plain = new Uint8Array(size);
		for (let i = 0; i < size; i += 65_536) plain.set(randomBytes(Math.min(65_536, size - i)), i);
		const arriving = collect(bob.client, 1);
		const sent = await alice.client.sendFile(bob.account.accountId, {
			stream: streamOf(plain),
			size,
			name: "f.bin",
			type: "application/octet-stream",
		});
		const [message] = await arriving;
		expect(message?.attachment).toMatchObject({ size, sha256: toB64u(createHash("sha256").update(plain).digest()) });
		const { stream, digest } = await bob.client.downloadFile(sent.attachment);
		expect(Buffer.from(await new Response(stream).arrayBuffer()).equals(plain)).toBe(true);
		expect(await digest).toMatchObject({ size, sha256: sent.attachment.sha256 });
	}, 30_000);

	it("tries an upload again when the relay's file store was unavailable, under the same reservation, and the file arrives whole, paid once", async () => {
		// The relay's answer during an R2 outage (test/worker/attachments.test.ts makes the real
		// one), injected between Alice's client and the relay for her first upload.
		let uploads = 0;
		const flakyFetch = outageFetch(() => uploads++ === 0, 200);
		const { alice, bob } = await contactPair(factory, { aliceFetch: flakyFetch });
		const before = (await alice.client.accountStatus()).credits;
		const plain = randomBytes(150_000);
		let opened = 0;
		const arriving = collect(bob.client, 1);
		const sent = await alice.client.sendFile(bob.account.accountId, {
			stream: () => {
				opened++;
				return streamOf(plain);
			},
			size: plain.length,
			name: "photo.jpg",
			type: "image/jpeg",
		});
		expect([uploads, opened]).toEqual([2, 2]);
		const [message] = await arriving;
		expect(message?.attachment?.id).toBe(sent.attachment.id);
		const { stream } = await bob.client.downloadFile(sent.attachment);
		expect(new Uint8Array(await new Response(stream).arrayBuffer())).toEqual(plain);
		expect((await alice.client.accountStatus()).credits).toBe(before - 8);
		console.log(
			`upload retry: ${uploads} uploads (the first refused), ${opened} reads of the file, charged ${before - (await alice.client.accountStatus()).credits}`,
		);
	});

	it("gives up with 'unavailable' when it cannot read the file again, and cancels the reservation so its price comes back at once", async () => {
		const down = outageFetch(() => true, 10);
		const { alice, bob } = await contactPair(factory, { aliceFetch: down });
		const before = (await alice.client.accountStatus()).credits;
		const plain = randomBytes(1000);
		await expect(
			alice.client.sendFile(bob.account.accountId, { stream: streamOf(plain), size: plain.length, name: "a.txt", type: "text/plain" }),
		).rejects.toMatchObject({ code: "unavailable", retryAfter: 10 });
		expect((await alice.client.accountStatus()).credits).toBe(before);
	});

	it("carries a 50 MB file through the real relay and R2, streamed both ways, hash-checked", async () => {
		// Files over 1 MB need a trusted account; an admin verifies this one.
		const { alice, bob } = await verifiedPair();
		const size = 50 * 1024 * 1024;
		const hash = createHash("sha256");
		let made = 0;
		// Produced as it is read: the 50 MB plaintext is never held whole.
		const stream = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (made >= size) return controller.close();
				const piece = randomBytes(Math.min(256 * 1024, size - made));
				hash.update(piece);
				made += piece.length;
				controller.enqueue(piece);
			},
		});
		const arriving = collect(bob.client, 1, 60_000);
		const sent = await alice.client.sendFile(bob.account.accountId, { stream, size, name: "big.bin", type: "application/octet-stream" });
		const [message] = await arriving;
		expect(message?.attachment).toMatchObject({ size, sha256: toB64u(hash.digest()) });
		const download = await bob.client.downloadFile(sent.attachment);
		const received = createHash("sha256");
		let bytes = 0;
		for await (const chunk of download.stream as unknown as AsyncIterable<Uint8Array>) {
			received.update(chunk);
			bytes += chunk.length;
		}
		expect(bytes).toBe(size);
		expect(toB64u(received.digest())).toBe(sent.attachment.sha256);
	}, 120_000);

	it("edits and deletes a sent message on the other side", async () => {
		const { alice, bob } = await contactPair(factory);
		const events = collect(bob.client, 3);
		const original = await alice.client.sendText(bob.account.accountId, "teh plan");
		await alice.client.editMessage(bob.account.accountId, original.id, "the plan");
		await alice.client.deleteMessage(bob.account.accountId, original.id);
		const [first, edit, del] = await events;
		expect(first).toMatchObject({ kind: "text", text: "teh plan" });
		expect(edit).toMatchObject({ kind: "edit", text: "the plan", replaces: original.id });
		expect(del).toMatchObject({ kind: "delete", replaces: original.id });
		await expect(bob.client.editMessage(alice.account.accountId, original.id, "not yours")).rejects.toMatchObject({ code: "not_found" });
	});

	it("gives a recipient who was away only the edit of a message edited in the queue, naming the original, and nothing of a deleted one", async () => {
		const { alice, bob } = await contactPair(factory);
		bob.client.close();
		const original = await alice.client.sendText(bob.account.accountId, "teh plan");
		const edit = await alice.client.editMessage(bob.account.accountId, original.id, "the plan");
		const gone = await alice.client.sendText(bob.account.accountId, "never mind");
		await alice.client.deleteMessage(bob.account.accountId, gone.id);
		const bobAgain = factory.client(bob.store);
		const backlog = collectUntilSynced(bobAgain);
		await bobAgain.connect();
		const [only, del, ...rest] = await backlog;
		// The edit stands in for the original: the app keeps it as the original, edited.
		expect(only).toMatchObject({ id: edit.id, kind: "edit", text: "the plan", replaces: original.id, outgoing: false });
		// The delete of a message this device never had: nothing to remove.
		expect(del).toMatchObject({ kind: "delete", replaces: gone.id });
		expect(rest).toEqual([]);
	});
});
