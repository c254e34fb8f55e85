import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { readConfig } from "../../../worker/config.ts";
import { writeAccountCache } from "../../../worker/relay/account/account-cache.ts";
import { saveContactState } from "../../../worker/relay/contacts/contact-book.ts";
import { replaceCachedDevices } from "../../../worker/relay/devices/device-cache.ts";
import type { JobName, RelayHost } from "../../../worker/relay/host.ts";
import type { PeerStub } from "../../../worker/relay/surfaces.ts";

export const ACCOUNT = "AAAAAAAAAAAAAAAAAAAAAA";
export const PEER = "BBBBBBBBBBBBBBBBBBBBBB";
export const DEVICE = "DDDDDDDDDDDDDDDDDDDDDD";
export const OTHER_DEVICE = "EEEEEEEEEEEEEEEEEEEEEE";

/** A host port over a real object's SQLite storage, with a clock, peers and sockets of the test's own. */
export interface TestHost extends RelayHost {
	clock: { now: number };
	scheduled: Array<[JobName, number]>;
	peers: Partial<Record<keyof PeerStub, (...args: never[]) => unknown>>;
}

export function testHost(sql: SqlStorage, over: Partial<RelayHost> = {}): TestHost {
	const clock = { now: 1_800_000_000_000 };
	const scheduled: Array<[JobName, number]> = [];
	const peers: TestHost["peers"] = {};
	return {
		sql,
		accountId: ACCOUNT,
		config: () => readConfig(env),
		db: env.DB,
		blobs: env.ATTACHMENTS,
		now: () => clock.now,
		peer: () => peers as unknown as PeerStub,
		sockets: { accept: () => {}, of: () => [], all: () => [] },
		schedule: async (job, at) => {
			scheduled.push([job, at]);
		},
		waitUntil: () => {},
		clock,
		scheduled,
		peers,
		...over,
	};
}

/** Run `work` over the storage of a fresh object nobody else uses. */
export function withFreshStorage<T>(work: (sql: SqlStorage) => T | Promise<T>): Promise<T> {
	const stub = env.USERS.get(env.USERS.idFromName(`service-test-${crypto.randomUUID()}`));
	return runInDurableObject(stub, (_, state) => work(state.storage.sql));
}

/** An untrusted account with two approved devices and one accepted contact at key version 1. */
export function seedAccount(host: TestHost): void {
	writeAccountCache(host.sql, {
		id: ACCOUNT,
		handle: "alice",
		trust: "untrusted",
		suspendedUntil: null,
		suspensionLevel: 0,
		credits: 1000,
		createdAt: host.clock.now,
		identityKey: null,
	});
	const device = (deviceId: string) => ({
		deviceId,
		publicKey: "k",
		name: deviceId,
		status: "approved" as const,
		createdAt: host.clock.now,
	});
	replaceCachedDevices(host.sql, [device(DEVICE), device(OTHER_DEVICE)]);
	saveContactState(host.sql, { id: PEER, handle: "bob" }, "accepted", host.clock.now, 1);
}
