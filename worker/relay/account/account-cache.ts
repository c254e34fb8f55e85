import type { Account, TrustLevel } from "../../db/accounts.ts";
import { storageMemo } from "../storage/storage-memo.ts";
import { readMeta, writeMeta } from "../storage/storage-schema.ts";

/** The account row as last read from D1, kept so the message path needs no D1 read. */
export interface CachedAccount {
	handle: string;
	trust: TrustLevel;
	suspendedUntil: number | null;
	suspensionLevel: number;
	createdAt: number;
}

/** Parsed once per object start and on every write below: a send reads it several times. */
const parsed = storageMemo<Readonly<CachedAccount> | undefined>();

export function readAccountCache(sql: SqlStorage): Readonly<CachedAccount> | undefined {
	return parsed.get(sql, () => {
		const raw = readMeta(sql, "account");
		return raw === undefined ? undefined : Object.freeze(JSON.parse(raw) as CachedAccount);
	});
}

export function writeAccountCache(sql: SqlStorage, account: Account): CachedAccount {
	const cached: CachedAccount = {
		handle: account.handle,
		trust: account.trust,
		suspendedUntil: account.suspendedUntil,
		suspensionLevel: account.suspensionLevel,
		createdAt: account.createdAt,
	};
	writeMeta(sql, "account", JSON.stringify(cached));
	parsed.update(sql, () => Object.freeze({ ...cached }));
	return cached;
}

/** D1's balance as last read; charges journaled since then are subtracted from it. */
export const readD1Credits = (sql: SqlStorage): number => Number(readMeta(sql, "d1_credits") ?? 0);
export const writeD1Credits = (sql: SqlStorage, credits: number): void => writeMeta(sql, "d1_credits", String(credits));

export function bumpCounter(sql: SqlStorage, name: string): number {
	const next = Number(readMeta(sql, name) ?? 0) + 1;
	writeMeta(sql, name, String(next));
	return next;
}

export const readCounter = (sql: SqlStorage, name: string): number => Number(readMeta(sql, name) ?? 0);
