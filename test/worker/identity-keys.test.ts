import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type AccountIdentity, generateAccountIdentity, unwrapIdentityKey, wrapIdentityKey } from "../../client/core/identity-key.ts";
import { linkConfirmation } from "../../client/core/link-code.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { signDeviceList } from "../../common/protocol/device-list.ts";
import { addApprovedDevice, addPendingDevice, contactPair } from "./fixtures.ts";
import { api, connect, firstDeviceList, registerUser, type TestUser } from "./helpers.ts";
import { approve, askToJoin, currentList, nextList, signedInAs } from "./linking.ts";

const identityInD1 = async (user: TestUser) =>
	(await env.DB.prepare("SELECT identity_key FROM accounts WHERE id = ?").bind(user.accountId).first<{ identity_key: string }>())
		?.identity_key;

/** What a client resetting the identity sends: the list under the new key, and the new key wrapped for each of `others`. */
async function resetBody(caller: TestUser, identity: AccountIdentity, others: TestUser[]) {
	const list = await currentList(caller);
	const deviceList = signDeviceList({ ...list, version: list.version + 1, identityKey: toB64u(identity.publicKey) }, identity.seed);
	const identityEnvelopes = others.map((d) => ({
		deviceId: d.deviceId,
		...wrapIdentityKey({ accountId: caller.accountId, identity, senderSeed: caller.keys.seed, targetPublicKey: d.keys.publicKey }),
	}));
	return { deviceList, identityEnvelopes };
}

