import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openFileStream, sealFileStream } from "../../client/core/file-seal.ts";
import { randomBytes } from "../../common/nacl.ts";
import worker from "../../worker/index.ts";
import { UserRelay } from "../../worker/user-relay.ts";
import { admin } from "./admin-client.ts";
import { addApprovedDevice, addPendingDevice, contactPair, newMessageId, sealedSend } from "./fixtures.ts";
import { api, BASE, connect, registerUser, type TestUser } from "./helpers.ts";
import { removeDevice } from "./linking.ts";
import { brokenR2 } from "./outages.ts";

const MB = 1024 * 1024;
const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const blobs = async () => (await env.ATTACHMENTS.list()).objects.map((o) => o.key);

afterEach(() => {
	vi.useRealTimers();
});

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sealed(size: number) {
	const key = randomBytes(32);
	const plain = randomBytes(size);
	const s = sealFileStream(key, new Response(plain).body as ReadableStream<Uint8Array>);
	return { key, plain, blob: await bytesOf(s.stream), digest: await s.digest };
}

function put(path: string, token: string, body: Uint8Array, length = body.length) {
	return exports.default.fetch(
		new Request(`${BASE}${path}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-length": String(length) }, body }),
	);
}

function get(path: string, token?: string) {
	return exports.default.fetch(new Request(`${BASE}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }));
}

/** The balance D1 and the object agree on, holds included. */
const creditsOf = async (user: TestUser): Promise<number> => (await api("/api/account", { token: user.token })).json.credits;

/** Past every open reservation's lapse (60 min), swept by the owner's alarm; real time again after. */
async function lapseReservations(accountId: string): Promise<void> {
	vi.useFakeTimers({ toFake: ["Date"] });
	vi.setSystemTime(Date.now() + 61 * 60_000);
	await runDurableObjectAlarm(relay(accountId));
	vi.useRealTimers();
}

/** Reserve an upload; the blob's path beside the reservation. */
async function reserve(from: TestUser, to: TestUser, size: number) {
	const reserved = (await api("/api/attachments", { token: from.token, body: { to: to.accountId, size } })).json;
	return { ...reserved, path: `/api/attachments/${reserved.owner}/${reserved.attachmentId}` };
}

/** Two contacts, Alice's balance before, a sealed file of `size` bytes and her reservation for it. */
async function reservedFile(size: number) {
	const pair = await contactPair();
	const start = await creditsOf(pair.alice);
	const file = await sealed(size);
	return { ...pair, start, file, reserved: await reserve(pair.alice, pair.bob, size) };
}

/** Reserve, upload and send an attachment message; returns what the recipient needs. */
async function sendAttachment(from: TestUser, to: TestUser, key: Uint8Array, size = 1000) {
	const file = await sealed(size);
	const reserved = await api("/api/attachments", { token: from.token, body: { to: to.accountId, size } });
	expect(reserved.status).toBe(201);
	const path = `/api/attachments/${reserved.json.owner}/${reserved.json.attachmentId}`;
	expect((await put(path, from.token, file.blob)).status).toBe(204);
	const socket = await connect(from.token);
	const frame = { ...sealedSend(from, to, key, "a file", newMessageId()), kind: "attachment", attachmentId: reserved.json.attachmentId };
	socket.send(frame);
	const reply = await Promise.race([socket.next("sent", (s) => s.id === frame.id), socket.next("error", (e) => e.ref === frame.id)]);
	return { file, reserved: reserved.json, path, frame, reply, socket };
}

