import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes, secretboxSeal } from "../../common/nacl.ts";
import { MAX_BACKUP_BYTES } from "../../common/protocol/wire.ts";
import { isRecovering } from "../../worker/relay/recovery/recovery-store.ts";
import { addApprovedDevice, addPendingDevice, contactPair } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestUser } from "./helpers.ts";
import { approve, askToJoin, currentList, nextList, removeDevice } from "./linking.ts";
import {
	completeRecovery,
	freshChallenge,
	listWith,
	newRecoveryKeys,
	putBackup,
	recoverBody,
	recoveryKeyBody,
	registerRecoveryKey,
	restore,
	restoredDevice,
	sealedBackupOf,
	withRecovery,
} from "./recovery.ts";

afterEach(() => {
	vi.useRealTimers();
});

const MISMATCH = { error: { code: "unauthorized", message: "The recovery key does not match this account." } };
const HOUR = 3_600_000;

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

const recovering = (user: TestUser, deviceId: string) =>
	runInDurableObject(relay(user.accountId), (_, state) => isRecovering(state.storage.sql, deviceId));

/** Every row of every table of the account's object and of its D1 rows, as text, for a zero-knowledge scan. */
async function everythingStored(accountId: string): Promise<string> {
	const object = await runInDurableObject(relay(accountId), (_, state) => {
		const sql = state.storage.sql;
		const tables = sql
			.exec<{ name: string }>(
				"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
			)
			.toArray();
		return tables.map((t) => `${t.name}: ${JSON.stringify(sql.exec(`SELECT * FROM "${t.name}"`).toArray())}`).join("\n");
	});
	const accounts = await env.DB.prepare("SELECT * FROM accounts WHERE id = ?").bind(accountId).all();
	const devices = await env.DB.prepare("SELECT * FROM devices WHERE account_id = ?").bind(accountId).all();
	return `${object}\n${JSON.stringify(accounts.results)}\n${JSON.stringify(devices.results)}`;
}

describe("the recovery key", () => {
	it("is registered only with the account's identity-key signature: a device key's, another account's identity key's or one over another key is refused", async () => {
		const alice = await registerUser("alice");
		expect((await api("/api/account/recovery", { token: alice.token })).json.error.code).toBe("not_found");
		const recovery = newRecoveryKeys();
		const other = newRecoveryKeys();
		const byDeviceKey = await registerRecoveryKey(alice, recovery, alice.keys.seed);
		const byOtherIdentity = await registerRecoveryKey(alice, recovery, generateAccountIdentity().seed);
		const overAnotherKey = await api("/api/account/recovery", {
			method: "PUT",
			token: alice.token,
			body: { recoveryKey: toB64u(recovery.publicKey), signature: recoveryKeyBody(alice, other).signature },
		});
		for (const refused of [byDeviceKey, byOtherIdentity, overAnotherKey]) {
			expect([refused.status, refused.json.error.code]).toEqual([401, "unauthorized"]);
		}
		expect((await api("/api/account/recovery", { token: alice.token })).status).toBe(404);

		const registered = await registerRecoveryKey(alice, recovery);
		expect([registered.status, registered.json]).toEqual([200, { ok: true }]);
		const served = await api("/api/account/recovery", { token: alice.token });
		expect(served.json.recoveryKey).toBe(toB64u(recovery.publicKey));
		// Served with its signature, so every device can check it before sealing a backup to it.
		expect(served.json).toEqual(recoveryKeyBody(alice, recovery));
	});

	it("is refused as a small-order key, and before the account has a signed device list", async () => {
		const alice = await registerUser("alice");
		// The neutral point: anyone could make a signature that checks under it.
		const neutral = new Uint8Array(32);
		neutral[0] = 1;
		const weak = await registerRecoveryKey(alice, { publicKey: neutral, seed: new Uint8Array(32) }, alice.identity.seed);
		expect([weak.status, weak.json.error.code]).toEqual([400, "bad_request"]);
		const unlisted = await registerUser("unlisted", { publish: false });
		const early = await registerRecoveryKey(unlisted, newRecoveryKeys());
		expect([early.status, early.json.error.code]).toEqual([409, "conflict"]);
	});

	it("once replaced, restores nothing: the old key gets the same 401 as any wrong key, and the new one restores", async () => {
		const alice = await registerUser("alice");
		const { recovery: old } = await withRecovery(alice);
		const replacement = newRecoveryKeys();
		expect((await registerRecoveryKey(alice, replacement)).status).toBe(200);
		const withOld = await restore(alice.handle, old);
		expect([withOld.status, withOld.json]).toEqual([401, MISMATCH]);
		expect((await restore(alice.handle, replacement)).status).toBe(201);
	});
});