describe("the identity key", () => {
	it("is registered with the account and mirrored in D1", async () => {
		const alice = await registerUser("alice");
		expect(await identityInD1(alice)).toBe(toB64u(alice.identity.publicKey));
		expect((await currentList(alice)).identityKey).toBe(toB64u(alice.identity.publicKey));
	});

	it("reaches a new device as the approver wrapped it, with the link confirmation; the first device has no envelope", async () => {
		const alice = await registerUser("alice");
		const claiming = await askToJoin(alice);
		expect((await approve(alice, claiming)).status).toBe(200);
		const phone = await signedInAs(alice, claiming);
		const { status, json } = await api("/api/devices/identity", { token: phone.token });
		expect(status).toBe(200);
		const identityKey = toB64u(alice.identity.publicKey);
		expect(json).toMatchObject({
			fromDevice: alice.deviceId,
			fromPublicKey: toB64u(alice.keys.publicKey),
			linkConfirm: linkConfirmation(claiming.linkKeys, {
				accountId: alice.accountId,
				identityKey,
				deviceId: phone.deviceId,
				publicKey: toB64u(phone.keys.publicKey),
			}),
		});
		expect(phone.identity.seed).toEqual(alice.identity.seed);
		const first = await api("/api/devices/identity", { token: alice.token });
		expect([first.status, first.json.error.code]).toEqual([404, "not_found"]);
		// A device still waiting has none to fetch, and is refused as any pending device is.
		const waiting = await addPendingDevice(alice, "tablet");
		expect((await api("/api/devices/identity", { token: waiting.token })).json.error.code).toBe("device_pending");
	});

	it("is replaced by an identity reset with an envelope for every other device: D1 follows, the others get the new key, contacts are told", async () => {
		const { alice, bob, aliceDevices } = await contactPair({ extraDevices: 2 });
		const [laptop, phone, tablet] = aliceDevices as [TestUser, TestUser, TestUser];
		const laptopSocket = await connect(laptop.token);
		const bobSocket = await connect(bob.token);
		await laptopSocket.next("synced");
		await bobSocket.next("synced");
		const before = await currentList(alice);

		// The phone resets: it makes the new key, so only the laptop and the tablet need envelopes.
		const identity = generateAccountIdentity();
		const body = await resetBody(phone, identity, [laptop, tablet]);
		const reset = await api("/api/devices/list", { token: phone.token, body });
		expect(reset).toEqual({ status: 200, json: { deviceList: body.deviceList } });
		expect(await identityInD1(alice)).toBe(toB64u(identity.publicKey));
		expect(await currentList(alice)).toMatchObject({
			version: before.version + 1,
			lastRemoval: before.lastRemoval,
			identityKey: toB64u(identity.publicKey),
		});
		expect(await laptopSocket.next("device_list")).toEqual({ type: "device_list", deviceList: body.deviceList });
		expect(await bobSocket.next("contact", (c) => c.event === "devices_changed")).toMatchObject({
			contact: { accountId: alice.accountId },
		});

		for (const device of [laptop, tablet]) {
			const { json } = await api("/api/devices/identity", { token: device.token });
			expect(json).toMatchObject({ fromDevice: phone.deviceId, fromPublicKey: toB64u(phone.keys.publicKey) });
			expect(json.linkConfirm).toBeUndefined();
			const opened = unwrapIdentityKey({
				accountId: alice.accountId,
				identityKey: toB64u(identity.publicKey),
				nonce: json.nonce,
				box: json.box,
				senderPublicKey: fromB64u(json.fromPublicKey),
				mySeed: device.keys.seed,
			});
			expect(opened.seed).toEqual(identity.seed);
		}
		// The phone's own envelope of the old key is gone with every other.
		expect((await api("/api/devices/identity", { token: phone.token })).json.error.code).toBe("not_found");

		// From now on only the new key signs the account's lists.
		const oldKey = await approve(laptop, await askToJoin(laptop, "watch"));
		expect([oldKey.status, oldKey.json.error.code]).toEqual([401, "unauthorized"]);
		const withNew = { ...laptop, identity };
		expect((await approve(withNew, await askToJoin(withNew, "watch"))).status).toBe(200);
	}, 15_000);

	it("is not reset without an envelope for every other approved device, and nothing changes", async () => {
		const alice = await registerUser("alice");
		const phone = await addApprovedDevice(alice);
		const tablet = await addApprovedDevice(alice, "tablet");
		const list = await currentList(alice);
		const tabletEnvelope = (await api("/api/devices/identity", { token: tablet.token })).json;
		const identity = generateAccountIdentity();
		const full = await resetBody(alice, identity, [phone, tablet]);
		const [forPhone, forTablet] = full.identityEnvelopes as [(typeof full.identityEnvelopes)[0], (typeof full.identityEnvelopes)[0]];
		const bodies = [
			{ deviceList: full.deviceList },
			{ deviceList: full.deviceList, identityEnvelopes: [] },
			{ deviceList: full.deviceList, identityEnvelopes: [forPhone] },
			{ deviceList: full.deviceList, identityEnvelopes: [forPhone, forPhone] },
			{ deviceList: full.deviceList, identityEnvelopes: [forPhone, { ...forTablet, deviceId: alice.deviceId }] },
		];
		for (const body of bodies) {
			const res = await api("/api/devices/list", { token: alice.token, body });
			expect([body.identityEnvelopes?.length, res.status, res.json.error.code]).toEqual([
				body.identityEnvelopes?.length,
				400,
				"bad_request",
			]);
		}
		const skipped = await resetBody(alice, identity, [phone, tablet]);
		const skipping = { ...skipped, deviceList: signDeviceList({ ...skipped.deviceList, version: list.version + 2 }, identity.seed) };
		expect((await api("/api/devices/list", { token: alice.token, body: skipping })).json.error.code).toBe("conflict");
		expect(await identityInD1(alice)).toBe(toB64u(alice.identity.publicKey));
		expect(await currentList(alice)).toEqual(list);
		expect((await api("/api/devices/identity", { token: tablet.token })).json).toEqual(tabletEnvelope);
		expect((await api("/api/devices/list", { token: alice.token, body: full })).status).toBe(200);
	});

	it("must be the registered one in the account's first list, which hands it to nobody", async () => {
		const alice = await registerUser("alice", { publish: false });
		const first = firstDeviceList(alice);
		const other = generateAccountIdentity();
		const refusals: Array<[unknown, number, string]> = [
			[{ deviceList: signDeviceList({ ...first, identityKey: toB64u(other.publicKey) }, other.seed) }, 401, "unauthorized"],
			[{ deviceList: signDeviceList({ ...first, version: 2 }, alice.identity.seed) }, 409, "conflict"],
			[{ deviceList: signDeviceList({ ...first, devices: [] }, alice.identity.seed) }, 400, "bad_request"],
			[{ deviceList: first, identityEnvelopes: [] }, 400, "bad_request"],
			[{ deviceList: nextList(first, {}, alice.identity) }, 409, "conflict"],
		];
		for (const [body, status, code] of refusals) {
			const res = await api("/api/devices/list", { token: alice.token, body });
			expect([res.status, res.json.error.code]).toEqual([status, code]);
		}
		expect((await api("/api/devices", { token: alice.token })).json.deviceList).toBeNull();
		expect((await api("/api/devices/list", { token: alice.token, body: { deviceList: first } })).status).toBe(200);
	});
});
