import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CALL_SIGNAL_KINDS, clientFrame, parseJson } from "../../common/protocol/wire.ts";
import { contactPair, newMessageId, sealedAck, sealedSend } from "./fixtures.ts";
import { api, connect } from "./helpers.ts";

const RUNS = 60;

/** Hostile JSON-ish text: random values, deep nesting, huge strings, broken syntax, odd unicode. */
const hostileText = fc.oneof(
	fc.json(),
	fc.anything().map((v) => {
		try {
			return JSON.stringify(v) ?? "null";
		} catch {
			return "{}";
		}
	}),
	fc.string({ unit: "grapheme", maxLength: 200 }),
	fc.integer({ min: 1, max: 50_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
	fc.integer({ min: 1, max: 20_000 }).map((n) => `{"a":${'{"a":'.repeat(n)}1${"}".repeat(n + 1)}`),
	fc.constantFrom("", "{", "[1,", "nul", '{"type":', '"\\ud800"', "\u0000", "\ufeff{}"),
);

/** Bodies shaped like real ones with one field broken: wrong types, oversized base64, confusable handles. */
const nearMiss = fc.record({
	handle: fc.oneof(
		fc.constantFrom("аlice", "ALİCE", "al\u200bice", "ａｌｉｃｅ", "a".repeat(33), "ab", "alice\n"),
		fc.string(),
		fc.integer(),
	),
	deviceName: fc.oneof(fc.string({ maxLength: 100 }), fc.constant("\u0000bad"), fc.integer()),
	publicKey: fc.oneof(fc.string(), fc.constant("A".repeat(43)), fc.constant("A".repeat(100_000)), fc.constant("+/+/")),
	signature: fc.oneof(fc.string(), fc.constant("B".repeat(86)), fc.constant(null)),
	extra: fc.option(fc.anything(), { nil: undefined }),
});

function expectTypedRefusal(status: number, json: any, where: string) {
	expect([where, status >= 400 && status < 500]).toEqual([where, true]);
	expect([where, typeof json?.error?.code, typeof json?.error?.message]).toEqual([where, "string", "string"]);
}

describe("hostile HTTP bodies", () => {
	it("get a typed 4xx on every body route, never a 500, and create nothing", async () => {
		const { alice, bob } = await contactPair();
		const accountsBefore = (await env.DB.prepare("SELECT COUNT(*) AS n FROM accounts").first<{ n: number }>())?.n;
		const routes: Array<{ path: string; token?: string }> = [
			{ path: "/api/accounts" },
			{ path: "/api/auth/session" },
			{ path: "/api/devices/link" },
			{ path: "/api/devices/list", token: alice.token },
			{ path: "/api/devices/links", token: alice.token },
			{ path: `/api/devices/${newMessageId()}/revoke`, token: alice.token },
			{ path: "/api/contacts", token: alice.token },
			{ path: `/api/contacts/${bob.accountId}/accept`, token: alice.token },
			{ path: `/api/contacts/${bob.accountId}/report`, token: alice.token },
			{ path: `/api/contacts/${bob.accountId}/rotate`, token: alice.token },
			{ path: `/api/contacts/${bob.accountId}/calls`, token: alice.token },
			{ path: `/api/devices/${newMessageId()}/approve`, token: alice.token },
			{ path: `/api/devices/history/${newMessageId()}/end`, token: alice.token },
			{ path: "/api/attachments", token: alice.token },
			{ path: `/api/admin/accounts/${alice.accountId}/credits`, token: env.ADMIN_TOKEN },
			{ path: `/api/admin/accounts/${alice.accountId}/trust`, token: env.ADMIN_TOKEN },
			{ path: `/api/admin/accounts/${alice.accountId}/review`, token: env.ADMIN_TOKEN },
		];
		let tried = 0;
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom(...routes),
				fc.oneof(
					hostileText,
					nearMiss.map((b) => JSON.stringify(b)),
				),
				async (route, raw) => {
					tried++;
					const { status, json } = await api(route.path, { raw, ...(route.token && { token: route.token }) });
					expectTypedRefusal(status, json, route.path);
				},
			),
			{ numRuns: RUNS * 4 },
		);
		console.log(`fuzz: ${tried} hostile bodies over ${routes.length} routes, all refused with a typed 4xx`);
		expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM accounts").first<{ n: number }>())?.n).toBe(accountsBefore);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(Number(env.STARTING_CREDITS));
		const devices = await api("/api/devices", { token: alice.token });
		expect([devices.json.devices.length, devices.json.deviceList.version]).toEqual([1, 1]);
	});

	// 120 requests with bodies up to 100 KB through the worker take 4–5 s on two shared cores,
	// at the edge of the default 5 s: a longer limit, so the test fails on a wrong answer, not a busy machine.
	it(
		"on /api/auth/challenge issue a challenge only for an empty body or {}, and refuse everything else with a typed 4xx",
		{ timeout: 30_000 },
		async () => {
			// What the route takes: nothing (blank, after a byte-order mark) or an object with no fields.
			const isEmptyRequest = (raw: string): boolean => {
				const text = raw.replace(/^\ufeff/, "");
				if (text.trim() === "") return true;
				try {
					const value: unknown = JSON.parse(text);
					return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
				} catch {
					return false;
				}
			};
			let issued = 0;
			let refused = 0;
			await fc.assert(
				fc.asyncProperty(
					fc.oneof(
						hostileText,
						nearMiss.map((b) => JSON.stringify(b)),
						fc.constantFrom("", "  ", "{}", " {} "),
					),
					async (raw) => {
						const { status, json } = await api("/api/auth/challenge", { raw });
						if (isEmptyRequest(raw)) {
							issued++;
							expect([raw, status, typeof json.challenge]).toEqual([raw, 200, "string"]);
						} else {
							refused++;
							expectTypedRefusal(status, json, `/api/auth/challenge ${JSON.stringify(raw.slice(0, 40))}`);
						}
					},
				),
				{ numRuns: RUNS * 2 },
			);
			expect(issued).toBeGreaterThan(0);
			expect(refused).toBeGreaterThan(0);
		},
	);

	it("refuse a body over 64 KiB before reading it", async () => {
		const { status, json } = await api("/api/accounts", { raw: JSON.stringify({ handle: "x".repeat(70_000) }) });
		expect(status).toBe(413);
		expect(json.error.code).toBe("too_large");
	});
});

