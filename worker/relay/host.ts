import type { Config } from "../config.ts";
import type { PeerStub } from "./surfaces.ts";

/** The timed jobs of an account's object; see deadline-scheduler.ts and services.ts. */
export type JobName =
	| "credit-flush"
	| "housekeeping"
	| "upload-lapse"
	| "grant-expiry"
	| "blob-retry"
	| "call-expiry"
	| "queue-expiry"
	| "history-expiry";

/** Open sockets of this object, tagged by device id. */
export interface SocketPort {
	accept(ws: WebSocket, deviceId: string): void;
	of(deviceId: string): WebSocket[];
	/** Every open socket of this object. */
	all(): WebSocket[];
}

/**
 * What every service of an account's object needs from the Durable Object it runs in. The
 * services hold no runtime object of their own, so a test can stand a failing D1 or R2, a
 * moving clock or a recording peer in here without touching the object's internals.
 */
export interface RelayHost {
	readonly sql: SqlStorage;
	/** The account this object belongs to: the name it is addressed by. */
	readonly accountId: string;
	config(): Config;
	db: D1Database;
	blobs: R2Bucket;
	now(): number;
	/** The object of another account, through the methods a peer may call. */
	peer(accountId: string): PeerStub;
	readonly sockets: SocketPort;
	schedule(job: JobName, at: number): Promise<void>;
	/** Work that may finish after the reply (receipts), kept alive by the runtime. */
	waitUntil(work: Promise<unknown>): void;
}
