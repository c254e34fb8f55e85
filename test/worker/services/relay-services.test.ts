import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { writeD1Credits } from "../../../worker/relay/account/account-cache.ts";
import { SendAllowance } from "../../../worker/relay/account/send-allowance.ts";
import { BlobBin } from "../../../worker/relay/attachments/blob-bin.ts";
import { ChallengeLog, SPENT_KEPT_PAST_EXPIRY_MS } from "../../../worker/relay/challenges/challenge-log.ts";
import { CreditAccount } from "../../../worker/relay/credits/credit-account.ts";
import { CreditFlush } from "../../../worker/relay/credits/credit-flush.ts";
import { recordCharge } from "../../../worker/relay/credits/credit-journal.ts";
import {
	ackMessages,
	enqueueAll,
	expireQueue,
	inFlight,
	pageQueue,
	queueStats,
	removeQueued,
	replaceQueued,
} from "../../../worker/relay/messaging/message-queue.ts";
import { countSends, lifetimeSends, nthNewestSendTime, pruneSent, recordSent } from "../../../worker/relay/messaging/sent-messages.ts";
import { RelayServices } from "../../../worker/relay/services.ts";
import { readMeta, writeMeta } from "../../../worker/relay/storage/storage-schema.ts";
import { brokenD1, brokenR2 } from "../outages.ts";
import { ACCOUNT, DEVICE, OTHER_DEVICE, PEER, seedAccount, testHost, withFreshStorage } from "./test-host.ts";

const noAlarm = { now: () => 0, armBy: async () => {}, disarm: () => {} };

describe("the challenge log", () => {
	it("redeems a challenge once and refuses its replay, with no alarm of its own", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			const log = new ChallengeLog(host);
			const expiresAt = host.clock.now + 60_000;
			expect(log.redeem("nonce-1", expiresAt)).toBe(true);
			expect(log.redeem("nonce-1", expiresAt)).toBe(false);
			expect(host.scheduled).toEqual([]);
		}));

	it("keeps a spent challenge a minute past its expiry, for the worker's clock, and forgets it at a later redeem", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			const log = new ChallengeLog(host);
			const expiresAt = host.clock.now + 1_000;
			expect(log.redeem("early", expiresAt)).toBe(true);
			// Expired here, but a worker whose clock is a little behind may still take it: still spent.
			host.clock.now = expiresAt + SPENT_KEPT_PAST_EXPIRY_MS - 1;
			expect(log.redeem("early", expiresAt)).toBe(false);
			host.clock.now = expiresAt + SPENT_KEPT_PAST_EXPIRY_MS;
			expect(log.redeem("other", host.clock.now + 60_000)).toBe(true);
			expect(sql.exec("SELECT nonce FROM used_challenges").toArray()).toEqual([{ nonce: "other" }]);
		}));
});

describe("the blob bin", () => {
	it("keeps a key R2 refused to delete and schedules a retry a minute on", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql, { blobs: brokenR2 });
			await new BlobBin(host).remove("owner/blob");
			expect(sql.exec("SELECT key FROM blob_deletions").toArray()).toEqual([{ key: "owner/blob" }]);
			expect(host.scheduled).toEqual([["blob-retry", host.clock.now + 60_000]]);
		}));

	it("retries while R2 is down and empties once it answers", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql, { blobs: brokenR2 });
			const bin = new BlobBin(host);
			await bin.remove("owner/blob");
			expect(await bin.run(host.clock.now)).toBe(host.clock.now + 60_000);
			host.blobs = env.ATTACHMENTS;
			expect(await bin.run(host.clock.now)).toBeNull();
			expect(sql.exec("SELECT key FROM blob_deletions").toArray()).toEqual([]);
		}));
});

