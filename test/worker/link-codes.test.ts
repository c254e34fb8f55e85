import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deriveLinkKeys, newLinkCode } from "../../client/core/link-code.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { linkClaimMessage } from "../../common/protocol/signing.ts";
import { INVALID_LINK } from "../../worker/relay/devices/link-store.ts";
import { useFakeClock } from "./fake-clock.ts";
import { addPendingDevice, newMessageId } from "./fixtures.ts";
import { api, connect, registerUser, signIn, type TestUser } from "./helpers.ts";
import { approve, claimBody, claimLinkCode, openLinkCode } from "./linking.ts";

const advance = useFakeClock();
const TTL = Number(env.LINK_CODE_TTL_MS);
const invalid = { status: 404, json: { error: { code: "not_found", message: INVALID_LINK } } };

async function devicesInD1(user: TestUser): Promise<number> {
	const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM devices WHERE account_id = ?").bind(user.accountId).first<{ n: number }>();
	return row?.n ?? 0;
}

/** The claim's answer without the new device's keys, to compare refusals. */
const claimAnswer = async (handle: string, linkKeys: ReturnType<typeof deriveLinkKeys>) => {
	const { status, json } = await claimLinkCode(handle, linkKeys);
	return { status, json };
};

describe("link codes", () => {
	it("open for LINK_CODE_TTL_MS (ten minutes) and are claimed by the new device as pending", async () => {
		const alice = await registerUser("alice");
		const opened = await openLinkCode(alice);
		expect([opened.status, opened.json]).toEqual([201, { linkId: opened.linkKeys.linkId, expiresAt: Date.now() + 600_000 }]);
		expect(TTL).toBe(600_000);
		const claim = await claimLinkCode(alice.handle, opened.linkKeys, "tablet");
		expect(claim.json).toEqual({ accountId: alice.accountId, deviceId: claim.deviceId, status: "pending" });
		expect(await devicesInD1(alice)).toBe(2);
	});

	it("answer a stranger without a live link with the same not_found for an unknown handle and for a wrong link id", async () => {
		const alice = await registerUser("alice");
		const open = await openLinkCode(alice);
		const unknownHandle = await claimAnswer("nobody_is_called_this", deriveLinkKeys(newLinkCode("nobody_is_called_this")));
		const wrongLink = await claimAnswer(alice.handle, deriveLinkKeys(newLinkCode(alice.handle)));
		// The right link id under another handle is a wrong link there too.
		const otherHandle = await claimAnswer("nobody_is_called_this", open.linkKeys);
		expect([unknownHandle, wrongLink, otherHandle]).toEqual([invalid, invalid, invalid]);
		expect(await devicesInD1(alice)).toBe(1);
		expect((await claimLinkCode(alice.handle, open.linkKeys)).status).toBe(201);
	});

	it("refuse a claim once the link expired, with the same not_found, and take one a millisecond before", async () => {
		const alice = await registerUser("alice");
		const early = await openLinkCode(alice);
		const late = await openLinkCode(alice);
		advance(TTL - 1);
		expect((await claimLinkCode(alice.handle, early.linkKeys)).status).toBe(201);
		advance(1);
		expect(await claimAnswer(alice.handle, late.linkKeys)).toEqual(invalid);
		expect(await devicesInD1(alice)).toBe(2);
	});

	it("refuse a link claimed twice with the same not_found, and leave the first claim's device as it was", async () => {
		const alice = await registerUser("alice");
		const opened = await openLinkCode(alice);
		const first = await claimLinkCode(alice.handle, opened.linkKeys, "phone");
		expect(first.status).toBe(201);
		expect(await claimAnswer(alice.handle, opened.linkKeys)).toEqual(invalid);
		const listed = (await api("/api/devices", { token: alice.token })).json.devices;
		expect(Object.fromEntries(listed.map((d: any) => [d.deviceId, d.status]))).toEqual({
			[alice.deviceId]: "approved",
			[first.deviceId]: "pending",
		});
		expect((await approve(alice, first)).status).toBe(200);
	});

	it("refuse a fourth open link with rate_limited until the oldest expires; a claimed or cancelled link frees its place", async () => {
		const alice = await registerUser("alice");
		const links = [];
		for (let i = 0; i < 3; i++) {
			links.push(await openLinkCode(alice));
			advance(1000);
		}
		const fourth = await openLinkCode(alice);
		expect([fourth.status, fourth.json.error.code, fourth.json.error.retryAfter]).toEqual([429, "rate_limited", TTL - 3000]);
		const cancel = await api(`/api/devices/links/${links[1]?.linkKeys.linkId}`, { method: "DELETE", token: alice.token });
		expect(cancel).toEqual({ status: 200, json: { ok: true } });
		expect((await openLinkCode(alice)).status).toBe(201);
		expect((await openLinkCode(alice)).status).toBe(429);
		expect((await claimLinkCode(alice.handle, links[0]?.linkKeys as never)).status).toBe(201);
		expect((await openLinkCode(alice)).status).toBe(201);
		// The oldest open link is now the third, opened a second before the rest.
		const full = await openLinkCode(alice);
		expect([full.status, full.json.error.retryAfter]).toEqual([429, TTL - 1000]);
		advance(TTL - 1000);
		expect((await openLinkCode({ ...alice, token: (await signIn(alice.keys)).json.token })).status).toBe(201);
	});

	it("refuse to open a link id that was used before, open, claimed or cancelled, with conflict", async () => {
		const alice = await registerUser("alice");
		const opened = await openLinkCode(alice);
		const again = await api("/api/devices/links", { token: alice.token, body: { linkId: opened.linkKeys.linkId } });
		expect([again.status, again.json.error.code]).toEqual([409, "conflict"]);
		await claimLinkCode(alice.handle, opened.linkKeys);
		const afterClaim = await api("/api/devices/links", { token: alice.token, body: { linkId: opened.linkKeys.linkId } });
		expect(afterClaim.json.error.code).toBe("conflict");
		const cancelled = await openLinkCode(alice);
		await api(`/api/devices/links/${cancelled.linkKeys.linkId}`, { method: "DELETE", token: alice.token });
		const afterCancel = await api("/api/devices/links", { token: alice.token, body: { linkId: cancelled.linkKeys.linkId } });
		expect(afterCancel.json.error.code).toBe("conflict");
	});

	it("refuse a claim with a bad signature or an unusable key, and leave the link open", async () => {
		const alice = await registerUser("alice");
		const opened = await openLinkCode(alice);
		const keys = generateDeviceKeys();
		const body = claimBody(alice.handle, opened.linkKeys, keys, "phone");
		const otherKey = generateDeviceKeys();
		const signedByOther = {
			...body,
			signature: toB64u(signDetached(otherKey.seed, linkClaimMessage(alice.handle, opened.linkKeys.linkId, body.publicKey, "phone"))),
		};
		const forOtherLink = {
			...body,
			signature: toB64u(signDetached(keys.seed, linkClaimMessage(alice.handle, newMessageId(), body.publicKey, "phone"))),
		};
		for (const bad of [signedByOther, forOtherLink]) {
			const res = await api("/api/devices/link", { body: bad });
			expect([res.status, res.json.error.code]).toEqual([401, "unauthorized"]);
		}
		const smallOrder = { ...body, publicKey: toB64u(new Uint8Array(32).map((_, i) => (i === 0 ? 1 : 0))) };
		expect((await api("/api/devices/link", { body: smallOrder })).json.error.code).toBe("bad_request");
		const unknownField = await api("/api/devices/link", { body: { ...body, status: "approved" } });
		expect([unknownField.status, unknownField.json.error.code]).toEqual([400, "bad_request"]);
		expect(await devicesInD1(alice)).toBe(1);
		expect((await api("/api/devices/link", { body })).status).toBe(201);
	});

	it("stop being claimable once cancelled; only an approved device of the account cancels, and only an open link", async () => {
		const alice = await registerUser("alice");
		const pending = await addPendingDevice(alice);
		const opened = await openLinkCode(alice);
		const path = `/api/devices/links/${opened.linkKeys.linkId}`;
		expect((await api(path, { method: "DELETE", token: pending.token })).json.error.code).toBe("device_pending");
		expect((await api(path, { method: "DELETE" })).status).toBe(401);
		expect((await api(path, { method: "DELETE", token: alice.token })).status).toBe(200);
		expect(await claimAnswer(alice.handle, opened.linkKeys)).toEqual(invalid);
		const twice = await api(path, { method: "DELETE", token: alice.token });
		expect([twice.status, twice.json.error.code]).toEqual([404, "not_found"]);
		expect((await api("/api/devices/links/not-an-id", { method: "DELETE", token: alice.token })).status).toBe(404);
	});

	it("let at most DEVICE_REQUESTS_PER_HOUR (5) devices claim codes of one account within an hour", async () => {
		const alice = await registerUser("alice");
		for (let i = 0; i < 5; i++) {
			const opened = await openLinkCode(alice);
			const claim = await claimLinkCode(alice.handle, opened.linkKeys, `phone ${i}`);
			expect(claim.status).toBe(201);
			// Rejected at once, so only the hourly limit can refuse the next one.
			await api(`/api/devices/${claim.deviceId}/reject`, { method: "POST", token: alice.token });
			advance(60_000);
		}
		const sixth = await openLinkCode(alice);
		const refused = await claimLinkCode(alice.handle, sixth.linkKeys);
		expect([refused.status, refused.json.error.code, refused.json.error.retryAfter]).toEqual([429, "rate_limited", 3_600_000 - 5 * 60_000]);
		// The refusal did not use the link up: it is still open, and still refused for the hour.
		expect((await claimLinkCode(alice.handle, sixth.linkKeys)).status).toBe(429);
		advance(3_600_000 - 5 * 60_000);
		const token = (await signIn(alice.keys)).json.token;
		const later = await openLinkCode({ ...alice, token });
		expect((await claimLinkCode(alice.handle, later.linkKeys)).status).toBe(201);
	});
});

