import { exports } from "cloudflare:workers";
import { toB64u } from "../../common/encoding.ts";
import { type DeviceKeys, generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { loginMessage, registrationMessage } from "../../common/protocol/signing.ts";
import { normalizeHandle, type ServerFrame } from "../../common/protocol/wire.ts";

export const BASE = "https://relay.test";

export async function api(path: string, init: { method?: string; body?: unknown; token?: string; raw?: string } = {}) {
	const headers: Record<string, string> = {};
	if (init.token) headers.authorization = `Bearer ${init.token}`;
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

export function registrationBody(handle: string, keys: DeviceKeys, deviceName = "laptop") {
	const publicKey = toB64u(keys.publicKey);
	// The signature covers the case-folded handle, which is what the account is created with.
	const signed = registrationMessage(normalizeHandle(handle), publicKey, deviceName);
	return { handle, deviceName, publicKey, signature: toB64u(signDetached(keys.seed, signed)) };
}

let counter = 0;
export async function registerUser(prefix = "user"): Promise<TestUser> {
	const handle = `${prefix}_${++counter}_${Math.floor(Math.random() * 1e6)}`.slice(0, 32);
	const keys = generateDeviceKeys();
	const reg = await api("/api/accounts", { body: registrationBody(handle, keys) });
	if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.json)}`);
	const session = await signIn(keys);
	if (session.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(session.json)}`);
	return { handle, accountId: reg.json.accountId, deviceId: reg.json.deviceId, keys, token: session.json.token };
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

export async function connect(token: string): Promise<TestSocket> {
	const response = await exports.default.fetch(
		new Request(`${BASE}/api/ws?token=${encodeURIComponent(token)}`, { headers: { upgrade: "websocket" } }),
	);
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
