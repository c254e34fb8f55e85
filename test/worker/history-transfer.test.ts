import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openFromDevice, sealForDevice } from "../../client/core/device-box.ts";
import { openFileStream, sealFileStream } from "../../client/core/file-seal.ts";
import { concatBytes, fromB64u, toB64u, utf8Encode } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { HISTORY_OFFER_BOX_BYTES, type HistoryTransfer, type ServerFrame } from "../../common/protocol/wire.ts";
import worker from "../../worker/index.ts";
import { NO_SUCH_TRANSFER } from "../../worker/relay/history/history-rules.ts";
import { historyBlobKey } from "../../worker/relay/history/history-store.ts";
import { useFakeClock } from "./fake-clock.ts";
import { addApprovedDevice, addPendingDevice, newMessageId } from "./fixtures.ts";
import { api, BASE, connect, registerUser, type TestSocket, type TestUser } from "./helpers.ts";
import { approvalBody, askToJoin, type ClaimingDevice, currentList, removeDevice, signedInAs } from "./linking.ts";
import { brokenR2 } from "./outages.ts";

const advance = useFakeClock();
const TTL = Number(env.HISTORY_TRANSFER_TTL_MS);
const MAX_BYTES = Number(env.HISTORY_ARCHIVE_MAX_MB) * 1024 * 1024;
const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const missing = { error: { code: "not_found", message: NO_SUCH_TRANSFER } };

/**
 * The offer an approving client makes: the archive's one-time key after
 * "sm-history/1\n" + account + "\n" + new device + "\n" + transfer + "\n", sealed from the
 * approver's key to the new device's (PROTOCOL.md, History for a linked device).
 */
function makeOffer(approver: TestUser, device: Pick<ClaimingDevice, "deviceId" | "keys">) {
	const transferId = newMessageId();
	const key = randomBytes(32);
	const prefix = utf8Encode(`sm-history/1\n${approver.accountId}\n${device.deviceId}\n${transferId}\n`);
	return { key, offer: { transferId, ...sealForDevice(concatBytes(prefix, key), approver.keys.seed, device.keys.publicKey) } };
}

/** `approver` links a new device and offers it its history in the approval. */
async function linkWithHistory(approver: TestUser) {
	const claim = await askToJoin(approver);
	const { key, offer } = makeOffer(approver, claim);
	const approved = await api(`/api/devices/${claim.deviceId}/approve`, {
		token: approver.token,
		body: { ...(await approvalBody(approver, claim)), history: offer },
	});
	expect(approved.status).toBe(200);
	const fresh = await signedInAs(approver, claim);
	return { fresh, key, offer, transferId: offer.transferId, path: `/api/devices/history/${offer.transferId}` };
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A history archive of `size` random bytes, sealed under the transfer's key as the SDK does. */
async function sealedArchive(key: Uint8Array, size = 150_000) {
	const plain = randomBytes(size);
	const sealed = sealFileStream(key, new Response(plain).body as ReadableStream<Uint8Array>);
	return { plain, blob: await bytesOf(sealed.stream), digest: await sealed.digest };
}

function request(path: string, init: { method?: string; token?: string; body?: BodyInit; length?: number } = {}): Request {
	const headers: Record<string, string> = {};
	if (init.token) headers.authorization = `Bearer ${init.token}`;
	if (init.length !== undefined) headers["content-length"] = String(init.length);
	return new Request(`${BASE}${path}`, { method: init.method ?? "GET", headers, ...(init.body !== undefined && { body: init.body }) });
}

const upload = (path: string, token: string, blob: Uint8Array) =>
	exports.default.fetch(request(path, { method: "PUT", token, body: blob, length: blob.length }));
const download = (path: string, token?: string) => exports.default.fetch(request(`${path}/archive`, { token }));
const end = (path: string, token: string | undefined, outcome: string) =>
	api(`${path}/end`, { ...(token && { token }), body: { outcome } });
const listed = async (user: TestUser): Promise<HistoryTransfer[]> => {
	const res = await api("/api/devices/history", { token: user.token });
	expect(res.status).toBe(200);
	return res.json.transfers;
};

/** What R2 holds for the transfer: its exact bytes, or null. */
async function stored(accountId: string, transferId: string): Promise<Uint8Array | null> {
	const object = await env.ATTACHMENTS.get(historyBlobKey(accountId, transferId));
	return object ? new Uint8Array(await object.arrayBuffer()) : null;
}

const rows = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec("SELECT * FROM history_transfers").toArray());

