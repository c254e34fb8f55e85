/**
 * Message ids are chosen by their sender and unique per sender only. A contact who sends
 * under the id of someone else's message (which he saw, or was sent) gets a message of his
 * own under it: his edits, deletes and acks reach that one, never the other sender's.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { sealFileStream } from "../../client/core/file-seal.ts";
import { randomBytes } from "../../common/nacl.ts";
import { STORAGE_MIGRATIONS } from "../../worker/relay/storage/storage-schema.ts";
import { acceptContact, contactPair, newMessageId, sealedAck, sealedSend } from "./fixtures.ts";
import { api, BASE, connect, registerUser, type TestSocket, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

type QueueRow = {
	device_id: string;
	from_account: string;
	msg_id: string;
	replaces: string | null;
	frame: string;
};

const queueOf = (accountId: string): Promise<QueueRow[]> =>
	runInDurableObject(relay(accountId), (_, state) =>
		state.storage.sql.exec<QueueRow>("SELECT device_id, from_account, msg_id, replaces, frame FROM queue ORDER BY seq").toArray(),
	);

/** What one device's queue holds, as (sender, id, replaces, box of the frame). */
async function queuedFor(owner: TestUser, deviceId: string) {
	return (await queueOf(owner.accountId))
		.filter((r) => r.device_id === deviceId)
		.map((r) => ({ from: r.from_account, id: r.msg_id, replaces: r.replaces, box: JSON.parse(r.frame).box as string }));
}

/** `mallory` becomes an accepted contact of `victim`; returns their contact key. */
async function befriend(victim: TestUser, mallory: TestUser): Promise<Uint8Array> {
	const asked = await api("/api/contacts", { token: mallory.token, body: { handle: victim.handle } });
	expect(asked.status).toBeLessThan(300);
	return acceptContact(victim, mallory);
}

/** Send and wait for its `sent`. */
async function sendOk<F extends { id: string }>(socket: TestSocket, frame: F): Promise<void> {
	socket.send(frame);
	const reply = await Promise.race([socket.next("sent", (s) => s.id === frame.id), socket.next("error", (e) => e.ref === frame.id)]);
	expect(reply).toMatchObject({ type: "sent", id: frame.id });
}

/** Alice with a laptop and a phone, and Mallory, a contact of hers. */
async function aliceAndMallory() {
	const { alice, aliceDevices } = await contactPair({ extraDevices: 1 });
	const phone = aliceDevices[1] as TestUser;
	const mallory = await registerUser("mallory");
	const key = await befriend(alice, mallory);
	return { alice, phone, mallory, key };
}