describe("the key backup", () => {
	it("is 404 before the first, which is version 1; each next one is one more, and a stale or skipped version is a conflict naming the stored one", async () => {
		const alice = await registerUser("alice");
		expect((await api("/api/account/backup", { token: alice.token })).json).toEqual({
			error: { code: "not_found", message: "This account has no key backup." },
		});
		const second = await putBackup(alice, sealedBackupOf(2));
		expect([second.status, second.json.error.code]).toEqual([409, "conflict"]);
		expect((await putBackup(alice, sealedBackupOf(1))).json).toEqual({ ok: true });
		const v2 = sealedBackupOf(2);
		expect((await putBackup(alice, v2)).status).toBe(200);
		for (const version of [1, 2, 4]) {
			const refused = await putBackup(alice, sealedBackupOf(version));
			expect([version, refused.status, refused.json.error.code]).toEqual([version, 409, "conflict"]);
			expect(refused.json.error.message).toContain("version 2");
		}
		expect((await api("/api/account/backup", { token: alice.token })).json).toEqual(v2);
	});

	it("is stored and served exactly as sent up to MAX_BACKUP_BYTES; one byte more is too_large and leaves the stored one", async () => {
		const alice = await registerUser("alice");
		const largest = sealedBackupOf(1, MAX_BACKUP_BYTES);
		expect((await putBackup(alice, largest)).status).toBe(200);
		expect((await api("/api/account/backup", { token: alice.token })).json).toEqual(largest);
		const over = await putBackup(alice, sealedBackupOf(2, MAX_BACKUP_BYTES + 1));
		expect([over.status, over.json.error.code]).toEqual([413, "too_large"]);
		// Far beyond: refused before the body is even parsed.
		const far = await putBackup(alice, sealedBackupOf(2, 2 * MAX_BACKUP_BYTES));
		expect([far.status, far.json.error.code]).toEqual([413, "too_large"]);
		const stored = await runInDurableObject(relay(alice.accountId), (_, state) =>
			state.storage.sql.exec("SELECT version, nonce, box FROM key_backup").toArray(),
		);
		expect(stored).toEqual([largest]);
	});
});

