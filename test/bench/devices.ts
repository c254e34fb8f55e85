/**
 * The two kinds of benchmark device. A relay device is the real SDK (`MessengerClient`:
 * login, WebSocket, sealing, opening, de-duplication, acks) on a timed socket; a floor device
 * is a bare `ws` socket to the floor relay sending frames of the same size.
 */
import WebSocket from "ws";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { MessengerClient } from "../../client/core/sdk.ts";
import { sealText } from "../../client/core/text-frame.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { now, type Recorder } from "./recorder.ts";
import { timedWebSocket } from "./timed-web-socket.ts";

export interface Device {
	readonly id: string;
	readonly peerId: string;
	/** Sends started and not yet confirmed by the relay (always 0 on the floor, which confirms nothing). */
	readonly unconfirmed: number;
	/** Called on the first arrival of each message at this device. */
	onArrival: (() => void) | null;
	connect(): Promise<void>;
	/** Send one message to the peer; failures are counted, not thrown. */
	send(): void;
	close(): void;
}

export interface DeviceCounters {
	/** Messages the SDK decrypted and handed to the app. */
	opened: number;
	/** Sends the relay refused or the SDK failed. */
	failed: number;
	/** Messages the SDK could not open. */
	undecryptable: number;
	/** Other SDK errors (malformed frames, refused envelopes…). */
	errors: string[];
}

export const newCounters = (): DeviceCounters => ({ opened: 0, failed: 0, undecryptable: 0, errors: [] });

const MAX_ERRORS_KEPT = 20;
const note = (counters: DeviceCounters, what: string) => {
	if (counters.errors.length < MAX_ERRORS_KEPT) counters.errors.push(what);
};

/** Text of `bytes` printable characters, different per call. */
export function messageText(bytes: number): string {
	return toB64u(randomBytes(Math.ceil((bytes * 3) / 4))).slice(0, bytes);
}

// ------------------------------------------------------------------------------- relay (SDK)

const HTTP_TIMEOUT_MS = 60_000;

/**
 * Two new accounts that became contacts through the SDK: register both, request, accept (the
 * accepting side makes and wraps the contact key), and the requester fetches its key. The
 * clients stay signed in, so connecting later costs only the WebSocket upgrade.
 */
export async function registerPair(
	baseUrl: string,
	prefix: string,
	recorder: Recorder,
	counters: DeviceCounters,
	textBytes: number,
): Promise<[RelayDevice, RelayDevice]> {
	const a = new RelayDevice(baseUrl, recorder, counters, textBytes);
	const b = new RelayDevice(baseUrl, recorder, counters, textBytes);
	try {
		const [ia, ib] = await Promise.all([a.client.register(`${prefix}a`, "bench a"), b.client.register(`${prefix}b`, "bench b")]);
		await a.client.requestContact(ib.handle);
		await b.client.acceptContact(ia.accountId);
		await a.client.loadContactKeys(ib.accountId);
		a.pairWith(ia.accountId, ib.accountId);
		b.pairWith(ib.accountId, ia.accountId);
		return [a, b];
	} catch (err) {
		a.close();
		b.close();
		throw err;
	}
}

export class RelayDevice implements Device {
	onArrival: (() => void) | null = null;
	unconfirmed = 0;
	readonly client: MessengerClient;
	private readonly text: string;
	private ids: { id: string; peerId: string } | null = null;