describe("a contact reusing the id of one of your messages", () => {
	it("cannot delete your sent-sync copy on your other device: his delete removes his own message only", async () => {
		const { alice, phone, mallory, key } = await aliceAndMallory();
		const laptop = await connect(alice.token);
		const mine = sealedSend(alice, mallory, key, "my words");
		await sendOk(laptop, mine);
		// The phone is offline: the sent-sync copy waits in its queue.
		expect(await queuedFor(alice, phone.deviceId)).toEqual([{ from: alice.accountId, id: mine.id, replaces: null, box: mine.box }]);

		const m = await connect(mallory.token);
		const reused = sealedSend(mallory, alice, key, "under your id", mine.id);
		await sendOk(m, reused);
		// Queued beside Alice's copy, not skipped for it: his is another message.
		expect((await queuedFor(alice, phone.deviceId)).map((r) => [r.from, r.id])).toEqual([
			[alice.accountId, mine.id],
			[mallory.accountId, mine.id],
		]);
		const del = { ...sealedSend(mallory, alice, key, ""), kind: "delete", replaces: mine.id };
		await sendOk(m, del);

		expect(await queuedFor(alice, phone.deviceId)).toEqual([
			{ from: alice.accountId, id: mine.id, replaces: null, box: mine.box },
			{ from: mallory.accountId, id: del.id, replaces: mine.id, box: del.box },
		]);
		const p = await connect(phone.token);
		expect(await p.next("message")).toMatchObject({
			id: mine.id,
			from: alice.accountId,
			to: mallory.accountId,
			kind: "text",
			box: mine.box,
		});
		expect(await p.next("message")).toMatchObject({ id: del.id, from: mallory.accountId, kind: "delete", replaces: mine.id });
		await p.next("synced");
	});

	it("cannot replace your sent-sync copy with his edit: the edit stands in for his own message", async () => {
		const { alice, phone, mallory, key } = await aliceAndMallory();
		const laptop = await connect(alice.token);
		const mine = sealedSend(alice, mallory, key, "my words");
		await sendOk(laptop, mine);
		const m = await connect(mallory.token);
		await sendOk(m, sealedSend(mallory, alice, key, "under your id", mine.id));
		const edit = { ...sealedSend(mallory, alice, key, "your words, changed"), kind: "edit", replaces: mine.id };
		await sendOk(m, edit);

		expect(await queuedFor(alice, phone.deviceId)).toEqual([
			{ from: alice.accountId, id: mine.id, replaces: null, box: mine.box },
			{ from: mallory.accountId, id: edit.id, replaces: mine.id, box: edit.box },
		]);
		const p = await connect(phone.token);
		expect(await p.next("message")).toMatchObject({ id: mine.id, from: alice.accountId, kind: "text", box: mine.box });
		expect(await p.next("message")).toMatchObject({ id: edit.id, from: mallory.accountId, kind: "edit", replaces: mine.id });
	});

	it("cannot edit your message where it waits for its recipient: another contact's edit under its id leaves it as you sent it", async () => {
		const { alice, bob, key } = await contactPair();
		const mallory = await registerUser("mallory");
		const malloryKey = await befriend(bob, mallory);
		const a = await connect(alice.token);
		const mine = sealedSend(alice, bob, key, "meet at noon");
		await sendOk(a, mine);

		const m = await connect(mallory.token);
		await sendOk(m, sealedSend(mallory, bob, malloryKey, "decoy", mine.id));
		const edit = { ...sealedSend(mallory, bob, malloryKey, "meet at midnight"), kind: "edit", replaces: mine.id };
		await sendOk(m, edit);
		const del = { ...sealedSend(mallory, bob, malloryKey, ""), kind: "delete", replaces: mine.id };
		await sendOk(m, del);

		expect(await queuedFor(bob, bob.deviceId)).toEqual([
			{ from: alice.accountId, id: mine.id, replaces: null, box: mine.box },
			{ from: mallory.accountId, id: del.id, replaces: mine.id, box: del.box },
		]);
		const b = await connect(bob.token);
		expect(await b.next("message")).toMatchObject({ id: mine.id, from: alice.accountId, kind: "text", box: mine.box });
	});

	it("cannot revoke your attachment grant: his delete under your message's id leaves the file fetchable", async () => {
		const { alice, bob, key } = await contactPair();
		const mallory = await registerUser("mallory");
		const malloryKey = await befriend(bob, mallory);
		const sealed = sealFileStream(randomBytes(32), new Response(randomBytes(1000)).body as ReadableStream<Uint8Array>);
		const blob = new Uint8Array(await new Response(sealed.stream).arrayBuffer());
		const reserved = (await api("/api/attachments", { token: alice.token, body: { to: bob.accountId, size: 1000 } })).json;
		const path = `${BASE}/api/attachments/${reserved.owner}/${reserved.attachmentId}`;
		const put = await exports.default.fetch(
			new Request(path, {
				method: "PUT",
				headers: { authorization: `Bearer ${alice.token}`, "content-length": String(blob.length) },
				body: blob,
			}),
		);
		expect(put.status).toBe(204);
		const a = await connect(alice.token);
		const mine = { ...sealedSend(alice, bob, key, "a file"), kind: "attachment", attachmentId: reserved.attachmentId };
		await sendOk(a, mine);

		const m = await connect(mallory.token);
		await sendOk(m, sealedSend(mallory, bob, malloryKey, "decoy", mine.id));
		await sendOk(m, { ...sealedSend(mallory, bob, malloryKey, ""), kind: "delete", replaces: mine.id });

		const grants = await runInDurableObject(relay(bob.accountId), (_, state) =>
			state.storage.sql.exec("SELECT attachment_id, owner, msg_id FROM attachment_grants").toArray(),
		);
		expect(grants).toEqual([{ attachment_id: reserved.attachmentId, owner: alice.accountId, msg_id: mine.id }]);
		expect((await env.ATTACHMENTS.list()).objects.map((o) => o.key)).toContain(`${alice.accountId}/${reserved.attachmentId}`);
		const fetched = await exports.default.fetch(new Request(path, { headers: { authorization: `Bearer ${bob.token}` } }));
		expect(fetched.status).toBe(200);
		expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(blob);

		// Alice's own delete still revokes it.
		await sendOk(a, { ...sealedSend(alice, bob, key, ""), kind: "delete", replaces: mine.id });
		expect((await env.ATTACHMENTS.list()).objects.map((o) => o.key)).not.toContain(`${alice.accountId}/${reserved.attachmentId}`);
	});

	it("cannot take your message out of a queue through an ack: an ack names its sender", async () => {
		const { alice, bob, key } = await contactPair();
		const mallory = await registerUser("mallory");
		const malloryKey = await befriend(bob, mallory);
		const a = await connect(alice.token);
		const mine = sealedSend(alice, bob, key, "hello");
		await sendOk(a, mine);
		const m = await connect(mallory.token);
		await sendOk(m, sealedSend(mallory, bob, malloryKey, "decoy", mine.id));

		const b = await connect(bob.token);
		await b.next("synced");
		// Bob's device acks the decoy only (say Alice's copy could not be stored yet).
		b.send(sealedAck(bob, mallory, malloryKey, [mine.id]));
		await vi.waitFor(async () => expect((await queuedFor(bob, bob.deviceId)).map((r) => r.from)).toEqual([alice.accountId]));
		expect(a.frames.filter((f) => f.type === "receipt")).toEqual([]);
		b.send(sealedAck(bob, alice, key, [mine.id]));
		expect(await a.next("receipt")).toMatchObject({ from: bob.accountId, fromDevice: bob.deviceId });
		await vi.waitFor(async () => expect(await queuedFor(bob, bob.deviceId)).toEqual([]));
	});
});