describe("restoring with the recovery key", () => {
	it("with the right key makes a pending device marked as recovering, hands it the backup, and tells the account's devices", async () => {
		const alice = await registerUser("alice");
		const { recovery, backup } = await withRecovery(alice);
		const laptop = await connect(alice.token);
		await laptop.next("synced");
		const restored = await restore(alice.handle, recovery, { deviceName: "new laptop" });
		expect(restored.status).toBe(201);
		expect(restored.json).toEqual({ accountId: alice.accountId, deviceId: restored.deviceId, status: "pending", backup });
		expect(await laptop.next("device")).toMatchObject({
			event: "pending",
			device: { deviceId: restored.deviceId, name: "new laptop", status: "pending", publicKey: toB64u(restored.keys.publicKey) },
		});
		expect(await recovering(alice, restored.deviceId)).toBe(true);
		const session = await signIn(restored.keys);
		expect(session.json).toMatchObject({ deviceStatus: "pending", deviceId: restored.deviceId });
		// It may read the account's devices and signed list (it signs the next one), and nothing else.
		const token = session.json.token;
		const listing = await api("/api/devices", { token });
		expect(listing.status).toBe(200);
		expect(listing.json.deviceList).toEqual(await currentList(alice));
		for (const path of ["/api/contacts", "/api/account", "/api/account/backup", "/api/account/recovery", "/api/devices/identity"]) {
			const { status, json } = await api(path, { token });
			expect([path, status, json.error.code]).toEqual([path, 403, "device_pending"]);
		}
		// A device waiting on a link code still reads nothing, not even the devices.
		const linking = await addPendingDevice(alice);
		expect((await api("/api/devices", { token: linking.token })).json.error.code).toBe("device_pending");
	});

	it("answers a wrong key, a bad recovery signature, an unknown handle, an account without a recovery key and one without a backup with the identical 401 body", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const noKey = await registerUser("nokey");
		expect((await putBackup(noKey, sealedBackupOf(1))).status).toBe(200);
		const noBackup = await registerUser("nobackup");
		const noBackupKey = newRecoveryKeys();
		expect((await registerRecoveryKey(noBackup, noBackupKey)).status).toBe(200);

		const answers = [
			await restore(alice.handle, newRecoveryKeys()),
			// The right key named, signed by another.
			await restore(alice.handle, recovery, { recoverySigner: newRecoveryKeys().seed }),
			await restore("nobody_has_this_name", recovery),
			await restore(noKey.handle, newRecoveryKeys()),
			await restore(noBackup.handle, noBackupKey),
		];
		for (const answer of answers) expect([answer.status, answer.json]).toEqual([401, MISMATCH]);
		// None of them left a device behind.
		for (const user of [alice, noKey, noBackup]) {
			expect((await api("/api/devices", { token: user.token })).json.devices).toHaveLength(1);
		}
	});

	it("spends the challenge: one used once already is refused, as are a forged and an expired one", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const challenge = await freshChallenge();
		expect((await restore(alice.handle, recovery, { challenge })).status).toBe(201);
		const again = await restore(alice.handle, recovery, { challenge });
		expect([again.status, again.json.error.code]).toEqual([401, "unauthorized"]);
		expect(again.json.error.message).toContain("already used");
		// Spent by a failed attempt too.
		const spent = await freshChallenge();
		expect((await restore(alice.handle, newRecoveryKeys(), { challenge: spent })).status).toBe(401);
		expect((await restore(alice.handle, recovery, { challenge: spent })).json.error.message).toContain("already used");

		const [nonce, expiry] = (await freshChallenge()).split(".");
		const forged = await restore(alice.handle, recovery, { challenge: `${nonce}.${expiry}.${toB64u(randomBytes(32))}` });
		expect([forged.status, forged.json.error.code]).toEqual([401, "unauthorized"]);
		vi.useFakeTimers({ toFake: ["Date"] });
		const late = await freshChallenge();
		vi.setSystemTime(Date.now() + 60_000);
		const expired = await restore(alice.handle, recovery, { challenge: late });
		expect([expired.status, expired.json.error.message]).toEqual([401, "The challenge is invalid or expired. Ask for a new one."]);
	});

	it("refuses a restore whose device signature or device key is wrong, before looking at the account", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const challenge = await freshChallenge();
		const device = generateDeviceKeys();
		const body = recoverBody(alice.handle, recovery, device, challenge);
		const badSignature = await api("/api/recovery", { body: { ...body, deviceSignature: body.signature } });
		expect([badSignature.status, badSignature.json.error.message]).toEqual([401, "The device signature does not match the device key."]);
		const neutral = new Uint8Array(32);
		neutral[0] = 1;
		const weak = await api("/api/recovery", { body: { ...body, publicKey: toB64u(neutral) } });
		expect([weak.status, weak.json.error.code]).toEqual([400, "bad_request"]);
		// Neither spent the challenge nor counted as a failed attempt.
		expect((await restore(alice.handle, recovery, { challenge })).status).toBe(201);
	});

	it("refuses the sixth failed attempt within an hour with rate_limited, even with the right key; an unknown handle is never counted; an hour after, it restores", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		for (let i = 0; i < 5; i++) expect((await restore(alice.handle, newRecoveryKeys())).json).toEqual(MISMATCH);
		const locked = await restore(alice.handle, recovery);
		expect([locked.status, locked.json.error.code, locked.json.error.retryAfter]).toEqual([429, "rate_limited", HOUR]);
		expect((await restore(alice.handle, newRecoveryKeys())).json.error.retryAfter).toBe(HOUR);
		// No account, nothing to count: always the same 401.
		for (let i = 0; i < 7; i++) expect((await restore("nobody_has_this_name", recovery)).json).toEqual(MISMATCH);

		vi.setSystemTime(Date.now() + HOUR - 1);
		expect((await restore(alice.handle, recovery)).json.error).toMatchObject({ code: "rate_limited", retryAfter: 1 });
		vi.setSystemTime(Date.now() + 1);
		expect((await restore(alice.handle, recovery)).status).toBe(201);
	});

	it("refuses with too_many_devices once the account is full, but only to the right key", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		// MAX_DEVICES_PER_ACCOUNT (10): the first device and nine waiting.
		for (let i = 0; i < 9; i++) expect((await restore(alice.handle, recovery)).status).toBe(201);
		const full = await restore(alice.handle, recovery);
		expect([full.status, full.json.error.code]).toEqual([409, "too_many_devices"]);
		expect((await restore(alice.handle, newRecoveryKeys())).json).toEqual(MISMATCH);
	});
});