describe("approving a device", () => {
	it("needs the device to have claimed a link code of the account", async () => {
		const alice = await registerUser("alice");
		// A pending device that never claimed a code cannot come about through the API (claims are the
		// only way in), so it is written into D1 directly, as an operator's mistake or an old row would be.
		const keys = generateDeviceKeys();
		const deviceId = newMessageId();
		await env.DB.prepare("INSERT INTO devices (id, account_id, public_key, name, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?)")
			.bind(deviceId, alice.accountId, toB64u(keys.publicKey), "unclaimed", Date.now())
			.run();
		await runInDurableObject(env.USERS.get(env.USERS.idFromName(alice.accountId)), (relay) => relay.reloadDevices());
		const linkKeys = deriveLinkKeys(newLinkCode(alice.handle));
		const res = await approve(alice, { keys, deviceId, linkKeys, name: "unclaimed", status: 201, json: null });
		expect([res.status, res.json.error.code]).toEqual([409, "conflict"]);
		const row = await env.DB.prepare("SELECT status FROM devices WHERE id = ?").bind(deviceId).first<{ status: string }>();
		expect(row?.status).toBe("pending");
	});

	it("tells the pending device's own socket of its approval, and nothing of the account before", async () => {
		const alice = await registerUser("alice");
		const pending = await addPendingDevice(alice);
		const socket = await connect(pending.token);
		await socket.next("ready");
		await openLinkCode(alice);
		expect((await approve(alice, pending.claim)).status).toBe(200);
		expect(await socket.next("device", (d) => d.event === "approved")).toMatchObject({ device: { deviceId: pending.deviceId } });
		expect(await socket.next("device_list")).toMatchObject({ deviceList: { version: 2 } });
		expect(socket.frames.slice(0, 2).map((f) => f.type)).toEqual(["ready", "device"]);
	});
});