describe("the queue's move to per-sender ids", () => {
	const rebuild = STORAGE_MIGRATIONS.findIndex((m) => m.some((s) => s.includes("UNIQUE (device_id, from_account, msg_id)")));

	it("keeps every queued row, fills in senders from their frames, and goes on numbering past the old high mark", async () => {
		expect(rebuild).toBeGreaterThan(0);
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const first = sealedSend(alice, bob, key, "one");
		const second = sealedSend(alice, bob, key, "two");
		await sendOk(a, first);
		await sendOk(a, second);
		// The queue as it was before the rebuild (one id per device, whoever sent it), with one
		// row from before senders were recorded and a high mark above the rows left.
		await runInDurableObject(relay(bob.accountId), (_, state) => {
			const sql = state.storage.sql;
			sql.exec("DROP TABLE queue");
			sql.exec(`CREATE TABLE queue (
				seq INTEGER PRIMARY KEY AUTOINCREMENT,
				device_id TEXT NOT NULL,
				msg_id TEXT NOT NULL,
				frame TEXT NOT NULL,
				bytes INTEGER NOT NULL,
				expires_at INTEGER NOT NULL,
				from_account TEXT,
				replaces TEXT,
				UNIQUE (device_id, msg_id)
			)`);
			const expiresAt = Date.now() + 86_400_000;
			const frameOf = (f: typeof first) =>
				JSON.stringify({ ...f, type: "message", from: alice.accountId, fromDevice: alice.deviceId, sentAt: 1 });
			sql.exec(
				"INSERT INTO queue (seq, device_id, msg_id, frame, bytes, expires_at, from_account) VALUES (5, ?, ?, ?, 10, ?, NULL)",
				bob.deviceId,
				first.id,
				frameOf(first),
				expiresAt,
			);
			sql.exec(
				"INSERT INTO queue (seq, device_id, msg_id, frame, bytes, expires_at, from_account) VALUES (40, ?, ?, ?, 10, ?, ?)",
				bob.deviceId,
				second.id,
				frameOf(second),
				expiresAt,
				alice.accountId,
			);
			sql.exec("INSERT INTO queue (seq, device_id, msg_id, frame, bytes, expires_at) VALUES (90, 'gone', 'gone', '{}', 1, 1)");
			sql.exec("DELETE FROM queue WHERE seq = 90");
			sql.exec("UPDATE meta SET value = ? WHERE key = 'schema_version'", String(rebuild));
		});
		await abortAllDurableObjects();

		const rows = await runInDurableObject(relay(bob.accountId), (_, state) =>
			state.storage.sql.exec("SELECT seq, device_id, from_account, msg_id FROM queue ORDER BY seq").toArray(),
		);
		expect(rows).toEqual([
			{ seq: 5, device_id: bob.deviceId, from_account: alice.accountId, msg_id: first.id },
			{ seq: 40, device_id: bob.deviceId, from_account: alice.accountId, msg_id: second.id },
		]);
		const a2 = await connect(alice.token);
		const third = sealedSend(alice, bob, key, "three");
		await sendOk(a2, third);
		const seqOfThird = await runInDurableObject(
			relay(bob.accountId),
			(_, state) => state.storage.sql.exec<{ seq: number }>("SELECT seq FROM queue WHERE msg_id = ?", third.id).one().seq,
		);
		expect(seqOfThird).toBeGreaterThan(90);
		const b = await connect(bob.token);
		expect([(await b.next("message")).id, (await b.next("message")).id, (await b.next("message")).id]).toEqual([
			first.id,
			second.id,
			third.id,
		]);
	});

	it("is safe to run again over the rebuilt queue", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const queuedMsg = sealedSend(alice, bob, key, "waiting", newMessageId());
		await sendOk(a, queuedMsg);
		await runInDurableObject(relay(bob.accountId), (_, state) => {
			state.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'schema_version'", String(rebuild));
		});
		await abortAllDurableObjects();
		expect((await queueOf(bob.accountId)).map((r) => [r.from_account, r.msg_id])).toEqual([[alice.accountId, queuedMsg.id]]);
		const b = await connect(bob.token);
		expect((await b.next("message")).id).toBe(queuedMsg.id);
	});
});
