import { afterAll, afterEach, beforeAll } from "vitest";
import WebSocket from "ws";
import type { BackoffOptions } from "../../client/core/backoff.ts";
import type { KeyStore } from "../../client/core/key-store.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { type AccountInfo, type IncomingMessage, MessengerClient } from "../../client/core/sdk.ts";
import type { WebSocketConstructor } from "../../client/core/web-socket-like.ts";
import type { TrustLevel } from "../../common/protocol/wire.ts";
import { type DevServer, type DevServerOptions, startDevServer } from "./dev-server.ts";

let counter = 0;
/** Unique per test run, so several runs can share nothing by accident. */
export const uniqueHandle = (prefix: string): string => `${prefix}_${Date.now().toString(36)}_${++counter}`.slice(0, 32);

/** Builds SDK clients against one relay and closes them all at the end of each test. */
export class ClientFactory {
	private readonly open: MessengerClient[] = [];

	constructor(private readonly baseUrl: () => string) {}

	client(
		store: KeyStore = new MemoryKeyStore(),
		opts: {
			WebSocket?: WebSocketConstructor;
			fetch?: typeof fetch;
			persist?: (m: IncomingMessage) => Promise<void>;
			reconnect?: BackoffOptions;
		} = {},
	): MessengerClient {
		const client = new MessengerClient({
			baseUrl: this.baseUrl(),
			store,
			WebSocket: opts.WebSocket ?? WebSocket,
			...(opts.fetch && { fetch: opts.fetch }),
			...(opts.persist && { persist: opts.persist }),
			// Short, so reconnects after a server restart are quick; the backoff shape is the same.
			reconnect: opts.reconnect ?? { minDelayMs: 100, maxDelayMs: 2000 },
		});
		this.open.push(client);
		return client;
	}

	closeAll(): void {
		for (const client of this.open.splice(0)) client.close();
	}
}

export interface Member {
	client: MessengerClient;
	store: KeyStore;
	account: AccountInfo;
}

export async function registerMember(
	factory: ClientFactory,
	prefix: string,
	WebSocketImpl?: WebSocketConstructor,
	fetchImpl?: typeof fetch,
): Promise<Member> {
	const store = new MemoryKeyStore();
	const client = factory.client(store, { ...(WebSocketImpl && { WebSocket: WebSocketImpl }), ...(fetchImpl && { fetch: fetchImpl }) });
	const account = await client.register(uniqueHandle(prefix), `${prefix}'s laptop`);
	return { client, store, account };
}

/**
 * A new device of `member`'s account, linked as a person does it: the member's device shows
 * a link code, the new device claims it, the member approves the request that arrives, and
 * the new device finishes linking. The member must be connected (the request arrives as a frame).
 * With `history`, the approval offers the member's history (send it with sendHistory).
 */
export async function linkDevice(
	factory: ClientFactory,
	member: Member,
	name: string,
	opts: { WebSocket?: WebSocketConstructor; fetch?: typeof fetch; history?: boolean } = {},
): Promise<Member & { historyTransferId?: string }> {
	const store = new MemoryKeyStore();
	const client = factory.client(store, { ...(opts.WebSocket && { WebSocket: opts.WebSocket }), ...(opts.fetch && { fetch: opts.fetch }) });
	const { code } = await member.client.createLinkCode();
	const requested = member.client.waitFor("link_request", (r) => r.device.name === name);
	const account = await client.linkWithCode(code, name);
	await requested;
	await client.connect();
	const approved = client.waitFor("device", (d) => d.event === "approved" && d.device.deviceId === account.deviceId);
	const { historyTransferId } = await member.client.approveDevice(account.deviceId, { history: opts.history ?? false });
	await approved;
	if (!(await client.finishLinking())) throw new Error("the linked device is still pending after its approval");
	return { client, store, account, ...(historyTransferId && { historyTransferId }) };
}

/** Two connected members who became contacts through the SDK: request, real-time notice, accept. */
export async function contactPair(factory: ClientFactory, opts: { aliceSocket?: WebSocketConstructor; aliceFetch?: typeof fetch } = {}) {
	const alice = await registerMember(factory, "alice", opts.aliceSocket, opts.aliceFetch);
	const bob = await registerMember(factory, "bob");
	await Promise.all([alice.client.connect(), bob.client.connect()]);
	const requested = bob.client.waitFor("contact", (c) => c.event === "requested" && c.contact.accountId === alice.account.accountId);
	await alice.client.requestContact(bob.account.handle);
	await requested;
	const accepted = alice.client.waitFor("contact", (c) => c.event === "accepted" && c.contact.accountId === bob.account.accountId);
	await bob.client.acceptContact(alice.account.accountId);
	await accepted;
	return { alice, bob };
}

/** Every `message` event until the backlog is drained (`synced`). */
export function collectUntilSynced(client: MessengerClient, timeoutMs = 20_000): Promise<IncomingMessage[]> {
	const messages: IncomingMessage[] = [];
	const off = client.on("message", (m) => messages.push(m));
	return client
		.waitFor("synced", () => true, timeoutMs)
		.then(() => messages)
		.finally(off);
}

/** The next `count` messages. */
export function collect(client: MessengerClient, count: number, timeoutMs = 20_000): Promise<IncomingMessage[]> {
	const messages: IncomingMessage[] = [];
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			off();
			reject(new Error(`got ${messages.length} of ${count} messages within ${timeoutMs} ms`));
		}, timeoutMs);
		const off = client.on("message", (m) => {
			messages.push(m);
			if (messages.length < count) return;
			clearTimeout(timer);
			off();
			resolve(messages);
		});
	});
}

/**
 * For a test file: the real relay (`wrangler dev`), started before its tests and disposed
 * after them, and a factory of SDK clients against it, closed after each test (or, with
 * `closeClients: "at-end"`, once at the end, for files whose tests build on each other).
 */
export function relayForFile(
	opts: DevServerOptions,
	closeClients: "after-each" | "at-end" = "after-each",
): { readonly server: DevServer; factory: ClientFactory } {
	let server: DevServer | undefined;
	const relay: { readonly server: DevServer; factory: ClientFactory } = {
		get server(): DevServer {
			if (!server) throw new Error("The relay starts in beforeAll: use it inside a test.");
			return server;
		},
		factory: new ClientFactory(() => relay.server.baseUrl),
	};
	beforeAll(async () => {
		server = await startDevServer(opts);
	});
	if (closeClients === "after-each") afterEach(() => relay.factory.closeAll());
	afterAll(async () => {
		relay.factory.closeAll();
		await server?.dispose();
	});
	return relay;
}

/** An admin sets an account's trust through the admin API of a relay started with `adminToken`. */
export async function setTrustAsAdmin(baseUrl: string, adminToken: string, accountId: string, trust: TrustLevel): Promise<void> {
	const response = await fetch(`${baseUrl}/api/admin/accounts/${accountId}/trust`, {
		method: "POST",
		headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
		body: JSON.stringify({ trust }),
	});
	if (response.status !== 200) throw new Error(`Setting trust answered ${response.status}: ${await response.text()}`);
}