describe("attachment size tiers and prices", () => {
	it.each([
		["untrusted", 0, 201, 8],
		["untrusted", MB - 1, 201, 8],
		["untrusted", MB, 403, undefined],
		["trusted", MB, 201, 20],
		["trusted", 10 * MB, 201, 20],
		["trusted", 10 * MB + 1, 201, 40],
		["verified", 50 * MB, 201, 40],
		["verified", 50 * MB + 1, 413, undefined],
	] as const)("a %s account reserving %i bytes gets %i", async (trust, size, status, price) => {
		const { alice, bob } = await contactPair();
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust } });
		const res = await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size } });
		expect(res.status).toBe(status);
		if (price !== undefined) expect(res.json.price).toBe(price);
	});

	it("refuses a reservation to a non-contact and without credits", async () => {
		const { alice, bob } = await contactPair();
		const stranger = await registerUser("stranger");
		expect((await api("/api/attachments", { token: alice.token, body: { to: stranger.accountId, size: 10 } })).json.error.code).toBe(
			"not_a_contact",
		);
		await env.DB.prepare("UPDATE accounts SET credits = 7 WHERE id = ?").bind(alice.accountId).run();
		await runInDurableObject(relay(alice.accountId), (r) => r.reloadAccount());
		const poor = await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size: 10 } });
		expect(poor.json.error.code).toBe("insufficient_credits");
		// Nothing held, nothing reserved, nothing stored.
		expect(await creditsOf(alice)).toBe(7);
		const reservations = await runInDurableObject(relay(alice.accountId), (_, state) =>
			state.storage.sql.exec("SELECT id FROM uploads").toArray(),
		);
		expect(reservations).toEqual([]);
		expect(await blobs()).toEqual([]);
	});

	it.each([
		[MB, 20],
		[10 * MB + 1, 40],
	])("charges a trusted account's %i-byte attachment %i credits, once, in the ledger", async (size, price) => {
		const { alice, bob, key } = await contactPair();
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust: "trusted" } });
		const sent = await sendAttachment(alice, bob, key, size);
		expect(sent.reply.type).toBe("sent");
		await runDurableObjectAlarm(relay(alice.accountId));
		const charged = await env.DB.prepare("SELECT delta, ref FROM credit_ledger WHERE account_id = ? AND reason = 'attachment'")
			.bind(alice.accountId)
			.all();
		expect(charged.results).toEqual([{ delta: -price, ref: sent.reserved.attachmentId }]);
		// Bob's only device fetches it whole, so the blob goes (R2 is shared by the tests of this file).
		expect((await (await get(sent.path, bob.token)).arrayBuffer()).byteLength).toBe(sent.reserved.sealedSize);
		await vi.waitFor(async () => expect(await blobs()).toEqual([]));
	});
});