describe("the sent record", () => {
	it("counts the account's lifetime sends without a write of its own: what was pruned plus what is on record, taking over older code's counter", () =>
		withFreshStorage((sql) => {
			const now = Date.now();
			// Older code bumped a counter on every send; its last two sends are also on record.
			writeMeta(sql, "messages_sent", "10");
			recordSent(sql, { id: "m1", to: "bob", kind: "text", at: now - 40 * 86_400_000, counted: true });
			recordSent(sql, { id: "m2", to: "bob", kind: "text", at: now - 1_000, counted: true });
			expect(lifetimeSends(sql)).toBe(10);
			expect(readMeta(sql, "messages_sent")).toBeUndefined();
			recordSent(sql, { id: "m3", to: "bob", kind: "reaction", at: now, counted: false });
			recordSent(sql, { id: "m4", to: "bob", kind: "edit", at: now, counted: true });
			expect(lifetimeSends(sql)).toBe(11);
			pruneSent(sql, now - 30 * 86_400_000, 0);
			expect(sql.exec("SELECT id FROM sent_messages ORDER BY id").toArray()).toEqual([{ id: "m2" }, { id: "m3" }, { id: "m4" }]);
			expect(lifetimeSends(sql)).toBe(11);
		}));
});

describe("the sent record's charges", () => {
	it("are not pruned while D1 does not have them, and are once it has", () =>
		withFreshStorage((sql) => {
			const old = Date.now() - 40 * 86_400_000;
			recordSent(sql, { id: "m1", to: "bob", kind: "text", at: old, counted: true, charge: { amount: 4, seq: 1 } });
			recordSent(sql, { id: "m2", to: "bob", kind: "text", at: old + 1, counted: true, charge: { amount: 4, seq: 2 } });
			recordSent(sql, { id: "r1", to: "bob", kind: "reaction", at: old + 2, counted: false });
			const before = lifetimeSends(sql);
			pruneSent(sql, Date.now() - 30 * 86_400_000, 1);
			expect(sql.exec("SELECT id FROM sent_messages ORDER BY id").toArray()).toEqual([{ id: "m2" }]);
			expect(lifetimeSends(sql)).toBe(before);
			pruneSent(sql, Date.now() - 30 * 86_400_000, 2);
			expect(sql.exec("SELECT id FROM sent_messages").toArray()).toEqual([]);
			expect(lifetimeSends(sql)).toBe(before);
		}));
});

describe("the send window in memory", () => {
	it("counts, after the first load, what a count over the record would, as the windows move, narrow and widen again", () =>
		withFreshStorage((sql) => {
			const minute = 60_000;
			const start = Date.now() - 4 * 86_400_000;
			const inSql = (since: number) =>
				sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sent_messages WHERE counted = 1 AND at > ?", since).one().n;
			const nthInSql = (n: number) =>
				sql.exec<{ at: number }>("SELECT at FROM sent_messages WHERE counted = 1 ORDER BY at DESC LIMIT 1 OFFSET ?", n - 1).toArray()[0]
					?.at;
			// Over two days of a send every five minutes, with reactions (not counted) between; the
			// windows are asked for as the sends go, so old entries leave memory in batches.
			for (let i = 0; i < 600; i++) {
				const at = start + i * 5 * minute;
				recordSent(sql, { id: `t${i}`, to: "bob", kind: "text", at, counted: true });
				recordSent(sql, { id: `r${i}`, to: "bob", kind: "reaction", at: at + 1, counted: false });
				const now = at + minute;
				const day = now - 86_400_000;
				expect(countSends(sql, now - 30 * minute, day)).toEqual({ inShort: inSql(now - 30 * minute), inLong: inSql(day) });
			}
			const now = start + 600 * 5 * minute;
			// A narrow window (an account without a quota), then the whole day again: read again.
			expect(countSends(sql, now - 10_000, now - 10_000)).toEqual({ inShort: 0, inLong: 0 });
			expect(countSends(sql, now - 3_600_000, now - 2 * 86_400_000)).toEqual({
				inShort: inSql(now - 3_600_000),
				inLong: inSql(now - 2 * 86_400_000),
			});
			// A send recorded with an older time (a clock stepped back) lands in its place.
			recordSent(sql, { id: "late", to: "bob", kind: "text", at: now - 45 * minute, counted: true });
			expect(countSends(sql, now - 3_600_000, now - 86_400_000)).toEqual({
				inShort: inSql(now - 3_600_000),
				inLong: inSql(now - 86_400_000),
			});
			for (const n of [1, 16, 17, 100, 144, 200]) expect(nthNewestSendTime(sql, n)).toBe(nthInSql(n));
		}));
});