describe("completing a recovery", () => {
	it("with the next list approves the device, tells the account's sockets and its contacts, and the device then signs in as approved", async () => {
		const { alice, bob } = await contactPair();
		const lostPhone = await addApprovedDevice(alice, "lost phone");
		const { recovery } = await withRecovery(alice);
		const laptop = await connect(alice.token);
		const bobSocket = await connect(bob.token);
		for (const s of [laptop, bobSocket]) await s.next("synced");
		const device = await restoredDevice(alice, recovery);
		const own = await connect(device.token);
		await laptop.next("device", (d) => d.event === "pending");

		const list = await listWith(device);
		// Every approved device, the lost one too (it is removed afterwards, from the recovered device), and this one.
		expect(list.devices.map((d) => d.deviceId).sort()).toEqual([alice.deviceId, lostPhone.deviceId, device.deviceId].sort());
		const completed = await completeRecovery(device, device.deviceId, list);
		expect(completed.status).toBe(200);
		expect(completed.json.device).toMatchObject({ deviceId: device.deviceId, status: "approved" });
		expect(await laptop.next("device", (d) => d.event === "approved")).toMatchObject({ device: { deviceId: device.deviceId } });
		expect(await laptop.next("device_list")).toEqual({ type: "device_list", deviceList: list });
		expect(await bobSocket.next("contact", (c) => c.event === "devices_changed")).toMatchObject({
			contact: { accountId: alice.accountId },
		});
		// Its own socket is greeted as an approved device's.
		expect(await own.next("synced")).toBeTruthy();
		expect(await currentList(alice)).toEqual(list);
		expect(await recovering(alice, device.deviceId)).toBe(false);

		const session = await signIn(device.keys);
		expect(session.json).toMatchObject({ deviceStatus: "approved", deviceId: device.deviceId });
		expect((await api("/api/contacts", { token: session.json.token })).status).toBe(200);
		// And it can take the lost device off.
		const recovered = { ...device, token: session.json.token };
		expect((await removeDevice(recovered, lostPhone.deviceId)).json.device.status).toBe("revoked");
		// It is not recovering any more: completing again finds no pending device.
		expect((await completeRecovery(recovered, device.deviceId, list)).json.error.code).toBe("not_found");
	});

	it("refuses a wrong list and leaves the device pending: another identity key, a stale or skipped version, a changed lastRemoval, a list without it or with another key for it", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const device = await restoredDevice(alice, recovery);
		const list = await currentList(alice);
		const me = { deviceId: device.deviceId, publicKey: toB64u(device.keys.publicKey) };
		const other = generateAccountIdentity();
		const wrong = [
			["unauthorized", nextList(list, { add: me }, other, { identityKey: toB64u(other.publicKey) })],
			["unauthorized", { ...nextList(list, { add: me }, alice.identity), signature: nextList(list, { add: me }, other).signature }],
			["conflict", nextList(list, { add: me }, alice.identity, { version: list.version })],
			["conflict", nextList(list, { add: me }, alice.identity, { version: list.version + 2 })],
			["bad_request", nextList(list, { add: me }, alice.identity, { lastRemoval: list.version + 1 })],
			["bad_request", nextList(list, {}, alice.identity)],
			["bad_request", nextList(list, { add: { ...me, publicKey: toB64u(generateDeviceKeys().publicKey) } }, alice.identity)],
		] as const;
		for (const [code, deviceList] of wrong) {
			const refused = await completeRecovery(device, device.deviceId, deviceList);
			expect([code, refused.json.error.code]).toEqual([code, code]);
		}
		expect(await currentList(alice)).toEqual(list);
		expect((await signIn(device.keys)).json.deviceStatus).toBe("pending");
		expect((await completeRecovery(device, device.deviceId)).status).toBe(200);
	});

	it("is for the recovering device alone: another device of the account, another account and a device that joined by link code are refused", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const device = await restoredDevice(alice, recovery);
		const list = await listWith(device);

		const byApproved = await completeRecovery(alice, device.deviceId, list);
		expect([byApproved.status, byApproved.json.error.code]).toEqual([403, "forbidden"]);
		const stranger = await registerUser("stranger");
		const byStranger = await completeRecovery(stranger, device.deviceId, list);
		expect([byStranger.status, byStranger.json.error.code]).toEqual([404, "not_found"]);
		// Another recovering device of the same account cannot finish this one either.
		const twin = await restoredDevice(alice, recovery);
		const byTwin = await completeRecovery(twin, device.deviceId, list);
		expect([byTwin.status, byTwin.json.error.code]).toEqual([403, "device_pending"]);

		// A device that claimed a link code waits for the device that showed the code.
		const linking = await addPendingDevice(alice);
		const linkList = nextList(
			await currentList(alice),
			{ add: { deviceId: linking.deviceId, publicKey: toB64u(linking.keys.publicKey) } },
			alice.identity,
		);
		const itself = await completeRecovery(linking, linking.deviceId, linkList);
		expect([itself.status, itself.json.error.code]).toEqual([403, "device_pending"]);
		const forIt = await completeRecovery(alice, linking.deviceId, linkList);
		expect([forIt.status, forIt.json.error.code]).toEqual([409, "conflict"]);
		// And an approved device is not recovering.
		const approvedItself = await completeRecovery(alice, alice.deviceId, list);
		expect(approvedItself.json.error.code).toBe("not_found");

		expect((await signIn(device.keys)).json.deviceStatus).toBe("pending");
		expect((await completeRecovery(device, device.deviceId, list)).status).toBe(200);
	});

	it("a recovering device that never completes lapses after a day like any pending device, and another device may reject it at once", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const rejected = await restoredDevice(alice, recovery);
		expect((await removeDevice(alice, rejected.deviceId, { reject: true })).json.device.status).toBe("revoked");
		expect(await recovering(alice, rejected.deviceId)).toBe(false);
		expect((await signIn(rejected.keys)).json.error.code).toBe("device_revoked");

		const slow = await restoredDevice(alice, recovery);
		vi.setSystemTime(Date.now() + 86_400_000);
		const late = { ...slow, token: (await signIn(slow.keys)).json.token };
		expect((await completeRecovery(late, slow.deviceId)).json.error.code).toBe("not_found");
		expect((await signIn(slow.keys)).json.error.code).toBe("device_revoked");
		expect(await recovering(alice, slow.deviceId)).toBe(false);
	});
});