describe("attachments end to end", () => {
	it("are uploaded sealed, fetched by every recipient device, then deleted from R2; charged once", async () => {
		const { alice, bob, key, bobDevices } = await contactPair({ extraDevices: 1 });
		const start = await creditsOf(alice);
		const { file, path, reply, frame } = await sendAttachment(alice, bob, key, 70_000);
		expect(reply).toMatchObject({ type: "sent", credits: start - 8 });
		expect(await blobs()).toEqual([path.slice("/api/attachments/".length)]);

		const b = await connect(bob.token);
		const m = await b.next("message");
		expect(m).toMatchObject({ id: frame.id, kind: "attachment", attachmentId: frame.attachmentId });
		for (const device of bobDevices) {
			const res = await get(path, device.token);
			expect(res.status).toBe(200);
			const opened = openFileStream(file.key, res.body as ReadableStream<Uint8Array>, file.digest);
			expect(await bytesOf(opened.stream)).toEqual(file.plain);
		}
		await vi.waitFor(async () => expect(await blobs()).toEqual([]));
		await runDurableObjectAlarm(relay(alice.accountId));
		const ledger = await env.DB.prepare("SELECT delta, reason FROM credit_ledger WHERE account_id = ? AND reason = 'attachment'")
			.bind(alice.accountId)
			.all();
		expect(ledger.results).toEqual([{ delta: -8, reason: "attachment" }]);
	});

	it("a download refused to another account, a pending or revoked device and no token reveals nothing", async () => {
		const { alice, bob, key } = await contactPair();
		const { path } = await sendAttachment(alice, bob, key);
		const other = await registerUser("eve");
		const revoked = await addApprovedDevice(bob);
		expect((await removeDevice(bob, revoked.deviceId)).status).toBe(200);
		const nonexistent = `/api/attachments/${alice.accountId}/${newMessageId()}`;
		const refusedOther = await get(path, other.token);
		const missing = await get(nonexistent, other.token);
		expect([refusedOther.status, missing.status]).toEqual([404, 404]);
		expect(await refusedOther.json()).toEqual(await missing.json());
		const pending = await addPendingDevice(bob, "pending tablet");
		// Refused before the lookup: the same answer for the real id as for one that does not exist.
		for (const [token, status] of [
			[revoked.token, 401],
			[undefined, 401],
			[pending.token, 403],
		] as const) {
			const [real, none] = [await get(path, token), await get(nonexistent, token)];
			expect([real.status, none.status]).toEqual([status, status]);
			expect(await real.json()).toEqual(await none.json());
		}
		// The sender's devices may fetch it too, as long as it exists.
		expect((await get(path, alice.token)).status).toBe(200);
		expect((await get(path, bob.token)).status).toBe(200);
	});

	it("refuses a short or long upload and an attachment message before its upload, charging nothing", async () => {
		const { alice, bob, key, start, file, reserved } = await reservedFile(500);
		const { path } = reserved;
		expect((await put(path, alice.token, file.blob.slice(0, 100))).status).toBe(400);
		expect((await put(path, bob.token, file.blob)).status).toBe(404);
		const a = await connect(alice.token);
		const early = { ...sealedSend(alice, bob, key, "x"), kind: "attachment", attachmentId: reserved.attachmentId };
		a.send(early);
		expect(await a.next("error")).toMatchObject({ code: "bad_request", ref: early.id });
		expect(await blobs()).toEqual([]);
		// The reservation lapses unused: its hold is released.
		expect(await creditsOf(alice)).toBe(start - 8);
		await lapseReservations(alice.accountId);
		expect(await creditsOf(alice)).toBe(start);
	});

	it("deletes an upload that outlasts its reservation and answers 404, releasing the price; a message for a lapsed reservation is refused", async () => {
		const { alice, bob, key, start, file, reserved } = await reservedFile(200_000);
		const { path } = reserved;
		// A slow upload: the first half arrives, the reservation lapses and is swept, then the rest.
		const { readable, writable } = new FixedLengthStream(file.blob.length);
		const writer = writable.getWriter();
		const putting = exports.default.fetch(
			new Request(`${BASE}${path}`, {
				method: "PUT",
				headers: { authorization: `Bearer ${alice.token}`, "content-length": String(file.blob.length) },
				body: readable,
			}),
		);
		const half = file.blob.length >> 1;
		await writer.write(file.blob.slice(0, half));
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(Date.now() + 61 * 60_000);
		await runDurableObjectAlarm(relay(alice.accountId));
		await writer.write(file.blob.slice(half));
		await writer.close();
		const late = await putting;
		expect(late.status).toBe(404);
		expect(((await late.json()) as { error: { code: string } }).error.code).toBe("not_found");
		expect(await blobs()).toEqual([]);
		vi.useRealTimers();
		expect(await creditsOf(alice)).toBe(start);

		// Lapsed but not yet swept: the message is refused, and the sweep still releases the price.
		const second = await sealed(1000);
		const again = await reserve(alice, bob, 1000);
		expect((await put(again.path, alice.token, second.blob)).status).toBe(204);
		const socket = await connect(alice.token);
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(Date.now() + 61 * 60_000);
		const frame = { ...sealedSend(alice, bob, key, "a file", newMessageId()), kind: "attachment", attachmentId: again.attachmentId };
		socket.send(frame);
		expect(await socket.next("error", (e) => e.ref === frame.id)).toMatchObject({ code: "not_found" });
		await runDurableObjectAlarm(relay(alice.accountId));
		vi.useRealTimers();
		expect(await blobs()).toEqual([]);
		expect(await creditsOf(alice)).toBe(start);
	});

	it("releases the price of an upload never announced, and deletes its blob, when the reservation lapses", async () => {
		const { alice, start, file, reserved } = await reservedFile(1000);
		expect((await put(reserved.path, alice.token, file.blob)).status).toBe(204);
		expect(await blobs()).toHaveLength(1);
		expect(await creditsOf(alice)).toBe(start - 8);
		await lapseReservations(alice.accountId);
		expect(await blobs()).toEqual([]);
		expect(await creditsOf(alice)).toBe(start);
	});

	it("cancels a reservation not yet sent at once, releasing its price and deleting its blob; only for its own account, never once sent", async () => {
		const { alice, bob, key, start, file, reserved } = await reservedFile(1000);
		const { path } = reserved;
		expect((await put(path, alice.token, file.blob)).status).toBe(204);
		const cancel = (token?: string, at = path) => api(at, { method: "DELETE", ...(token !== undefined && { token }) });
		const eve = await registerUser("eve");
		const pending = await addPendingDevice(alice, "pending tablet");
		const nothing = `/api/attachments/${alice.accountId}/${newMessageId()}`;
		expect((await cancel()).status).toBe(401);
		expect((await cancel(eve.token)).json).toEqual((await cancel(eve.token, nothing)).json);
		expect((await cancel(eve.token)).status).toBe(404);
		expect((await cancel(bob.token)).status).toBe(404);
		expect((await cancel(pending.token)).status).toBe(403);
		expect(await blobs()).toHaveLength(1);
		expect(await creditsOf(alice)).toBe(start - 8);

		expect((await cancel(alice.token)).status).toBe(204);
		expect(await blobs()).toEqual([]);
		expect(await creditsOf(alice)).toBe(start);
		expect((await cancel(alice.token)).json.error.code).toBe("not_found");
		const a = await connect(alice.token);
		const frame = { ...sealedSend(alice, bob, key, "a file", newMessageId()), kind: "attachment", attachmentId: reserved.attachmentId };
		a.send(frame);
		expect(await a.next("error", (e) => e.ref === frame.id)).toMatchObject({ code: "not_found" });

		const sent = await sendAttachment(alice, bob, key);
		expect(sent.reply.type).toBe("sent");
		expect((await cancel(alice.token, sent.path)).json.error.code).toBe("conflict");
		expect(await blobs()).toHaveLength(1);
		await runDurableObjectAlarm(relay(alice.accountId));
		const charged = await env.DB.prepare("SELECT delta FROM credit_ledger WHERE account_id = ? AND reason = 'attachment'")
			.bind(alice.accountId)
			.all();
		expect(charged.results).toEqual([{ delta: -8 }]);
		// Bob's only device fetches it whole, so the blob goes (R2 is shared by the tests of this file).
		expect((await (await get(sent.path, bob.token)).arrayBuffer()).byteLength).toBe(sent.reserved.sealedSize);
		await vi.waitFor(async () => expect(await blobs()).toEqual([]));
	});

	it("keeps a reservation whose message is on its way: neither a cancel nor the lapse releases it, and the send is charged once", async () => {
		const { alice, bob, key, start, file, reserved } = await reservedFile(1000);
		expect((await put(reserved.path, alice.token, file.blob)).status).toBe(204);
		// Bob's object takes no event until `open()`, so Alice's send waits inside its delivery.
		let open!: () => void;
		const gate = new Promise<void>((resolve) => {
			open = resolve;
		});
		let blocking!: () => void;
		const blocked = new Promise<void>((resolve) => {
			blocking = resolve;
		});
		const held = runInDurableObject(relay(bob.accountId), (_, state) =>
			state.blockConcurrencyWhile(async () => {
				blocking();
				await gate;
			}),
		);
		await blocked;
		const a = await connect(alice.token);
		const frame = { ...sealedSend(alice, bob, key, "a file", newMessageId()), kind: "attachment", attachmentId: reserved.attachmentId };
		a.send(frame);
		const inFlight = (r: UserRelay) => UserRelay.servicesOf(r).attachments.isInFlight(reserved.attachmentId);
		await vi.waitFor(async () => expect(await runInDurableObject(relay(alice.accountId), inFlight)).toBe(true));

		expect((await api(reserved.path, { method: "DELETE", token: alice.token })).json.error.code).toBe("conflict");
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(Date.now() + 61 * 60_000);
		await runDurableObjectAlarm(relay(alice.accountId));
		vi.useRealTimers();
		expect(await blobs()).toHaveLength(1);

		open();
		await held;
		expect(await a.next("sent", (f) => f.id === frame.id)).toMatchObject({ id: frame.id });
		expect(await runInDurableObject(relay(alice.accountId), inFlight)).toBe(false);
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await creditsOf(alice)).toBe(start - 8);
		const charged = await env.DB.prepare("SELECT delta FROM credit_ledger WHERE account_id = ? AND reason = 'attachment'")
			.bind(alice.accountId)
			.all();
		expect(charged.results).toEqual([{ delta: -8 }]);
		expect((await (await get(reserved.path, bob.token)).arrayBuffer()).byteLength).toBe(reserved.sealedSize);
		await vi.waitFor(async () => expect(await blobs()).toEqual([]));
	});

	it("deleting the message deletes its blob, and an unfetched blob expires after 30 days", async () => {
		const { alice, bob, key } = await contactPair();
		const first = await sendAttachment(alice, bob, key);
		const del = { ...sealedSend(alice, bob, key, "", newMessageId()), kind: "delete", replaces: first.frame.id };
		first.socket.send(del);
		expect(await first.socket.next("sent", (s) => s.id === del.id)).toBeTruthy();
		expect(await blobs()).toEqual([]);

		const second = await sendAttachment(alice, bob, key);
		expect(await blobs()).toHaveLength(1);
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(Date.now() + 31 * 86_400_000);
		await runDurableObjectAlarm(relay(bob.accountId));
		expect(await blobs()).toEqual([]);
		expect(second.reply.type).toBe("sent");
		// The sender's object forgets the sent attachment with its message.
		const kept = () =>
			runInDurableObject(relay(alice.accountId), (_, state) => [
				state.storage.sql.exec("SELECT id FROM uploads").toArray().length,
				state.storage.sql.exec("SELECT id FROM sent_messages").toArray().length,
			]);
		expect(await kept()).toEqual([1, 3]);
		await runDurableObjectAlarm(relay(alice.accountId));
		expect(await kept()).toEqual([0, 0]);
	});
});

