import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys } from "../../common/nacl.ts";
import { issueSessionToken } from "../../worker/auth/session-token.ts";
import { readConfig } from "../../worker/config.ts";
import { addApprovedDevice, contactPair, newMessageId, suspendFor } from "./fixtures.ts";
import { api, signIn, type TestUser } from "./helpers.ts";

/**
 * Every authenticated route against every kind of caller that must be refused (issue 9):
 * nobody, a forged or expired token, a pending or revoked device, a suspended account for
 * the routes that act, another account for the routes that name someone else's things, and
 * the admin routes with a wrong token.
 */
interface Route {
	method: "GET" | "POST" | "PUT";
	path: string;
	body?: unknown;
	/** Sends or requests something: refused to a suspended account. */
	acts?: boolean;
}

let alice: TestUser;
let bob: TestUser;
let pending: TestUser;
let revoked: TestUser;
let suspended: TestUser;
let routes: Route[];

const envelope = (u: TestUser) => ({ accountId: u.accountId, deviceId: u.deviceId, nonce: "A".repeat(32), box: "B".repeat(151) });
const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

beforeAll(async () => {
	({ alice, bob } = await contactPair());
	pending = await addApprovedDevice(alice, "pending phone");
	await env.DB.prepare("UPDATE devices SET status = 'pending' WHERE id = ?").bind(pending.deviceId).run();
	revoked = await addApprovedDevice(alice, "lost phone");
	await env.DB.prepare("UPDATE devices SET status = 'revoked' WHERE id = ?").bind(revoked.deviceId).run();
	await runInDurableObject(relay(alice.accountId), (r) => r.reloadDevices());
	const other = await contactPair();
	suspended = other.alice;
	await suspendFor(suspended, 86_400_000);
	routes = [
		{ method: "GET", path: "/api/account" },
		{ method: "GET", path: "/api/account/credits" },
		{ method: "GET", path: "/api/devices" },
		{ method: "POST", path: `/api/devices/${newMessageId()}/approve`, body: { signature: "C".repeat(86), envelopes: [] } },
		{ method: "POST", path: `/api/devices/${newMessageId()}/revoke` },
		{ method: "GET", path: "/api/contacts" },
		{ method: "POST", path: "/api/contacts", body: { handle: "somebody_else" }, acts: true },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/accept`, body: { keyVersion: 1, envelopes: [envelope(bob), envelope(bob)] } },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/decline` },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/block` },
		{ method: "GET", path: `/api/contacts/${bob.accountId}/keys` },
		{ method: "GET", path: `/api/contacts/${bob.accountId}/devices` },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/report`, body: { reason: "x" } },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/rotate`, body: { keyVersion: 2, envelopes: [envelope(bob), envelope(bob)] } },
		{ method: "POST", path: "/api/attachments", body: { to: bob.accountId, size: 10 }, acts: true },
		{ method: "GET", path: `/api/attachments/${bob.accountId}/${newMessageId()}` },
	];
});

const call = (r: Route, token?: string) =>
	api(r.path, { method: r.method, ...(r.body !== undefined && { body: r.body }), ...(token && { token }) });

describe("the authorization matrix", () => {
	it("refuses nobody, a forged token and an expired token on every route with 401", async () => {
		const [v, , d, , mac] = alice.token.split(".");
		// Correctly signed, so only its expiry refuses it.
		const expired = await issueSessionToken(readConfig(env).authSecret, {
			accountId: alice.accountId,
			deviceId: alice.deviceId,
			expiresAt: Date.now() - 1,
		});
		const forged = [v, bob.accountId, d, String(Date.now() + 60_000), mac].join(".");
		let checked = 0;
		for (const r of routes) {
			for (const token of [undefined, expired, forged, "v1.x.y.z.w"]) {
				const { status, json } = await call(r, token);
				expect([r.path, token, status, json.error.code]).toEqual([r.path, token, 401, "unauthorized"]);
				checked++;
			}
		}
		console.log(`authorization: ${checked} unauthenticated calls refused`);
	});

	it("refuses a pending device with device_pending and a revoked one with device_revoked", async () => {
		for (const r of routes) {
			const p = await call(r, pending.token);
			expect([r.path, p.status, p.json.error.code]).toEqual([r.path, 403, "device_pending"]);
			const v = await call(r, revoked.token);
			expect([r.path, v.status, v.json.error.code]).toEqual([r.path, 401, "device_revoked"]);
		}
	});

	it("refuses a suspended account every route that acts, and still lets it read", async () => {
		for (const r of routes) {
			const { status, json } = await call(r, suspended.token);
			if (r.acts) expect([r.path, status, json.error.code]).toEqual([r.path, 403, "suspended"]);
			else expect([r.path, json?.error?.code]).not.toEqual([r.path, "suspended"]);
		}
		expect((await api("/api/contacts", { token: suspended.token })).status).toBe(200);
	});

	it("keeps another account's contacts, keys, devices and blobs out of reach", async () => {
		const stranger = (await contactPair()).alice;
		const foreign = [
			`/api/contacts/${bob.accountId}/keys`,
			`/api/contacts/${bob.accountId}/devices`,
			`/api/attachments/${alice.accountId}/${newMessageId()}`,
		];
		for (const path of foreign) {
			const { status, json } = await api(path, { token: stranger.token });
			expect([path, status, json.error.code]).toEqual([path, 404, "not_found"]);
		}
		const approve = await api(`/api/devices/${pending.deviceId}/approve`, {
			token: stranger.token,
			body: { signature: "C".repeat(86), envelopes: [] },
		});
		expect(approve.json.error.code).toBe("not_found");
		const revoke = await api(`/api/devices/${alice.deviceId}/revoke`, { method: "POST", token: stranger.token });
		expect(revoke.json.error.code).toBe("not_found");
		expect((await signIn(alice.keys)).status).toBe(200);
	});

	it("refuses the admin API a wrong token, a user's token and none", async () => {
		const adminRoutes: Route[] = [
			{ method: "GET", path: `/api/admin/accounts/${alice.handle}` },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/trust`, body: { trust: "verified" } },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/credits`, body: { amount: 5, reason: "x" } },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/unsuspend` },
			{ method: "GET", path: "/api/admin/flags" },
			{ method: "GET", path: "/api/admin/reports" },
		];
		for (const r of adminRoutes) {
			for (const token of [undefined, "wrong-admin-token-0123456789", alice.token, toB64u(generateDeviceKeys().seed)]) {
				const { status, json } = await call(r, token);
				expect([r.path, status, json.error.code]).toEqual([r.path, 401, "unauthorized"]);
			}
		}
	});
});
