import type { DeviceInfo, DeviceStatus, TrustLevel } from "../../common/protocol/wire.ts";

export type { TrustLevel };

export interface Account {
	id: string;
	handle: string;
	trust: TrustLevel;
	suspendedUntil: number | null;
	suspensionLevel: number;
	credits: number;
	createdAt: number;
	/** The identity key that signs the account's device lists (null only for a row written before protocol v2). */
	identityKey: string | null;
}

export interface DeviceRecord extends DeviceInfo {
	accountId: string;
}

type AccountRow = {
	id: string;
	handle: string;
	trust: TrustLevel;
	suspended_until: number | null;
	suspension_level: number;
	credits: number;
	created_at: number;
	identity_key: string | null;
};

type DeviceRow = {
	id: string;
	account_id: string;
	public_key: string;
	name: string;
	status: DeviceStatus;
	created_at: number;
	last_seen_at: number | null;
};

const toAccount = (row: AccountRow): Account => ({
	id: row.id,
	handle: row.handle,
	trust: row.trust,
	suspendedUntil: row.suspended_until,
	suspensionLevel: row.suspension_level,
	credits: row.credits,
	createdAt: row.created_at,
	identityKey: row.identity_key,
});

const toDevice = (row: DeviceRow): DeviceRecord => ({
	deviceId: row.id,
	accountId: row.account_id,
	publicKey: row.public_key,
	name: row.name,
	status: row.status,
	createdAt: row.created_at,
	...(row.last_seen_at !== null && { lastSeenAt: row.last_seen_at }),
});

export interface NewAccount {
	accountId: string;
	deviceId: string;
	handle: string;
	publicKey: string;
	deviceName: string;
	registrationSignature: string;
	identityKey: string;
	startingCredits: number;
	now: number;
}

/**
 * Account, first device and opening credit grant in one batch: D1 runs a batch as one
 * transaction, so a taken handle or key leaves nothing half-created.
 * Returns false when the handle or the device key is already registered.
 */
export async function createAccount(db: D1Database, a: NewAccount): Promise<boolean> {
	try {
		await db.batch([
			db
				.prepare("INSERT INTO accounts (id, handle, credits, created_at, identity_key) VALUES (?1, ?2, ?3, ?4, ?5)")
				.bind(a.accountId, a.handle, a.startingCredits, a.now, a.identityKey),
			db
				.prepare(
					"INSERT INTO devices (id, account_id, public_key, name, status, approval_signature, created_at, approved_at) VALUES (?1, ?2, ?3, ?4, 'approved', ?5, ?6, ?6)",
				)
				.bind(a.deviceId, a.accountId, a.publicKey, a.deviceName, a.registrationSignature, a.now),
			db
				.prepare(
					"INSERT INTO credit_ledger (account_id, delta, balance_after, reason, created_at) VALUES (?1, ?2, ?2, 'starting_balance', ?3)",
				)
				.bind(a.accountId, a.startingCredits, a.now),
		]);
		return true;
	} catch (err) {
		if (err instanceof Error && /UNIQUE constraint failed/.test(err.message)) return false;
		throw err;
	}
}

export async function findAccountByHandle(db: D1Database, handle: string): Promise<Account | null> {
	const row = await db.prepare("SELECT * FROM accounts WHERE handle = ?1").bind(handle).first<AccountRow>();
	return row ? toAccount(row) : null;
}

export async function getAccount(db: D1Database, accountId: string): Promise<Account | null> {
	const row = await db.prepare("SELECT * FROM accounts WHERE id = ?1").bind(accountId).first<AccountRow>();
	return row ? toAccount(row) : null;
}

export async function findDeviceByPublicKey(db: D1Database, publicKey: string): Promise<DeviceRecord | null> {
	const row = await db.prepare("SELECT * FROM devices WHERE public_key = ?1").bind(publicKey).first<DeviceRow>();
	return row ? toDevice(row) : null;
}

export async function listDevices(db: D1Database, accountId: string): Promise<DeviceRecord[]> {
	const { results } = await db
		.prepare("SELECT * FROM devices WHERE account_id = ?1 ORDER BY created_at, id")
		.bind(accountId)
		.all<DeviceRow>();
	return results.map(toDevice);
}

export async function touchDevice(db: D1Database, deviceId: string, now: number): Promise<void> {
	await db.prepare("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1").bind(deviceId, now).run();
}

/** After an identity reset: D1 mirrors the identity key of the account's newest signed list. */
export async function setIdentityKey(db: D1Database, accountId: string, identityKey: string): Promise<void> {
	await db.prepare("UPDATE accounts SET identity_key = ?2 WHERE id = ?1").bind(accountId, identityKey).run();
}

/** Returns false when the key is already registered (to any account). */
export async function insertPendingDevice(
	db: D1Database,
	d: { deviceId: string; accountId: string; publicKey: string; name: string; now: number },
): Promise<boolean> {
	try {
		await db
			.prepare(
				"INSERT INTO devices (id, account_id, public_key, name, status, approval_signature, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', NULL, ?5)",
			)
			.bind(d.deviceId, d.accountId, d.publicKey, d.name, d.now)
			.run();
		return true;
	} catch (err) {
		if (err instanceof Error && /UNIQUE constraint failed/.test(err.message)) return false;
		throw err;
	}
}

/** pending → approved, recording who approved it and the signature of the signed device list that added it. */
export async function approveDevice(
	db: D1Database,
	a: { accountId: string; deviceId: string; approvedBy: string; signature: string; now: number },
): Promise<boolean> {
	const { meta } = await db
		.prepare(
			"UPDATE devices SET status = 'approved', approved_by = ?3, approval_signature = ?4, approved_at = ?5 WHERE id = ?2 AND account_id = ?1 AND status = 'pending'",
		)
		.bind(a.accountId, a.deviceId, a.approvedBy, a.signature, a.now)
		.run();
	return meta.changes > 0;
}

export async function revokeDevice(db: D1Database, accountId: string, deviceId: string, now: number): Promise<boolean> {
	const { meta } = await db
		.prepare("UPDATE devices SET status = 'revoked', revoked_at = ?3 WHERE id = ?2 AND account_id = ?1 AND status != 'revoked'")
		.bind(accountId, deviceId, now)
		.run();
	return meta.changes > 0;
}

/**
 * Every D1 row of an account, in one batch (all or nothing): its ledger, credit flushes and
 * purchases (Stripe keeps its own record of the payments), its devices, the flags and reviews about it, the reports it made and those about it, and
 * the account itself, children first. Nothing else in D1 names it.
 */
export async function deleteAccountRows(db: D1Database, accountId: string): Promise<void> {
	const statements = [
		"DELETE FROM credit_ledger WHERE account_id = ?1",
		"DELETE FROM credit_flushes WHERE account_id = ?1",
		"DELETE FROM credit_purchases WHERE account_id = ?1",
		"DELETE FROM flags WHERE account_id = ?1",
		"DELETE FROM suspension_reviews WHERE account_id = ?1",
		"DELETE FROM reports WHERE reporter_id = ?1 OR reported_id = ?1",
		"DELETE FROM devices WHERE account_id = ?1",
		"DELETE FROM accounts WHERE id = ?1",
	];
	await db.batch(statements.map((sql) => db.prepare(sql).bind(accountId)));
}