describe("editing and deleting sent messages", () => {
	const queued = (accountId: string) =>
		runInDurableObject(relay(accountId), (_, state) =>
			state.storage.sql.exec<{ msg_id: string; replaces: string | null }>("SELECT msg_id, replaces FROM queue ORDER BY seq").toArray(),
		);

	it("an edit of a still-queued message leaves only the latest version queued; a delete removes it before delivery", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const original = sealedSend(alice, bob, key, "teh typo");
		a.send(original);
		await a.next("sent");
		const edit = { ...sealedSend(alice, bob, key, "the typo"), kind: "edit", replaces: original.id };
		a.send(edit);
		await a.next("sent", (s) => s.id === edit.id);
		expect(await queued(bob.accountId)).toEqual([{ msg_id: edit.id, replaces: original.id }]);
		const del = { ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: original.id };
		a.send(del);
		await a.next("sent", (s) => s.id === del.id);
		expect(await queued(bob.accountId)).toEqual([{ msg_id: del.id, replaces: original.id }]);
		const b = await connect(bob.token);
		const got = await b.next("message");
		expect(got).toMatchObject({ id: del.id, kind: "delete", replaces: original.id });
		await b.next("synced");
		expect(b.frames.filter((f) => f.type === "message")).toHaveLength(1);
	});

	it("an edit or delete of a delivered message reaches the devices that have it", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		await b.next("synced");
		const original = sealedSend(alice, bob, key, "hello");
		a.send(original);
		b.send({ type: "ack", ids: [(await b.next("message")).id] });
		const edit = { ...sealedSend(alice, bob, key, "hello!"), kind: "edit", replaces: original.id };
		a.send(edit);
		expect(await b.next("message")).toMatchObject({ id: edit.id, kind: "edit", replaces: original.id });
		b.send({ type: "ack", ids: [edit.id] });
		const del = { ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: original.id };
		a.send(del);
		expect(await b.next("message")).toMatchObject({ id: del.id, kind: "delete", replaces: original.id });
		b.send({ type: "ack", ids: [del.id] });
		await vi.waitFor(async () => expect(await queued(bob.accountId)).toEqual([]));
	});

	it("charges 2 for an edit and 1 for a delete, exactly once each", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const original = sealedSend(alice, bob, key, "x");
		a.send(original);
		const sent = await a.next("sent");
		a.send({ ...sealedSend(alice, bob, key, "y"), kind: "edit", replaces: original.id });
		expect(await a.next("sent")).toMatchObject({ credits: (sent.credits as number) - 2 });
		a.send({ ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: original.id });
		expect(await a.next("sent")).toMatchObject({ credits: (sent.credits as number) - 3 });
		await runDurableObjectAlarm(relay(alice.accountId));
		const rows = await env.DB.prepare(
			"SELECT delta, reason FROM credit_ledger WHERE account_id = ? AND reason IN ('edit', 'delete') ORDER BY id",
		)
			.bind(alice.accountId)
			.all();
		expect(rows.results).toEqual([
			{ delta: -2, reason: "edit" },
			{ delta: -1, reason: "delete" },
		]);
	});

	it("refuses editing someone else's message, a deleted one, or one sent to another contact", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		const bobs = sealedSend(bob, alice, key, "mine");
		b.send(bobs);
		await b.next("sent");
		a.send({ ...sealedSend(alice, bob, key, "hijack"), kind: "edit", replaces: bobs.id });
		expect(await a.next("error")).toMatchObject({ code: "not_found" });
		a.send({ ...sealedSend(alice, bob, key, "no target"), kind: "edit" });
		expect(await a.next("error")).toMatchObject({ code: "bad_request" });
		const own = sealedSend(alice, bob, key, "soon gone");
		a.send(own);
		await a.next("sent");
		a.send({ ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: own.id });
		await a.next("sent");
		a.send({ ...sealedSend(alice, bob, key, "too late"), kind: "edit", replaces: own.id });
		expect(await a.next("error")).toMatchObject({ code: "not_found" });
	});
});