describe("the send allowance", () => {
	it("counts the account's sends in the rate window and the day, and gives the quota left", () =>
		withFreshStorage((sql) => {
			const host = testHost(sql);
			seedAccount(host);
			const allowance = new SendAllowance(host);
			const now = host.clock.now;
			recordSent(sql, { id: "m1", to: "bob", kind: "text", at: now - 2 * 86_400_000, counted: true });
			recordSent(sql, { id: "m2", to: "bob", kind: "edit", at: now - 3_600_000, counted: true });
			// Reactions and deletes are not counted.
			recordSent(sql, { id: "m3", to: "bob", kind: "reaction", at: now - 2_000, counted: false });
			recordSent(sql, { id: "m4", to: "bob", kind: "text", at: now - 3_000, counted: true });
			const account = { handle: "alice", trust: "untrusted" as const, suspendedUntil: null, suspensionLevel: 0, createdAt: now };
			const rules = { rateCount: 1, rateWindowMs: 10_000, quota: 20 };
			expect(allowance.counts(now, rules)).toEqual({ inRateWindow: 1, inDay: 2 });
			expect(allowance.verdict({ inRateWindow: 1, inDay: 2 }, now, rules)).toEqual({
				ok: false,
				code: "rate_limited",
				retryAfterMs: 7_000,
			});
			expect(allowance.quotaLeft(account, 2)).toBe(
				allowance.rules(account).quota === null ? null : (allowance.rules(account).quota as number) - 2,
			);
		}));
});

describe("the credit flush", () => {
	it("keeps the journal whole when D1 is down and asks to run again in 30 s", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql, { db: brokenD1 });
			const flush = new CreditFlush(host, new CreditAccount(host));
			recordCharge(sql, { amount: 4, reason: "text", ref: "m1", at: host.clock.now });
			expect(await flush.run(host.clock.now)).toBe(host.clock.now + 30_000);
			expect(sql.exec("SELECT ref FROM charges").toArray()).toEqual([{ ref: "m1" }]);
		}));

	it("has nothing to do, and no deadline, with an empty journal", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql, { db: brokenD1 });
			expect(await new CreditFlush(host, new CreditAccount(host)).run(host.clock.now)).toBeNull();
		}));
});

describe("delivery", () => {
	const item = (msgId: string) => ({ msgId, from: PEER, kind: "text" as const, text: `{"id":"${msgId}"}`, bytes: 100 });

	it("queues a contact's message once for every approved device and schedules its expiry", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			const { delivery } = new RelayServices(host, noAlarm);
			expect(await delivery.accept(item("m1"))).toEqual({ ok: true, value: { receipts: [] } });
			expect([queueStats(sql, DEVICE).count, queueStats(sql, OTHER_DEVICE).count]).toEqual([1, 1]);
			expect(host.scheduled).toContainEqual(["queue-expiry", host.clock.now + host.config().queueTtlMs]);
		}));

	it("refuses a message from someone who is not an accepted contact and queues nothing", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			const { delivery } = new RelayServices(host, noAlarm);
			const refused = await delivery.accept({ ...item("m1"), from: ACCOUNT });
			expect(refused).toMatchObject({ ok: false, code: "not_a_contact" });
			expect(sql.exec("SELECT COUNT(*) AS n FROM queue").one().n).toBe(0);
		}));

	it("refuses a message whole when one device's queue is full: no device gets it", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			const config = host.config();
			host.config = () => ({ ...config, queueMaxMessages: 1 });
			// Only the second device's queue is full, through the queue's own write path.
			enqueueAll(
				sql,
				[{ deviceId: OTHER_DEVICE, msgId: "m0", fromAccount: PEER, frame: "{}", bytes: 10, expiresAt: host.clock.now + 1000 }],
				null,
			);
			const { delivery } = new RelayServices(host, noAlarm);
			expect(await delivery.accept(item("m1"))).toMatchObject({ ok: false, code: "recipient_queue_full" });
			expect(sql.exec("SELECT device_id, msg_id FROM queue").toArray()).toEqual([{ device_id: OTHER_DEVICE, msg_id: "m0" }]);
		}));
});

