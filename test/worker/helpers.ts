import { exports } from "cloudflare:workers";
import { type AccountIdentity, generateAccountIdentity } from "../../client/core/identity-key.ts";
import { toB64u } from "../../common/encoding.ts";
import { type DeviceKeys, generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { type SignedDeviceList, signDeviceList } from "../../common/protocol/device-list.ts";
import { identityProofMessage, loginMessage, registrationMessage } from "../../common/protocol/signing.ts";
import { socketProtocols } from "../../common/protocol/socket-auth.ts";
import { normalizeHandle, type ServerFrame } from "../../common/protocol/wire.ts";

export const BASE = "https://relay.test";

/**
 * A request to the worker as a client makes it. `address` is the client address Cloudflare
 * would put in CF-Connecting-IP; without it the request has none, as in a local run.
 */
export async function api(path: string, init: { method?: string; body?: unknown; token?: string; raw?: string; address?: string } = {}) {
	const headers: Record<string, string> = {};
	if (init.token) headers.authorization = `Bearer ${init.token}`;
	if (init.address !== undefined) headers["cf-connecting-ip"] = init.address;
	let body: string | undefined;
	if (init.raw !== undefined) body = init.raw;
	else if (init.body !== undefined) body = JSON.stringify(init.body);
	if (body !== undefined) headers["content-type"] = "application/json";
	const response = await exports.default.fetch(
		new Request(`${BASE}${path}`, { method: init.method ?? (body !== undefined ? "POST" : "GET"), headers, body }),
	);
	const text = await response.text();
	const json = (text ? JSON.parse(text) : null) as any;
	return { status: response.status, json };
}

export interface TestUser {
	handle: string;
	accountId: string;
	deviceId: string;
	keys: DeviceKeys;
	token: string;
	/** The account's identity key, as this device holds it (made at registration, or unwrapped after approval). */
	identity: AccountIdentity;
}

export async function signIn(keys: DeviceKeys): Promise<{ status: number; json: any }> {
	const { json: c } = await api("/api/auth/challenge", { method: "POST", body: {} });
	return api("/api/auth/session", {
		body: {
			publicKey: toB64u(keys.publicKey),
			challenge: c.challenge,
			signature: toB64u(signDetached(keys.seed, loginMessage(c.challenge))),
		},
	});
}

/** What a registering client sends: the device key signs the handle, itself, its name and the identity key; the identity key signs the handle and the device key. */
export function registrationBody(handle: string, keys: DeviceKeys, deviceName = "laptop", identity = generateAccountIdentity()) {
	const publicKey = toB64u(keys.publicKey);
	const identityKey = toB64u(identity.publicKey);
	// The signatures cover the case-folded handle, which is what the account is created with.
	const folded = normalizeHandle(handle);
	return {
		handle,
		deviceName,
		publicKey,
		signature: toB64u(signDetached(keys.seed, registrationMessage(folded, publicKey, deviceName, identityKey))),
		identityKey,
		identitySignature: toB64u(signDetached(identity.seed, identityProofMessage(folded, identityKey, publicKey))),
	};
}

/** The account's first signed device list: version 1, its one device. */
export function firstDeviceList(user: Pick<TestUser, "accountId" | "deviceId" | "keys" | "identity">): SignedDeviceList {
	return signDeviceList(
		{
			accountId: user.accountId,
			version: 1,
			lastRemoval: 0,
			identityKey: toB64u(user.identity.publicKey),
			devices: [{ deviceId: user.deviceId, publicKey: toB64u(user.keys.publicKey) }],
		},
		user.identity.seed,
	);
}

let counter = 0;
/** A registered, signed-in account whose first device published list version 1, as a client does right after registering (`publish: false` stops before that). */
export async function registerUser(prefix = "user", opts: { publish?: boolean } = {}): Promise<TestUser> {
	const handle = `${prefix}_${++counter}_${Math.floor(Math.random() * 1e6)}`.slice(0, 32);
	const keys = generateDeviceKeys();
	const identity = generateAccountIdentity();
	const reg = await api("/api/accounts", { body: registrationBody(handle, keys, "laptop", identity) });
	if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.json)}`);
	const session = await signIn(keys);
	if (session.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(session.json)}`);
	const user: TestUser = {
		handle: reg.json.handle,
		accountId: reg.json.accountId,
		deviceId: reg.json.deviceId,
		keys,
		token: session.json.token,
		identity,
	};
	if (opts.publish !== false) {
		const published = await api("/api/devices/list", { token: user.token, body: { deviceList: firstDeviceList(user) } });
		if (published.status !== 200) throw new Error(`publishing the first list failed: ${JSON.stringify(published.json)}`);
	}
	return user;
}

/** A socket with a buffer of received frames and a way to wait for the next matching one. */
export interface TestSocket {
	ws: WebSocket;
	frames: ServerFrame[];
	next<T extends ServerFrame["type"]>(
		type: T,
		match?: (f: Extract<ServerFrame, { type: T }>) => boolean,
	): Promise<Extract<ServerFrame, { type: T }>>;
	send(frame: unknown): void;
	closed: Promise<{ code: number; reason: string }>;
}

/** The upgrade's headers as a browser sends them: the token offered as a subprotocol beside ours. */
export function socketHeaders(token: string): Record<string, string> {
	return { upgrade: "websocket", "sec-websocket-protocol": socketProtocols(token).join(", ") };
}

/** `promptAcks`: connect as the SDK does, saying this socket acks each message at once (messages may be held for it). */
export async function connect(token: string, opts: { promptAcks?: boolean } = {}): Promise<TestSocket> {
	const url = `${BASE}/api/ws${opts.promptAcks ? "?acks=prompt" : ""}`;
	const response = await exports.default.fetch(new Request(url, { headers: socketHeaders(token) }));
	const ws = response.webSocket;
	if (!ws) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
	ws.accept();
	const frames: ServerFrame[] = [];
	const waiters: Array<() => void> = [];
	ws.addEventListener("message", (e) => {
		frames.push(JSON.parse(e.data as string));
		for (const w of waiters.splice(0)) w();
	});
	const closed = new Promise<{ code: number; reason: string }>((resolve) =>
		ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
	);
	// Frames not yet taken by a `next` call. Waiters take the first match and leave the rest,
	// so several may wait at once (e.g. for `sent` or `error`).
	const unclaimed: ServerFrame[] = [];
	ws.addEventListener("message", (e) => {
		unclaimed.push(JSON.parse(e.data as string));
	});
	const socket: TestSocket = {
		ws,
		frames,
		closed,
		send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
		async next(type, match) {
			// performance.now, not Date.now: tests fake the date.
			const deadline = performance.now() + 5000;
			for (;;) {
				const index = unclaimed.findIndex((f) => f.type === type && (!match || match(f as never)));
				if (index >= 0) return unclaimed.splice(index, 1)[0] as never;
				if (performance.now() > deadline) throw new Error(`no ${type} frame; got ${JSON.stringify(frames.map((f) => f.type))}`);
				await new Promise<void>((resolve) => {
					waiters.push(resolve);
					setTimeout(resolve, 50);
				});
			}
		},
	};
	return socket;
}