describe("an R2 outage", () => {
	/** A request to the worker while R2 is down. */
	const duringOutage = (request: Request) =>
		worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ATTACHMENTS: brokenR2 }, createExecutionContext());
	const deferred = (accountId: string) =>
		runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec("SELECT key FROM blob_deletions").toArray());

	it("refuses an upload and a download with a typed 503, stores and charges nothing more, and both work once R2 is back", async () => {
		const { alice, bob, key } = await contactPair();
		const start = await creditsOf(alice);
		const file = await sealed(5000);
		const reserved = (await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size: 5000 } })).json;
		const path = `/api/attachments/${reserved.owner}/${reserved.attachmentId}`;
		const upload = () =>
			new Request(`${BASE}${path}`, {
				method: "PUT",
				headers: { authorization: `Bearer ${alice.token}`, "content-length": String(file.blob.length) },
				body: file.blob,
			});

		const refused = await duringOutage(upload());
		expect(refused.status).toBe(503);
		expect(await refused.json()).toEqual({ error: { code: "unavailable", message: expect.any(String), retryAfter: expect.any(Number) } });
		expect(await blobs()).toEqual([]);
		// The reservation is intact (paid once, at reservation): the retry goes through.
		expect(await creditsOf(alice)).toBe(start - 8);
		expect((await exports.default.fetch(upload())).status).toBe(204);
		const socket = await connect(alice.token);
		const frame = { ...sealedSend(alice, bob, key, "a file", newMessageId()), kind: "attachment", attachmentId: reserved.attachmentId };
		socket.send(frame);
		expect(await socket.next("sent", (s) => s.id === frame.id)).toMatchObject({ credits: start - 8 });

		const download = () => new Request(`${BASE}${path}`, { headers: { authorization: `Bearer ${bob.token}` } });
		const notNow = await duringOutage(download());
		expect(notNow.status).toBe(503);
		expect(((await notNow.json()) as { error: { code: string } }).error.code).toBe("unavailable");
		// A failed download counts for nothing: Bob's device still gets the whole file afterwards.
		const fetched = await exports.default.fetch(download());
		expect(fetched.status).toBe(200);
		expect(await bytesOf(openFileStream(file.key, fetched.body as ReadableStream<Uint8Array>, file.digest).stream)).toEqual(file.plain);
		await vi.waitFor(async () => expect(await blobs()).toEqual([]));
	});

	it("a blob whose delete fails is kept in the object and deleted by the alarm once R2 answers again", async () => {
		const { alice, bob, key } = await contactPair();
		const { path, reply } = await sendAttachment(alice, bob, key);
		expect(reply.type).toBe("sent");
		await runInDurableObject(relay(bob.accountId), (instance) => {
			UserRelay.hostOf(instance).blobs = brokenR2;
		});
		// Bob's only device has it all, so his object deletes it, and R2 fails.
		const res = (await get(path, bob.token)) as Response;
		expect(res.status).toBe(200);
		await bytesOf(res.body as ReadableStream<Uint8Array>);
		await vi.waitFor(async () => expect(await deferred(bob.accountId)).toEqual([{ key: path.slice("/api/attachments/".length) }]));
		expect(await blobs()).toHaveLength(1);
		const retryAt = (await runInDurableObject(relay(bob.accountId), (_, state) => state.storage.getAlarm())) as number;
		expect(retryAt).toBeLessThanOrEqual(Date.now() + 60_000);

		await runInDurableObject(relay(bob.accountId), (instance) => {
			UserRelay.hostOf(instance).blobs = env.ATTACHMENTS;
		});
		expect(await runDurableObjectAlarm(relay(bob.accountId))).toBe(true);
		expect(await blobs()).toEqual([]);
		expect(await deferred(bob.accountId)).toEqual([]);
	});

	it("a delete that fails while the alarm's sweep waits on R2 is retried by the next alarm, which sweeps", async () => {
		const { alice, bob, key } = await contactPair();
		const first = await sendAttachment(alice, bob, key);
		const second = await sendAttachment(alice, bob, key);
		expect([first.reply.type, second.reply.type]).toEqual(["sent", "sent"]);
		const keyOf = (path: string) => path.slice("/api/attachments/".length);
		const setR2 = (bucket: R2Bucket) =>
			runInDurableObject(relay(bob.accountId), (instance) => {
				UserRelay.hostOf(instance).blobs = bucket;
			});
		const download = async (path: string) => {
			const res = (await get(path, bob.token)) as Response;
			expect(res.status).toBe(200);
			await bytesOf(res.body as ReadableStream<Uint8Array>);
		};

		// The first blob's delete fails: deferred to the alarm.
		await setR2(brokenR2);
		await download(first.path);
		await vi.waitFor(async () => expect(await deferred(bob.accountId)).toEqual([{ key: keyOf(first.path) }]));

		// The alarm's retry of it hangs on R2; meanwhile the second blob's delete fails.
		let release = () => {};
		const gate = new Promise<void>((resolve) => {
			release = resolve;
		});
		let retrying = () => {};
		const retryStarted = new Promise<void>((resolve) => {
			retrying = resolve;
		});
		let deletes = 0;
		const slowThenDown = {
			...brokenR2,
			delete: async (k: string) => {
				if (deletes++ > 0) throw new Error("R2 simulated outage");
				retrying();
				await gate;
				await env.ATTACHMENTS.delete(k);
			},
		} as unknown as R2Bucket;
		await setR2(slowThenDown);
		const sweep = runDurableObjectAlarm(relay(bob.accountId));
		await retryStarted;
		await download(second.path);
		await vi.waitFor(async () => expect(await deferred(bob.accountId)).toHaveLength(2));
		release();
		expect(await sweep).toBe(true);
		expect(await deferred(bob.accountId)).toEqual([{ key: keyOf(second.path) }]);

		// The alarm armed for the retry is one that sweeps (an alarm before the next sweep is due only flushes credits).
		const { alarmAt, sweepAt } = await runInDurableObject(relay(bob.accountId), async (instance, state) => ({
			alarmAt: (await state.storage.getAlarm()) as number,
			sweepAt: UserRelay.servicesOf(instance).scheduler.dueAt("blob-retry") ?? null,
		}));
		expect(alarmAt).toBeLessThanOrEqual(Date.now() + 60_000);
		expect(sweepAt).not.toBeNull();
		expect(sweepAt as number).toBeLessThanOrEqual(alarmAt);
	});
});