describe("the queue's numbers", () => {
	it("rise above the highest row, the high mark older code left and the highest an open socket was pushed, even once the top rows are gone", () =>
		withFreshStorage((sql) => {
			const row = (msgId: string) => ({ deviceId: DEVICE, msgId, fromAccount: PEER, frame: "{}", bytes: 2, expiresAt: Date.now() + 1000 });
			writeMeta(sql, "queue_seq_floor", "90");
			// An open socket was pushed number 120 before the object restarted.
			const first = enqueueAll(sql, [row("m1")], null, () => 120);
			expect(first).toEqual(new Map([[DEVICE, 121]]));
			// Every row acked: the next still comes after them, with no counter row written, and
			// no index row either: the row's key (device, sender, id) is the table's.
			sql.exec("DELETE FROM queue");
			const cursor = sql.exec(
				"INSERT INTO queue (seq, device_id, from_account, msg_id, frame, bytes, expires_at) VALUES (1, 'x', 'x', 'x', '{}', 1, 1)",
			);
			expect(cursor.rowsWritten).toBe(1);
			sql.exec("DELETE FROM queue");
			expect(enqueueAll(sql, [row("m2")], null, () => 0)).toEqual(new Map([[DEVICE, 122]]));
			// A re-sent id takes no number.
			expect(enqueueAll(sql, [row("m2")], null, () => 0)).toEqual(new Map());
			expect(enqueueAll(sql, [row("m3")], null, () => 0)).toEqual(new Map([[DEVICE, 123]]));
		}));
});

describe("the queue's order for a draining device", () => {
	it("pages and counts what is in flight exactly as the rows say, through sends, acks, edits, deletes and expiry", () =>
		withFreshStorage((sql) => {
			const now = Date.now();
			const row = (msgId: string, deviceId = DEVICE, from = PEER, expiresAt = now + 60_000) => ({
				deviceId,
				msgId,
				fromAccount: from,
				frame: JSON.stringify({ id: msgId }),
				bytes: 2,
				expiresAt,
			});
			// What SQL says, ordered by number: the truth the order in memory must match.
			const truth = (deviceId: string, after: number, limit: number) =>
				sql
					.exec<{ seq: number; frame: string }>(
						"SELECT seq, frame FROM queue WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?",
						deviceId,
						after,
						limit,
					)
					.toArray();
			const check = () => {
				for (const deviceId of [DEVICE, OTHER_DEVICE]) {
					for (const after of [0, 3, 10, 25, 1_000]) {
						expect(pageQueue(sql, deviceId, after, 7)).toEqual(truth(deviceId, after, 7));
						expect(inFlight(sql, deviceId, after)).toBe(
							sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM queue WHERE device_id = ? AND seq <= ?", deviceId, after).one().n,
						);
					}
				}
			};
			for (let i = 0; i < 20; i++) enqueueAll(sql, [row(`m${i}`), row(`m${i}`, OTHER_DEVICE)], null);
			check(); // loads both devices' order
			for (let i = 20; i < 30; i++) enqueueAll(sql, [row(`m${i}`, DEVICE, i % 2 === 0 ? PEER : ACCOUNT)], null);
			ackMessages(sql, DEVICE, ["m0", "m5", "m6", "nothing"], PEER);
			ackMessages(sql, OTHER_DEVICE, ["m1"]);
			check();
			// An edit of a queued message takes its place; a delete removes it.
			replaceQueued(sql, DEVICE, "m7", row("m7-edit"));
			removeQueued(sql, DEVICE, PEER, "m8");
			check();
			enqueueAll(sql, [row("late", DEVICE, PEER, now - 1)], null);
			check();
			expireQueue(sql, now);
			check();
			expect(pageQueue(sql, DEVICE, 0, 100).map((r) => JSON.parse(r.frame).id)).toContain("m7-edit");
		}));
});