	constructor(
		baseUrl: string,
		recorder: Recorder,
		private readonly counters: DeviceCounters,
		textBytes: number,
	) {
		this.text = messageText(textBytes);
		this.client = new MessengerClient({
			baseUrl,
			store: new MemoryKeyStore(),
			WebSocket: timedWebSocket(recorder, () => this.onArrival?.()),
			// A relay that stops answering fails the call instead of hanging the run.
			fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) }),
			// The SDK's own reconnect backoff: a stalled relay must not be met by a storm of re-logins.
		});
		this.client.on("message", () => {
			this.counters.opened++;
		});
		this.client.on("undecryptable", (m) => {
			this.counters.undecryptable++;
			note(this.counters, `undecryptable: ${m.reason}`);
		});
		this.client.on("error", (err) => note(this.counters, `${err.code}: ${err.message}`));
	}

	pairWith(id: string, peerId: string): void {
		this.ids = { id, peerId };
	}

	get id(): string {
		return this.ids?.id ?? "";
	}

	get peerId(): string {
		return this.ids?.peerId ?? "";
	}

	/** Resolves once the socket is ready and the (empty) backlog is synced, so new messages are pushed live. */
	async connect(): Promise<void> {
		const synced = this.client.waitFor("synced", () => true, 60_000);
		await this.client.connect();
		await synced;
	}

	send(): void {
		this.sendText().catch(() => {});
	}

	/** Resolves with the relay's `sent`; failures are counted and rethrown. */
	async sendText(): Promise<void> {
		// Sealing is asynchronous, so a send started now may reach the wire a little later.
		this.unconfirmed++;
		try {
			await this.client.sendText(this.peerId, this.text);
		} catch (err) {
			this.counters.failed++;
			note(this.counters, `send failed: ${err instanceof Error ? err.message : String(err)}`);
			throw err;
		} finally {
			this.unconfirmed--;
		}
	}

	/** Ask the account's Durable Object something over HTTP (wakes it without messaging anyone). */
	async touch(): Promise<void> {
		await this.client.accountStatus();
	}

	/** Reading the ledger makes the account's object write its waiting charges first. */
	async flushCredits(): Promise<void> {
		await this.client.creditHistory();
	}

	/** For good: a MessengerClient does not reopen after close(). */
	close(): void {
		this.client.close();
	}
}

/** Length of the `send` frame the SDK writes for a text of `textBytes`, so the floor can send as many bytes. */
export function relayFrameLength(textBytes: number): number {
	const id = toB64u(randomBytes(16));
	const me = { seed: randomBytes(32), publicKey: randomBytes(32), accountId: id, deviceId: id, handle: "bench" };
	const { frame } = sealText(me, id, { version: 1, key: randomBytes(32) }, messageText(textBytes));
	return JSON.stringify(frame).length;
}

// ------------------------------------------------------------------------------- floor

const FLOOR_PREFIX_CHARS = '{"to":"'.length + 22 + '","payload":{"id":"'.length;
const FLOOR_HEAD = FLOOR_PREFIX_CHARS + 22;

/** The id of a floor frame (`{"to":…,"payload":{"id":…,…}}`), from its head. */
export function floorFrameId(head: string): string | null {
	return head.length >= FLOOR_HEAD ? head.slice(FLOOR_PREFIX_CHARS, FLOOR_HEAD) : null;
}

export class FloorDevice implements Device {
	onArrival: (() => void) | null = null;
	readonly unconfirmed = 0;
	private socket: WebSocket | null = null;
	private readonly filler: string;

	constructor(
		private readonly floorUrl: string,
		readonly id: string,
		readonly peerId: string,
		private readonly recorder: Recorder,
		frameLength: number,
		/** Ack each message on arrival, for the minimal per-user relay; the floor and the chat take none. */
		private readonly acks = false,
	) {
		const shell = `{"to":"${peerId}","payload":{"id":"${"x".repeat(22)}","box":""}}`.length;
		this.filler = messageText(Math.max(0, frameLength - shell));
	}

	connect(): Promise<void> {
		return new Promise((resolve, reject) => {
			const socket = new WebSocket(`${this.floorUrl}/?id=${this.id}`, { perMessageDeflate: false });
			this.socket = socket;
			socket.on("message", (data, isBinary) => {
				if (isBinary) return;
				const at = now();
				const head = Buffer.isBuffer(data) ? data.toString("latin1", 0, FLOOR_HEAD) : String(data);
				const id = floorFrameId(head);
				if (id === null) return;
				if (this.acks) socket.send(`{"ack":"${id}"}`);
				if (this.recorder.arrived(id, at)) this.onArrival?.();
			});
			socket.once("open", () => resolve());
			socket.once("error", reject);
		});
	}

	send(): void {
		const socket = this.socket;
		if (!socket) return;
		const id = toB64u(randomBytes(16));
		const frame = `{"to":"${this.peerId}","payload":{"id":"${id}","box":"${this.filler}"}}`;
		this.recorder.sent(id);
		socket.send(frame);
	}

	close(): void {
		this.socket?.close();
		this.socket = null;
	}
}