describe("hostile WebSocket frames", () => {
	it("each get a typed error frame (or nothing, for a valid ack/typing), with no charge, no delivery and the socket still usable", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		await a.next("synced");
		const queuedAtBob = () =>
			runInDurableObject(
				env.USERS.get(env.USERS.idFromName(bob.accountId)),
				(_, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM queue").one().n,
			);
		const frameLike = fc.oneof(
			hostileText,
			fc
				.record({
					type: fc.constantFrom("send", "ack", "read", "typing", "ping", "call", "call_request", "launch"),
					// Call signals of every kind (media state included) and the relay's own kinds, which no device may send.
					kind: fc.oneof(fc.constantFrom(...CALL_SIGNAL_KINDS, "answered_elsewhere", "timeout", "asked", "allowed"), fc.string()),
					keyVersion: fc.oneof(fc.anything(), fc.constant(1)),
					nonce: fc.string(),
					box: fc.oneof(fc.string(), fc.string({ minLength: 2000, maxLength: 30_000 })),
					event: fc.constantFrom("asked", "answered", "allowed", "not_now"),
					at: fc.anything(),
					id: fc.string(),
					to: fc.oneof(fc.string(), fc.constant(bob.accountId)),
					ids: fc.anything(),
					// An ack's sender: anything but an id is refused, and a stranger's id acks nothing.
					from: fc.oneof(fc.anything(), fc.constant(bob.accountId)),
					// A receipt (on an ack, or a read frame's): malformed, oversized for its ids, or well formed for a sender it cannot reach.
					receipt: fc.oneof(
						fc.anything(),
						fc.record({ id: fc.string(), keyVersion: fc.anything(), nonce: fc.string(), box: fc.string({ maxLength: 20_000 }) }),
						fc.constant(sealedAck(alice, bob, key, [newMessageId()]).receipt),
					),
				})
				.map((f) => JSON.stringify(f)),
			fc
				.record({ box: fc.string({ minLength: 90_000, maxLength: 100_000 }) })
				.map((f) => JSON.stringify({ ...sealedSend(alice, bob, key, "x"), ...f })),
		);
		let tried = 0;
		let refused = 0;
		await fc.assert(
			fc.asyncProperty(frameLike, async (raw) => {
				tried++;
				let valid = false;
				try {
					parseJson(clientFrame, raw);
					valid = true;
				} catch {
					// Expected for almost all of them.
				}
				a.send(raw);
				if (valid) return;
				refused++;
				const error = await a.next("error");
				expect(["bad_request", "too_large"]).toContain(error.code);
			}),
			{ numRuns: RUNS * 3 },
		);
		console.log(`fuzz: ${tried} hostile frames, ${refused} refused with an error frame`);
		expect(await queuedAtBob()).toBe(0);
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(Number(env.STARTING_CREDITS));
		const devices = await api("/api/devices", { token: alice.token });
		expect([devices.json.devices.length, devices.json.deviceList.version]).toEqual([1, 1]);
		const ok = sealedSend(alice, bob, key, "still fine");
		a.send(ok);
		expect((await a.next("sent", (s) => s.id === ok.id)).id).toBe(ok.id);
		expect(await queuedAtBob()).toBe(1);
		// 180 frames, some of 100 KB, each answered: seconds on a busy 2-core machine, not a hang.
	}, 60_000);
});