describe("the send pipeline", () => {
	const frame = (box = "AAAA") => ({
		type: "send" as const,
		id: "MMMMMMMMMMMMMMMMMMMMMM",
		to: PEER,
		kind: "text" as const,
		keyVersion: 1,
		nonce: "N".repeat(32),
		box,
	});

	it("leaves nothing behind when the recipient's object refuses: no charge, no limiter entry, no record, no sent sync", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			writeD1Credits(sql, 1000);
			host.peers.deliver = async () => ({ ok: false, code: "recipient_queue_full", message: "full" });
			const { sends } = new RelayServices(host, noAlarm);
			expect(await sends.send(DEVICE, frame())).toMatchObject({ ok: false, code: "recipient_queue_full" });
			for (const table of ["charges", "sent_messages", "events", "queue"]) {
				expect(sql.exec(`SELECT COUNT(*) AS n FROM ${table}`).one().n, table).toBe(0);
			}
		}));

	it("charges, logs and syncs to the sender's other device once the recipient's object has the message", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			writeD1Credits(sql, 1000);
			const delivered: unknown[] = [];
			host.peers.deliver = async (...args: unknown[]) => {
				delivered.push(args[0]);
				return { ok: true, value: { receipts: [] } };
			};
			const { sends } = new RelayServices(host, noAlarm);
			const result = await sends.send(DEVICE, frame());
			expect(result).toMatchObject({
				ok: true,
				value: { sent: { at: host.clock.now, credits: 1000 - host.config().prices.text }, receipts: [] },
			});
			expect(delivered).toHaveLength(1);
			expect(sql.exec("SELECT device_id FROM queue").toArray()).toEqual([{ device_id: OTHER_DEVICE }]);
			expect(host.scheduled.map(([job]) => job)).toContain("credit-flush");
		}));

	it("refuses a device that is not approved before looking at anything else", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			host.peers.deliver = async () => {
				throw new Error("must not be called");
			};
			const { sends } = new RelayServices(host, noAlarm);
			expect(await sends.send("XXXXXXXXXXXXXXXXXXXXXX", frame())).toMatchObject({ ok: false, code: "unauthorized" });
		}));
});

describe("link codes", () => {
	const LINK = "LLLLLLLLLLLLLLLLLLLLLL";

	it("keep a used link id refused until no device that claimed it can still be waiting, then housekeeping forgets it", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			const { links, housekeeping } = new RelayServices(host, noAlarm);
			const { linkCodeTtlMs: ttl, deviceJoins } = host.config();
			const openedAt = host.clock.now;
			expect(links.open(DEVICE, LINK)).toEqual({ ok: true, value: { linkId: LINK, expiresAt: openedAt + ttl } });
			const forgottenAt = openedAt + ttl + deviceJoins.lapseMs;
			await housekeeping.run(forgottenAt - 1);
			expect(links.open(DEVICE, LINK)).toMatchObject({ ok: false, code: "conflict" });
			await housekeeping.run(forgottenAt);
			host.clock.now = forgottenAt;
			expect(links.open(DEVICE, LINK)).toMatchObject({ ok: true });
			// Expiry needs no alarm of its own: a link is checked when it is used.
			expect(host.scheduled).toEqual([]);
		}));

	it("end at once when cancelled, and a cancelled id stays refused as long as any other", () =>
		withFreshStorage(async (sql) => {
			const host = testHost(sql);
			seedAccount(host);
			const { links, housekeeping } = new RelayServices(host, noAlarm);
			const cancelledAt = host.clock.now;
			links.open(DEVICE, LINK);
			expect(links.cancel(LINK)).toEqual({ ok: true, value: true });
			expect(links.cancel(LINK)).toMatchObject({ ok: false, code: "not_found" });
			expect(links.open(DEVICE, LINK)).toMatchObject({ ok: false, code: "conflict" });
			await housekeeping.run(cancelledAt + host.config().deviceJoins.lapseMs);
			expect(links.open(DEVICE, LINK)).toMatchObject({ ok: true });
		}));
});
