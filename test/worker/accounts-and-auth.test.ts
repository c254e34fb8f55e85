import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { loginMessage } from "../../common/protocol/signing.ts";
import { SOCKET_PROTOCOL } from "../../common/protocol/socket-auth.ts";
import { api, BASE, registerUser, registrationBody, signIn, socketHeaders } from "./helpers.ts";

afterEach(() => {
	vi.useRealTimers();
});

/** The time a real, correctly signed session token stops being accepted. */
const tokenExpiry = (token: string): number => Number(token.split(".")[3]);

async function openSocket(token: string, headers = socketHeaders(token), path = "/api/ws"): Promise<{ status: number; json: any }> {
	const response = await exports.default.fetch(new Request(`${BASE}${path}`, { headers }));
	if (response.status === 101) {
		expect(response.headers.get("sec-websocket-protocol")).toBe(SOCKET_PROTOCOL);
		response.webSocket?.accept();
		response.webSocket?.close(1000, "done");
		return { status: 101, json: null };
	}
	return { status: response.status, json: await response.json() };
}

describe("registration", () => {
	it("creates an account with its first approved device and the starting credits, with a ledger row", async () => {
		const keys = generateDeviceKeys();
		const { status, json } = await api("/api/accounts", { body: registrationBody("Alice_Case", keys) });
		expect(status).toBe(201);
		expect(json.handle).toBe("alice_case");
		const account = await env.DB.prepare("SELECT * FROM accounts WHERE id = ?").bind(json.accountId).first<any>();
		const starting = Number(env.STARTING_CREDITS);
		expect(account).toMatchObject({ handle: "alice_case", trust: "untrusted", credits: starting });
		const device = await env.DB.prepare("SELECT * FROM devices WHERE id = ?").bind(json.deviceId).first<any>();
		expect(device).toMatchObject({ status: "approved", public_key: toB64u(keys.publicKey) });
		const ledger = await env.DB.prepare("SELECT delta, balance_after, reason FROM credit_ledger WHERE account_id = ?")
			.bind(json.accountId)
			.all();
		expect(ledger.results).toEqual([{ delta: starting, balance_after: starting, reason: "starting_balance" }]);
	});

	it("refuses a taken handle, case-insensitively, and creates nothing", async () => {
		await api("/api/accounts", { body: registrationBody("bob_taken", generateDeviceKeys()) });
		const { status, json } = await api("/api/accounts", { body: registrationBody("BOB_TAKEN", generateDeviceKeys()) });
		expect(status).toBe(409);
		expect(json.error.code).toBe("handle_taken");
		const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM accounts WHERE handle = 'bob_taken'").first<{ n: number }>();
		expect(count?.n).toBe(1);
	});

	it("keeps the identity key it was registered with in D1", async () => {
		const keys = generateDeviceKeys();
		const identity = generateAccountIdentity();
		const { json } = await api("/api/accounts", { body: registrationBody("ivy_identity", keys, "laptop", identity) });
		const account = await env.DB.prepare("SELECT identity_key FROM accounts WHERE id = ?").bind(json.accountId).first<any>();
		expect(account.identity_key).toBe(toB64u(identity.publicKey));
	});

	it("refuses an identity signature made by another key, or over another device key, and creates nothing", async () => {
		const keys = generateDeviceKeys();
		const body = registrationBody("ivan_proof", keys);
		const other = generateAccountIdentity();
		const byOther = { ...body, identitySignature: registrationBody("ivan_proof", keys, "laptop", other).identitySignature };
		const forOtherDevice = { ...body, identitySignature: registrationBody("ivan_proof", generateDeviceKeys()).identitySignature };
		for (const bad of [byOther, forOtherDevice]) {
			const { status, json } = await api("/api/accounts", { body: bad });
			expect([status, json.error.code]).toEqual([401, "unauthorized"]);
		}
		// The device's signature covers the identity key too: another identity key under it is refused.
		const swapped = { ...registrationBody("ivan_proof", keys, "laptop", other), signature: body.signature };
		expect((await api("/api/accounts", { body: swapped })).json.error.code).toBe("unauthorized");
		expect(await env.DB.prepare("SELECT id FROM accounts WHERE handle = 'ivan_proof'").first()).toBeNull();
	});

	it("refuses an identity key that is the device key or of small order, with bad_request", async () => {
		const keys = generateDeviceKeys();
		const same = registrationBody("jo_samekey", keys, "laptop", keys);
		expect((await api("/api/accounts", { body: same })).json.error.code).toBe("bad_request");
		const smallOrder = { ...registrationBody("jo_small", keys), identityKey: toB64u(new Uint8Array(32).map((_, i) => (i === 0 ? 1 : 0))) };
		const low = await api("/api/accounts", { body: smallOrder });
		expect([low.status, low.json.error.code]).toEqual([400, "bad_request"]);
	});

	it("refuses a signature made by another key", async () => {
		const body = registrationBody("carol_sig", generateDeviceKeys());
		body.publicKey = toB64u(generateDeviceKeys().publicKey);
		const { status, json } = await api("/api/accounts", { body });
		expect(status).toBe(401);
		expect(json.error.code).toBe("unauthorized");
		expect(await env.DB.prepare("SELECT id FROM accounts WHERE handle = 'carol_sig'").first()).toBeNull();
	});

	it.each([
		["a handle that is too short", { handle: "ab" }],
		["a handle with look-alike unicode", { handle: "аlice" }],
		["a handle with spaces", { handle: "al ice" }],
		["a public key of the wrong size", { publicKey: "AAAA" }],
		["no identity key", { identityKey: undefined }],
		["an identity signature of the wrong size", { identitySignature: "AAAA" }],
		["a number where a string belongs", { deviceName: 42 }],
		["a device name with a right-to-left override", { deviceName: "Alice\u2019s \u202Eenohpi" }],
		["a device name with a bidirectional isolate", { deviceName: "\u2067laptop\u2069" }],
		["a device name with a left-to-right mark", { deviceName: "phone\u200E" }],
		["an unknown field", { admin: true }],
	])("refuses %s with a typed bad_request", async (_, patch) => {
		const body = { ...registrationBody("dave_valid", generateDeviceKeys()), ...patch };
		const { status, json } = await api("/api/accounts", { body });
		expect(status).toBe(400);
		expect(json.error.code).toBe("bad_request");
		expect(typeof json.error.message).toBe("string");
	});

	it("refuses malformed JSON and a small-order public key", async () => {
		const bad = await api("/api/accounts", { raw: "{not json" });
		expect(bad.status).toBe(400);
		expect(bad.json.error.code).toBe("bad_request");
		const body = registrationBody("erin_low", generateDeviceKeys());
		body.publicKey = toB64u(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)));
		const low = await api("/api/accounts", { body });
		expect(low.status).toBe(400);
	});
});

