import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys } from "../../common/nacl.ts";
import { ENVELOPE_BOX_MIN, IDENTITY_BOX_BYTES } from "../../common/protocol/wire.ts";
import { issueSessionToken } from "../../worker/auth/session-token.ts";
import { readConfig } from "../../worker/config.ts";
import { addApprovedDevice, addPendingDevice, contactPair, newMessageId, suspendFor } from "./fixtures.ts";
import { api, signIn, type TestUser } from "./helpers.ts";
import { approvalBody, type ClaimingDevice, claimLinkCode, currentList, openLinkCode, removeDevice } from "./linking.ts";
import { completeRecovery, listWith, recoveryKeyBody, restoredDevice, withRecovery } from "./recovery.ts";

/**
 * Every authenticated route against every kind of caller that must be refused (issue 9):
 * nobody, a forged or expired token, a pending or revoked device, a suspended account for
 * the routes that act, another account for the routes that name someone else's things, and
 * the admin routes with a wrong token.
 */
interface Route {
	method: "GET" | "POST" | "PUT" | "DELETE";
	path: string;
	body?: unknown;
	/** Sends or requests something: refused to a suspended account. */
	acts?: boolean;
}

let alice: TestUser;
let bob: TestUser;
let pending: TestUser & { claim: ClaimingDevice };
/** Pending too, but from a restore with the recovery key: it may also read the account's devices, and nothing else. */
let recovering: TestUser;
let revoked: TestUser;
let suspended: TestUser;
let routes: Route[];

/** Well-formed but meaningless bytes: these tests are about who may ask, not what they send. */
const bytes = (n: number) => toB64u(new Uint8Array(n).fill(7));
const envelope = (u: TestUser) => ({ accountId: u.accountId, deviceId: u.deviceId, nonce: bytes(24), box: bytes(ENVELOPE_BOX_MIN) });
const someList = (u: TestUser) => ({
	accountId: u.accountId,
	version: 2,
	lastRemoval: 0,
	identityKey: bytes(32),
	devices: [{ deviceId: u.deviceId, publicKey: bytes(32) }],
	signature: bytes(64),
});

