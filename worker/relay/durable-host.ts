import { type Config, readConfig } from "../config.ts";
import type { AlarmPort } from "./deadline-scheduler.ts";
import type { JobName, RelayHost, SocketPort } from "./host.ts";
import { readMeta, writeMeta } from "./storage/storage-schema.ts";
import { type PeerStub, peerRelay } from "./surfaces.ts";

/**
 * The host port of a real Durable Object. `db` and `blobs` are plain properties: a test
 * stands a failing D1 or R2 in for them (see UserRelay.hostOf).
 */
export class DurableHost implements RelayHost {
	readonly sql: SqlStorage;
	db: D1Database;
	blobs: R2Bucket;
	readonly sockets: SocketPort;
	readonly #accountId: string | undefined;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		readonly schedule: (job: JobName, at: number) => Promise<void>,
	) {
		this.sql = ctx.storage.sql;
		this.db = env.DB;
		this.blobs = env.ATTACHMENTS;
		this.sockets = {
			accept: (ws, deviceId) => ctx.acceptWebSocket(ws, [deviceId]),
			of: (deviceId) => ctx.getWebSockets(deviceId),
			all: () => ctx.getWebSockets(),
		};
		this.#accountId = bindAccount(this.sql, ctx.id.name);
	}

	get accountId(): string {
		if (this.#accountId === undefined) throw new Error("durable object used before it was bound to an account");
		return this.#accountId;
	}

	config(): Config {
		return readConfig(this.env);
	}

	now(): number {
		return Date.now();
	}

	peer(accountId: string): PeerStub {
		return peerRelay(this.env, accountId);
	}

	waitUntil(work: Promise<unknown>): void {
		this.ctx.waitUntil(work);
	}
}

/**
 * The object's account is the name it is addressed by (`idFromName(accountId)`), which the
 * runtime gives as `ctx.id.name`, in RPC and after hibernation alike. It does not give it to
 * an alarm that wakes a cold instance (one started by the alarm itself after a restart), so
 * the name is also written to storage on first use and read back there. A name that
 * disagrees with the stored one is a bug, never data to trust.
 */
export function bindAccount(sql: SqlStorage, name: string | undefined): string | undefined {
	const bound = readMeta(sql, "account_id");
	if (name === undefined) return bound;
	if (bound !== undefined && bound !== name) throw new Error("durable object bound to another account");
	if (bound === undefined) writeMeta(sql, "account_id", name);
	return name;
}

/**
 * The object's one alarm. The time it is armed for is kept in memory, read from the runtime
 * (`getAlarm`) once per instance, where it survives restarts like the alarm itself. It was
 * once mirrored in `meta` as well: one row written at every arm and one deleted at every
 * alarm, on top of the row written that each `setAlarm` is billed as.
 */
export function alarmPort(ctx: DurableObjectState): AlarmPort {
	let armed: number | null = null;
	let known = false;
	let loading: Promise<void> | null = null;
	return {
		now: () => Date.now(),
		armBy: async (at) => {
			if (!known) {
				loading ??= ctx.storage.getAlarm().then(
					(stored) => {
						if (known) return;
						armed = stored;
						known = true;
					},
					(err: unknown) => {
						// A failed read is tried again by the next caller, not kept as the answer.
						loading = null;
						throw err;
					},
				);
				await loading;
			}
			// From here to the assignment nothing awaits: the comparison and the new time are one step.
			if (armed !== null && armed <= at) return;
			armed = at;
			await ctx.storage.setAlarm(at);
		},
		disarm: () => {
			armed = null;
			known = true;
		},
	};
}