const historyFrames = (socket: TestSocket) =>
	socket.frames.filter((f): f is Extract<ServerFrame, { type: "history" }> => f.type === "history");

/** A socket that has heard its greeting, so frames after it are the ones a test caused. */
async function listening(user: TestUser): Promise<TestSocket> {
	const socket = await connect(user.token);
	await socket.next("synced");
	return socket;
}

describe("history for a newly linked device", () => {
	it("is offered in the approval: both devices list the transfer, the offer box as sealed, for an hour; no other device does", async () => {
		const alice = await registerUser("alice");
		const other = await addApprovedDevice(alice, "tablet");
		const { fresh, key, offer, transferId } = await linkWithHistory(alice);
		const expected: HistoryTransfer = {
			transferId,
			fromDevice: alice.deviceId,
			fromPublicKey: toB64u(alice.keys.publicKey),
			toDevice: fresh.deviceId,
			nonce: offer.nonce,
			box: offer.box,
			state: "offered",
			createdAt: Date.now(),
			expiresAt: Date.now() + 3_600_000,
		};
		expect(TTL).toBe(3_600_000);
		expect(fromB64u(offer.box).length).toBe(HISTORY_OFFER_BOX_BYTES);
		expect(await listed(alice)).toEqual([expected]);
		expect(await listed(fresh)).toEqual([expected]);
		expect(await listed(other)).toEqual([]);
		// The new device opens the box as it was sealed: its prefix and the key.
		const [t] = await listed(fresh);
		const opened = openFromDevice(t as HistoryTransfer, fromB64u((t as HistoryTransfer).fromPublicKey), fresh.keys.seed);
		const prefix = utf8Encode(`sm-history/1\n${alice.accountId}\n${fresh.deviceId}\n${transferId}\n`);
		expect(opened).toEqual(concatBytes(prefix, key));
	});

	it("refuses an offer whose transfer id is in use with 409 and a malformed one with 400, approving nothing", async () => {
		const alice = await registerUser("alice");
		const { offer } = await linkWithHistory(alice);
		const claim = await askToJoin(alice, "second phone");
		const listBefore = await currentList(alice);
		const reused = { ...makeOffer(alice, claim).offer, transferId: offer.transferId };
		const short = { ...makeOffer(alice, claim).offer, box: toB64u(randomBytes(HISTORY_OFFER_BOX_BYTES - 1)) };
		for (const [history, status, code] of [
			[reused, 409, "conflict"],
			[short, 400, "bad_request"],
			[{ transferId: "x" }, 400, "bad_request"],
		] as const) {
			const res = await api(`/api/devices/${claim.deviceId}/approve`, {
				token: alice.token,
				body: { ...(await approvalBody(alice, claim)), history },
			});
			expect([res.status, res.json.error.code]).toEqual([status, code]);
		}
		const devices = (await api("/api/devices", { token: alice.token })).json.devices;
		expect(devices.find((d: any) => d.deviceId === claim.deviceId).status).toBe("pending");
		expect(await currentList(alice)).toEqual(listBefore);
		expect((await listed(alice)).map((t) => t.transferId)).toEqual([offer.transferId]);
		// The same approval with a fresh id goes through, and makes one transfer more.
		const res = await api(`/api/devices/${claim.deviceId}/approve`, {
			token: alice.token,
			body: { ...(await approvalBody(alice, claim)), history: makeOffer(alice, claim).offer },
		});
		expect(res.status).toBe(200);
		expect(await listed(alice)).toHaveLength(2);
	});

	it("takes the archive from the approving device only, stores exactly its bytes, restarts the hour and tells both devices", async () => {
		const alice = await registerUser("alice");
		const other = await addApprovedDevice(alice, "tablet");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		const [a, f, o] = [await listening(alice), await listening(fresh), await listening(other)];
		const archive = await sealedArchive(key);
		for (const who of [fresh, other]) {
			const refused = await upload(path, who.token, archive.blob);
			expect([refused.status, await refused.json()]).toEqual([404, missing]);
		}
		expect(await stored(alice.accountId, transferId)).toBeNull();

		advance(10 * 60_000);
		expect((await upload(path, alice.token, archive.blob)).status).toBe(204);
		// Ciphertext only, byte for byte what was sent; nothing the relay keeps holds the key.
		expect(await stored(alice.accountId, transferId)).toEqual(archive.blob);
		expect(JSON.stringify(await rows(alice.accountId))).not.toContain(toB64u(key));
		const size = archive.blob.length;
		const [t] = await listed(fresh);
		expect(t).toMatchObject({ state: "uploaded", size, expiresAt: Date.now() + TTL });
		expect(await listed(alice)).toEqual([t]);
		const frame = { type: "history", transferId, state: "uploaded", size };
		expect(await a.next("history")).toEqual(frame);
		expect(await f.next("history")).toEqual(frame);
		// A retry replaces the archive (an earlier try may have been cut off).
		const second = await sealedArchive(key, 70_000);
		expect((await upload(path, alice.token, second.blob)).status).toBe(204);
		expect(await stored(alice.accountId, transferId)).toEqual(second.blob);
		expect((await listed(fresh))[0]?.size).toBe(second.blob.length);
		await f.next("history", (h) => h.size === second.blob.length);
		expect(historyFrames(o)).toEqual([]);
	});

	it("hands the archive to the new device only, as often as it asks, and deletes it once imported", async () => {
		const alice = await registerUser("alice");
		const other = await addApprovedDevice(alice, "tablet");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		// Nothing to fetch or import before the upload.
		const early = await download(path, fresh.token);
		expect([early.status, ((await early.json()) as any).error.code]).toEqual([409, "conflict"]);
		expect((await end(path, fresh.token, "imported")).status).toBe(409);
		const archive = await sealedArchive(key);
		expect((await upload(path, alice.token, archive.blob)).status).toBe(204);
		const [a, f] = [await listening(alice), await listening(fresh)];

		for (const who of [alice, other]) {
			const refused = await download(path, who.token);
			expect([refused.status, await refused.json()]).toEqual([404, missing]);
			expect((await end(path, who.token, "imported")).json).toEqual(missing);
		}
		for (let i = 0; i < 2; i++) {
			const res = await download(path, fresh.token);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-length")).toBe(String(archive.blob.length));
			expect(res.headers.get("cache-control")).toBe("private, no-store");
			const opened = openFileStream(key, res.body as ReadableStream<Uint8Array>, archive.digest);
			expect(await bytesOf(opened.stream)).toEqual(archive.plain);
		}
		expect(await stored(alice.accountId, transferId)).not.toBeNull();

		expect((await end(path, fresh.token, "imported")).status).toBe(204);
		expect(await stored(alice.accountId, transferId)).toBeNull();
		expect(await rows(alice.accountId)).toEqual([]);
		expect([await listed(alice), await listed(fresh)]).toEqual([[], []]);
		const frame = { type: "history", transferId, state: "imported" };
		expect([await a.next("history"), await f.next("history")]).toEqual([frame, frame]);
		// Ended is gone.
		expect((await download(path, fresh.token)).status).toBe(404);
		expect((await end(path, fresh.token, "skipped")).json).toEqual(missing);
		expect((await upload(path, alice.token, archive.blob)).status).toBe(404);
		expect(await stored(alice.accountId, transferId)).toBeNull();
	});

	it("may be skipped by either device, before or after the upload, which deletes the archive and tells both", async () => {
		const alice = await registerUser("alice");
		const before = await linkWithHistory(alice);
		const after = await linkWithHistory(alice);
		const archive = await sealedArchive(after.key);
		expect((await upload(after.path, alice.token, archive.blob)).status).toBe(204);
		const [a, f] = [await listening(alice), await listening(after.fresh)];

		expect((await end(before.path, alice.token, "skipped")).status).toBe(204);
		expect((await end(after.path, after.fresh.token, "skipped")).status).toBe(204);
		expect(await stored(alice.accountId, after.transferId)).toBeNull();
		expect(await rows(alice.accountId)).toEqual([]);
		expect(await a.next("history", (h) => h.transferId === before.transferId)).toEqual({
			type: "history",
			transferId: before.transferId,
			state: "skipped",
		});
		expect(await a.next("history", (h) => h.transferId === after.transferId)).toMatchObject({ state: "skipped" });
		expect(await f.next("history")).toEqual({ type: "history", transferId: after.transferId, state: "skipped" });
		// A device that is not part of the other transfer never heard of it.
		expect(historyFrames(f).map((h) => h.transferId)).toEqual([after.transferId]);
	});

	it("refuses nobody (401), a pending device (403), a revoked device (401) and another account (404) on every route, changing nothing", async () => {
		const alice = await registerUser("alice");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		const archive = await sealedArchive(key);
		expect((await upload(path, alice.token, archive.blob)).status).toBe(204);
		const pending = await addPendingDevice(alice, "pending phone");
		const revoked = await addApprovedDevice(alice, "lost phone");
		expect((await removeDevice(alice, revoked.deviceId)).status).toBe(200);
		const stranger = await registerUser("mallory");

		const calls = (token?: string) => [
			() => exports.default.fetch(request("/api/devices/history", { token })),
			() => exports.default.fetch(request(path, { method: "PUT", token, body: archive.blob, length: archive.blob.length })),
			() => download(path, token),
			() => exports.default.fetch(request(`${path}/end`, { method: "POST", token, body: '{"outcome":"skipped"}' })),
		];
		const answers = async (token?: string) => {
			const out = [];
			for (const call of calls(token)) {
				const res = await call();
				out.push([res.status, ((await res.json()) as any).error?.code ?? null]);
			}
			return out;
		};
		expect(await answers()).toEqual(Array(4).fill([401, "unauthorized"]));
		expect(await answers(pending.token)).toEqual(Array(4).fill([403, "device_pending"]));
		expect(await answers(revoked.token)).toEqual(Array(4).fill([401, "device_revoked"]));
		// Another account's object has no such transfer; its own list is empty.
		expect(await answers(stranger.token)).toEqual([[200, null], ...Array(3).fill([404, "not_found"])]);
		// An id that names nothing, or is no id at all, reads the same.
		for (const p of [`/api/devices/history/${newMessageId()}`, "/api/devices/history/not-an-id"]) {
			expect([(await download(p, fresh.token)).status, (await end(p, fresh.token, "skipped")).json]).toEqual([404, missing]);
		}
		// A bad body is a bad request.
		expect((await end(path, fresh.token, "deleted")).json.error.code).toBe("bad_request");
		expect((await api(`${path}/end`, { token: fresh.token, raw: "{" })).json.error.code).toBe("bad_request");

		expect(await stored(alice.accountId, transferId)).toEqual(archive.blob);
		expect(await listed(fresh)).toMatchObject([{ transferId, state: "uploaded", size: archive.blob.length }]);
	});

	it("refuses an archive over HISTORY_ARCHIVE_MAX_MB, without or with a wrong Content-Length, storing nothing", async () => {
		const alice = await registerUser("alice");
		const { transferId, path } = await linkWithHistory(alice);
		expect(MAX_BYTES).toBe(90 * 1024 * 1024);
		const put = (body: BodyInit, length?: number) =>
			exports.default.fetch(request(path, { method: "PUT", token: alice.token, body, ...(length !== undefined && { length }) }));
		const answer = async (res: Response) => [res.status, ((await res.json()) as any).error.code];

		// Refused on its Content-Length, before a byte is read.
		const huge = new FixedLengthStream(MAX_BYTES + 1);
		expect(await answer(await put(huge.readable, MAX_BYTES + 1))).toEqual([413, "too_large"]);
		// The refusal came before a byte was read: the rest is never sent.
		await huge.writable.abort(new Error("not sent"));
		// No length at all: a stream of unknown length.
		const unsized = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(new Uint8Array(1000));
				controller.close();
			},
		});
		const unsizedAnswer = await put(unsized);
		expect([unsizedAnswer.status, ((await unsizedAnswer.json()) as any).error.message]).toEqual([
			400,
			"Send the sealed archive with its exact Content-Length.",
		]);
		// Shorter than an empty sealed archive.
		expect(await answer(await put(new Uint8Array(10), 10))).toEqual([400, "bad_request"]);
		// Fewer bytes than the Content-Length said: the stream breaks off.
		const short = new FixedLengthStream(2000);
		const writer = short.writable.getWriter();
		const putting = put(short.readable, 2000);
		await writer.write(new Uint8Array(1000));
		await writer.close().catch(() => undefined);
		expect(await answer(await putting)).toEqual([400, "bad_request"]);

		expect(await stored(alice.accountId, transferId)).toBeNull();
		expect(await listed(alice)).toMatchObject([{ transferId, state: "offered" }]);
		expect((await listed(alice))[0]?.size).toBeUndefined();
	});

	it("keeps the transfer as it was when R2 fails an upload or a retry breaks off, and takes the retry", async () => {
		const alice = await registerUser("alice");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		const archive = await sealedArchive(key);
		const put = () => request(path, { method: "PUT", token: alice.token, body: archive.blob, length: archive.blob.length });
		const outage = await worker.fetch(
			put() as Request<unknown, IncomingRequestCfProperties>,
			{ ...env, ATTACHMENTS: brokenR2 },
			createExecutionContext(),
		);
		expect(outage.status).toBe(503);
		expect(((await outage.json()) as any).error).toMatchObject({ code: "unavailable", retryAfter: expect.any(Number) });
		expect(await stored(alice.accountId, transferId)).toBeNull();
		expect(await listed(fresh)).toMatchObject([{ state: "offered" }]);

		expect((await exports.default.fetch(put())).status).toBe(204);
		const [t] = await listed(fresh);
		// A second upload that breaks off halfway leaves the first archive, and the transfer, as they were.
		let sent = 0;
		const breaking = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (sent >= 50_000) return controller.error(new Error("connection reset"));
				sent += 10_000;
				controller.enqueue(new Uint8Array(10_000));
			},
		});
		const broken = await exports.default.fetch(
			request(path, { method: "PUT", token: alice.token, body: breaking, length: archive.blob.length }),
		);
		expect([broken.status, ((await broken.json()) as any).error.code]).toEqual([400, "bad_request"]);
		expect(await stored(alice.accountId, transferId)).toEqual(archive.blob);
		expect(await listed(fresh)).toEqual([t]);
		const res = await download(path, fresh.token);
		expect(await bytesOf(openFileStream(key, res.body as ReadableStream<Uint8Array>, archive.digest).stream)).toEqual(archive.plain);
	});

	it("is gone an hour after the upload, archive and row, by the alarm, and both devices hear `expired`", async () => {
		const alice = await registerUser("alice");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		const unsent = await linkWithHistory(alice);
		const offeredAt = Date.now();
		// Within the session's quarter of an hour, so the token still signs the upload.
		advance(10 * 60_000);
		const archive = await sealedArchive(key);
		expect((await upload(path, alice.token, archive.blob)).status).toBe(204);
		const uploadedAt = Date.now();
		const [a, f] = [await listening(alice), await listening(fresh)];
		// The object's one alarm is armed, no later than the first transfer's end.
		const alarmAt = await runInDurableObject(relay(alice.accountId), (_, state) => state.storage.getAlarm());
		expect(alarmAt).not.toBeNull();
		expect(alarmAt).toBeLessThanOrEqual(offeredAt + TTL);

		// The one never uploaded goes an hour after its offer; the uploaded one is still there.
		advance(offeredAt + TTL - Date.now());
		await runDurableObjectAlarm(relay(alice.accountId));
		expect((await rows(alice.accountId)).map((r) => r.transfer_id)).toEqual([transferId]);
		expect(await a.next("history", (h) => h.transferId === unsent.transferId)).toEqual({
			type: "history",
			transferId: unsent.transferId,
			state: "expired",
		});

		advance(uploadedAt + TTL - 1 - Date.now());
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await stored(alice.accountId, transferId)).toEqual(archive.blob);
		advance(1);
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await stored(alice.accountId, transferId)).toBeNull();
		expect(await rows(alice.accountId)).toEqual([]);
		const frame = { type: "history", transferId, state: "expired" };
		expect(await a.next("history", (h) => h.transferId === transferId)).toEqual(frame);
		expect(await f.next("history", (h) => h.transferId === transferId)).toEqual(frame);
		// Each device hears of its own transfers only.
		expect(historyFrames(f)).toEqual([frame]);
	});

	it("goes with the new device when it is revoked, archive and all, and the approving device hears `skipped`", async () => {
		const alice = await registerUser("alice");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		const archive = await sealedArchive(key);
		expect((await upload(path, alice.token, archive.blob)).status).toBe(204);
		const a = await listening(alice);
		expect((await removeDevice(alice, fresh.deviceId)).status).toBe(200);
		expect(await stored(alice.accountId, transferId)).toBeNull();
		expect(await rows(alice.accountId)).toEqual([]);
		expect(await a.next("history")).toEqual({ type: "history", transferId, state: "skipped" });
		expect(await listed(alice)).toEqual([]);
	});

	it("goes with the approving device when it is revoked, and the new device hears `skipped`", async () => {
		const alice = await registerUser("alice");
		const { fresh, key, transferId, path } = await linkWithHistory(alice);
		expect((await upload(path, alice.token, (await sealedArchive(key)).blob)).status).toBe(204);
		const f = await listening(fresh);
		expect((await removeDevice(fresh, alice.deviceId)).status).toBe(200);
		expect(await stored(alice.accountId, transferId)).toBeNull();
		expect(await f.next("history")).toEqual({ type: "history", transferId, state: "skipped" });
		expect(await listed(fresh)).toEqual([]);
	});
});