describe("signing in", () => {
	it("issues a session token for a signed challenge", async () => {
		const user = await registerUser("frank");
		expect(user.token).toMatch(/^v1\./);
		const { status } = await api("/api/contacts", { token: user.token });
		expect(status).toBe(200);
	});

	it("refuses a replayed challenge signature", async () => {
		const keys = generateDeviceKeys();
		await api("/api/accounts", { body: registrationBody("gina_replay", keys) });
		const { json: c } = await api("/api/auth/challenge", { method: "POST" });
		const body = {
			publicKey: toB64u(keys.publicKey),
			challenge: c.challenge,
			signature: toB64u(signDetached(keys.seed, loginMessage(c.challenge))),
		};
		expect((await api("/api/auth/session", { body })).status).toBe(200);
		const replay = await api("/api/auth/session", { body });
		expect(replay.status).toBe(401);
		expect(replay.json.error.message).toMatch(/already used/);
	});

	it("refuses a signature by another key, a forged challenge and an unknown key alike", async () => {
		const user = await registerUser("hank");
		const { json: c } = await api("/api/auth/challenge", { method: "POST" });
		const other = generateDeviceKeys();
		const wrongKey = await api("/api/auth/session", {
			body: {
				publicKey: toB64u(user.keys.publicKey),
				challenge: c.challenge,
				signature: toB64u(signDetached(other.seed, loginMessage(c.challenge))),
			},
		});
		expect(wrongKey.status).toBe(401);
		const forged = `${c.challenge.split(".")[0]}.${Date.now() + 1e9}.${c.challenge.split(".")[2]}`;
		const forgedRes = await api("/api/auth/session", {
			body: {
				publicKey: toB64u(user.keys.publicKey),
				challenge: forged,
				signature: toB64u(signDetached(user.keys.seed, loginMessage(forged))),
			},
		});
		expect(forgedRes.status).toBe(401);
		const unknown = await signIn(other);
		expect(unknown.status).toBe(401);
		expect(unknown.json.error.code).toBe("unauthorized");
	});

	it("refuses forged tokens and tokens whose expiry was moved either way", async () => {
		const user = await registerUser("ivan");
		const [v, a, d, exp, mac] = user.token.split(".");
		const extended = [v, a, d, String(Number(exp) + 1000), mac].join(".");
		const backdated = [v, a, d, "1000", mac].join(".");
		for (const token of [extended, backdated, "garbage", `${user.token}x`]) {
			const { status, json } = await api("/api/contacts", { token });
			expect(status).toBe(401);
			expect(json.error.code).toBe("unauthorized");
		}
		expect((await api("/api/contacts")).status).toBe(401);
	});

	it("takes the socket's token only beside our subprotocol, never from the URL, and answers with our subprotocol", async () => {
		const user = await registerUser("uma");
		expect((await openSocket(user.token)).status).toBe(101);
		const refused = [
			openSocket(user.token, { upgrade: "websocket" }, `/api/ws?token=${encodeURIComponent(user.token)}`),
			openSocket(user.token, { upgrade: "websocket", "sec-websocket-protocol": `bearer.${user.token}` }),
			openSocket(user.token, { upgrade: "websocket", "sec-websocket-protocol": SOCKET_PROTOCOL }),
			openSocket(user.token, { upgrade: "websocket", authorization: "Bearer nonsense" }),
		];
		for (const socket of await Promise.all(refused)) expect([socket.status, socket.json.error.code]).toEqual([401, "unauthorized"]);
	});

	it("refuses a correctly signed session token from the moment it expires, on HTTP routes and on /api/ws", async () => {
		const user = await registerUser("ivy");
		const expiresAt = tokenExpiry(user.token);
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(expiresAt - 1);
		expect((await api("/api/contacts", { token: user.token })).status).toBe(200);
		expect((await openSocket(user.token)).status).toBe(101);

		vi.setSystemTime(expiresAt);
		const http = await api("/api/contacts", { token: user.token });
		expect(http.status).toBe(401);
		expect(http.json.error.code).toBe("unauthorized");
		const socket = await openSocket(user.token);
		expect(socket.status).toBe(401);
		expect(socket.json.error.code).toBe("unauthorized");
	});

	it("refuses a correctly signed challenge from the moment it expires, and a fresh one still signs in", async () => {
		const keys = generateDeviceKeys();
		await api("/api/accounts", { body: registrationBody("jill_late", keys) });
		const signedBody = (challenge: string) => ({
			publicKey: toB64u(keys.publicKey),
			challenge,
			signature: toB64u(signDetached(keys.seed, loginMessage(challenge))),
		});
		vi.useFakeTimers({ toFake: ["Date"] });
		const late = (await api("/api/auth/challenge", { method: "POST" })).json;
		vi.setSystemTime(late.expiresAt);
		const refused = await api("/api/auth/session", { body: signedBody(late.challenge) });
		expect(refused.status).toBe(401);
		expect(refused.json.error).toMatchObject({ code: "unauthorized", message: expect.stringMatching(/expired/) });

		const fresh = (await api("/api/auth/challenge", { method: "POST" })).json;
		vi.setSystemTime(fresh.expiresAt - 1);
		expect((await api("/api/auth/session", { body: signedBody(fresh.challenge) })).status).toBe(200);
	});

	it("answers unknown API routes with a typed not_found", async () => {
		const { status, json } = await api("/api/nope");
		expect(status).toBe(404);
		expect(json.error.code).toBe("not_found");
	});
});