beforeAll(async () => {
	({ alice, bob } = await contactPair());
	pending = await addPendingDevice(alice, "pending phone");
	recovering = await restoredDevice(alice, (await withRecovery(alice)).recovery);
	revoked = await addApprovedDevice(alice, "lost phone");
	await removeDevice(alice, revoked.deviceId);
	const other = await contactPair();
	suspended = other.alice;
	await suspendFor(suspended, 86_400_000);
	const approval = {
		deviceList: someList(alice),
		identityEnvelope: { nonce: bytes(24), box: bytes(IDENTITY_BOX_BYTES) },
		linkConfirm: bytes(32),
		envelopes: [],
	};
	routes = [
		{ method: "GET", path: "/api/account" },
		{ method: "GET", path: "/api/account/credits" },
		// Refused before the deployment's Stripe setup is looked at (this project has none: not_configured).
		{ method: "POST", path: "/api/credits/checkout", body: { pack: 100 } },
		{ method: "GET", path: "/api/account/recovery" },
		{ method: "PUT", path: "/api/account/recovery", body: { recoveryKey: bytes(32), signature: bytes(64) } },
		{ method: "GET", path: "/api/account/backup" },
		{ method: "PUT", path: "/api/account/backup", body: { version: 2, nonce: bytes(24), box: bytes(48) } },
		{ method: "GET", path: "/api/devices" },
		{ method: "POST", path: "/api/devices/list", body: { deviceList: someList(alice) } },
		{ method: "GET", path: "/api/devices/identity" },
		{ method: "POST", path: "/api/devices/links", body: { linkId: newMessageId() } },
		{ method: "DELETE", path: `/api/devices/links/${newMessageId()}` },
		{ method: "POST", path: `/api/devices/${newMessageId()}/approve`, body: approval },
		{ method: "POST", path: `/api/devices/${newMessageId()}/revoke`, body: { deviceList: someList(alice) } },
		{ method: "POST", path: `/api/devices/${newMessageId()}/reject` },
		{ method: "POST", path: `/api/devices/${newMessageId()}/recover`, body: { deviceList: someList(alice) } },
		// A device's own Web Push subscription: refused before the deployment's VAPID setup is looked at (this project has none).
		{
			method: "PUT",
			path: "/api/devices/push",
			body: { endpoint: "https://push.example/send/1", keys: { p256dh: bytes(65), auth: bytes(16) } },
		},
		{ method: "DELETE", path: "/api/devices/push" },
		{ method: "GET", path: "/api/devices/history" },
		{ method: "PUT", path: `/api/devices/history/${newMessageId()}`, body: bytes(100) },
		{ method: "GET", path: `/api/devices/history/${newMessageId()}/archive` },
		{ method: "POST", path: `/api/devices/history/${newMessageId()}/end`, body: { outcome: "skipped" } },
		{ method: "DELETE", path: "/api/account", body: { handle: "somebody_else" } },
		{ method: "GET", path: "/api/contacts" },
		{ method: "POST", path: "/api/contacts", body: { handle: "somebody_else" }, acts: true },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/accept`, body: { keyVersion: 1, envelopes: [envelope(bob), envelope(bob)] } },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/decline` },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/block` },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/unblock` },
		{ method: "GET", path: `/api/contacts/${bob.accountId}/keys` },
		{ method: "GET", path: `/api/contacts/${bob.accountId}/devices` },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/report`, body: { reason: "x" } },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/rotate`, body: { keyVersion: 2, envelopes: [envelope(bob), envelope(bob)] } },
		{ method: "POST", path: `/api/contacts/${bob.accountId}/calls`, body: { allow: true } },
		{ method: "DELETE", path: `/api/contacts/${bob.accountId}/call-request` },
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

	it("refuses a recovering device every route but the account's device list, which it needs to sign the next one", async () => {
		for (const r of routes) {
			const { status, json } = await call(r, recovering.token);
			if (r.method === "GET" && r.path === "/api/devices") expect([r.path, status]).toEqual([r.path, 200]);
			else expect([r.path, status, json.error.code]).toEqual([r.path, 403, "device_pending"]);
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
		// A token reaches only its own account's object, where the other account's devices and links do not exist.
		const approval = await approvalBody(stranger, pending.claim, { keys: [] });
		const approve = await api(`/api/devices/${pending.deviceId}/approve`, { token: stranger.token, body: approval });
		expect(approve.json.error.code).toBe("not_found");
		for (const action of ["revoke", "reject"]) {
			const res = await api(`/api/devices/${alice.deviceId}/${action}`, { method: "POST", token: stranger.token });
			expect([action, res.json.error.code]).toEqual([action, "not_found"]);
		}
		const link = await openLinkCode(alice);
		const cancel = await api(`/api/devices/links/${link.linkKeys.linkId}`, { method: "DELETE", token: stranger.token });
		expect(cancel.json.error.code).toBe("not_found");
		const published = await api("/api/devices/list", { token: stranger.token, body: { deviceList: await currentList(alice) } });
		expect([published.status, published.json.error.code]).toEqual([400, "bad_request"]);
		expect((await api("/api/devices", { token: stranger.token })).json.devices.map((d: any) => d.deviceId)).toEqual([stranger.deviceId]);
		expect((await api("/api/devices/identity", { token: stranger.token })).json.error.code).toBe("not_found");
		// Alice's recovery key and backup are in her object only; a recovery of hers is hers alone to finish.
		expect((await api("/api/account/recovery", { token: stranger.token })).json.error.code).toBe("not_found");
		expect((await api("/api/account/backup", { token: stranger.token })).json.error.code).toBe("not_found");
		const hersSigned = await api("/api/account/recovery", {
			method: "PUT",
			token: stranger.token,
			body: recoveryKeyBody(alice, generateDeviceKeys()),
		});
		expect(hersSigned.json.error.code).toBe("unauthorized");
		const finish = await completeRecovery(stranger, recovering.deviceId, await listWith(recovering));
		expect(finish.json.error.code).toBe("not_found");
		// Alice's link is still open, and her devices as they were.
		expect((await claimLinkCode(alice.handle, link.linkKeys)).status).toBe(201);
		expect((await signIn(alice.keys)).status).toBe(200);
	});

	it("refuses the admin API a wrong token, a user's token (from an approved, pending, recovering or revoked device) and none", async () => {
		const adminRoutes: Route[] = [
			{ method: "GET", path: `/api/admin/accounts/${alice.handle}` },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/trust`, body: { trust: "verified" } },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/credits`, body: { amount: 5, reason: "x" } },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/unsuspend` },
			{ method: "GET", path: "/api/admin/flags" },
			{ method: "GET", path: "/api/admin/reports" },
			{ method: "GET", path: "/api/admin/reviews" },
			{ method: "POST", path: `/api/admin/accounts/${suspended.accountId}/review`, body: { decision: "confirm" } },
			{ method: "POST", path: `/api/admin/accounts/${alice.accountId}/review`, body: { decision: "dismiss" } },
		];
		const userTokens = [alice.token, pending.token, recovering.token, revoked.token, suspended.token];
		const tokens = [undefined, "wrong-admin-token-0123456789", ...userTokens, toB64u(generateDeviceKeys().seed)];
		// Each route's callers at once: 72 calls one after another come near the 5 s limit on a busy machine.
		for (const r of adminRoutes) {
			const answers = await Promise.all(tokens.map((token) => call(r, token)));
			for (const { status, json } of answers) expect([r.path, status, json.error.code]).toEqual([r.path, 401, "unauthorized"]);
		}
	});
});