describe("zero knowledge of recovery", () => {
	it("the relay keeps the recovery public key and the backup as sealed, and nothing that opens either", async () => {
		const alice = await registerUser("alice");
		const recovery = newRecoveryKeys();
		expect((await registerRecoveryKey(alice, recovery)).status).toBe(200);
		// A real seal over a canary, under a key only the test holds (the client's backup key stands in).
		const canary = `zk-canary-${toB64u(randomBytes(12))}`;
		const backupKey = randomBytes(32);
		const nonce = randomBytes(24);
		const box = secretboxSeal(backupKey, nonce, new TextEncoder().encode(`${canary} identity seed and contact keys`));
		const backup = { version: 1, nonce: toB64u(nonce), box: toB64u(box) };
		expect((await putBackup(alice, backup)).status).toBe(200);
		const device = await restoredDevice(alice, recovery);
		expect((await completeRecovery(device, device.deviceId)).status).toBe(200);

		const stored = await everythingStored(alice.accountId);
		const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
		for (const secret of [
			toB64u(recovery.seed),
			hex(recovery.seed),
			toB64u(backupKey),
			hex(backupKey),
			canary,
			toB64u(alice.identity.seed),
		]) {
			expect(stored.includes(secret)).toBe(false);
		}
		// What it does keep: the public key, and the ciphertext exactly as sent.
		expect(stored).toContain(toB64u(recovery.publicKey));
		expect(stored).toContain(backup.box);
	});
});

describe("a recovering device", () => {
	it("cannot be approved by link code: an approval needs the claim it never made", async () => {
		const alice = await registerUser("alice");
		const { recovery } = await withRecovery(alice);
		const device = await restoredDevice(alice, recovery);
		// An approval by link needs the claim the recovering device never made.
		const claimed = await askToJoin(alice);
		const asIfLinked = await approve(alice, { ...claimed, deviceId: device.deviceId, keys: device.keys });
		expect([asIfLinked.status, asIfLinked.json.error.code]).toEqual([409, "conflict"]);
		expect((await signIn(device.keys)).json.deviceStatus).toBe("pending");
	});
});
