import { describe, expect, it } from "vitest";
import { generateContactKey, unwrapContactKey } from "../../client/core/contact-key.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { expectCryptoError } from "../support/expect-crypto-error.ts";
import { acceptContact, addApprovedDevice, newMessageId, wrapForBoth } from "./fixtures.ts";
import { api, connect, firstDeviceList, registerUser, type TestUser } from "./helpers.ts";

/** The accepter's envelopes of a fresh key for every approved device of both accounts, as its client makes them. */
const envelopesFor = (accepter: TestUser, requester: TestUser, key: Uint8Array) => wrapForBoth(accepter, requester, 1, key);

describe("contacts", () => {
	it("request, real-time notice, accept with envelopes for every device, and both sides read their key", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const bobSocket = await connect(bob.token);
		await bobSocket.next("ready");
		const aliceSocket = await connect(alice.token);
		await aliceSocket.next("ready");

		const req = await api("/api/contacts", { token: alice.token, body: { handle: bob.handle.toUpperCase() } });
		expect(req.status).toBe(201);
		expect(req.json.contact).toMatchObject({ accountId: bob.accountId, handle: bob.handle, state: "outgoing" });
		const notice = await bobSocket.next("contact");
		expect(notice).toMatchObject({ event: "requested", contact: { accountId: alice.accountId, handle: alice.handle, state: "incoming" } });

		const key = generateContactKey();
		const envelopes = await envelopesFor(bob, alice, key);
		const accept = await api(`/api/contacts/${alice.accountId}/accept`, { token: bob.token, body: { keyVersion: 1, envelopes } });
		expect(accept.status).toBe(200);
		expect(accept.json.contact).toMatchObject({ state: "accepted", keyVersion: 1 });
		expect(await aliceSocket.next("contact", (c) => c.event === "accepted")).toMatchObject({
			contact: { accountId: bob.accountId, keyVersion: 1 },
		});

		for (const [me, peer] of [
			[alice, bob],
			[bob, alice],
		] as const) {
			const { json } = await api(`/api/contacts/${peer.accountId}/keys`, { token: me.token });
			expect(json.envelopes).toHaveLength(1);
			const e = json.envelopes[0];
			expect(e).toMatchObject({
				keyVersion: 1,
				fromAccount: bob.accountId,
				fromDevice: bob.deviceId,
				fromPublicKey: toB64u(bob.keys.publicKey),
			});
			const opened = unwrapContactKey({
				nonce: e.nonce,
				box: e.box,
				senderPublicKey: fromB64u(e.fromPublicKey),
				mySeed: me.keys.seed,
				accounts: [me.accountId, peer.accountId],
				version: 1,
			});
			expect(opened).toEqual({ key, lists: { [alice.accountId]: 1, [bob.accountId]: 1 } });
		}
		const list = await api("/api/contacts", { token: alice.token });
		expect(list.json.contacts).toEqual([expect.objectContaining({ accountId: bob.accountId, state: "accepted" })]);
	});

	it("refuses an accept whose envelopes miss a device or name a stranger's device, and changes nothing", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		const envelopes = await envelopesFor(bob, alice, generateContactKey());
		const missing = await api(`/api/contacts/${alice.accountId}/accept`, {
			token: bob.token,
			body: { keyVersion: 1, envelopes: [envelopes[0], envelopes[0]] },
		});
		expect(missing.status).toBe(409);
		const stranger = await registerUser("mallory");
		const wrongDevice = [envelopes[0], { ...envelopes[1], accountId: stranger.accountId, deviceId: stranger.deviceId }];
		const refused = await api(`/api/contacts/${alice.accountId}/accept`, {
			token: bob.token,
			body: { keyVersion: 1, envelopes: wrongDevice },
		});
		expect(refused.status).toBe(409);
		expect((await api("/api/contacts", { token: bob.token })).json.contacts[0].state).toBe("incoming");
		expect((await api(`/api/contacts/${bob.accountId}/keys`, { token: alice.token })).json.envelopes).toEqual([]);
	});

	it("refuses an accept with conflict while either account has published no signed device list, and changes nothing", async () => {
		for (const unlisted of ["requester", "accepter"] as const) {
			const alice = await registerUser("alice", { publish: unlisted !== "requester" });
			const bob = await registerUser("bob", { publish: unlisted !== "accepter" });
			await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
			const accept = await api(`/api/contacts/${alice.accountId}/accept`, {
				token: bob.token,
				body: { keyVersion: 1, envelopes: await envelopesFor(bob, alice, generateContactKey()) },
			});
			expect([unlisted, accept.status, accept.json.error.code]).toEqual([unlisted, 409, "conflict"]);
			expect((await api("/api/contacts", { token: bob.token })).json.contacts[0].state).toBe("incoming");
			expect((await api(`/api/contacts/${alice.accountId}/keys`, { token: bob.token })).json.envelopes).toEqual([]);
			// Once the missing list is published the same accept goes through.
			const late = unlisted === "requester" ? alice : bob;
			expect((await api("/api/devices/list", { token: late.token, body: { deviceList: firstDeviceList(late) } })).status).toBe(200);
			const again = await api(`/api/contacts/${alice.accountId}/accept`, {
				token: bob.token,
				body: { keyVersion: 1, envelopes: await envelopesFor(bob, alice, generateContactKey()) },
			});
			expect(again.status).toBe(200);
		}
	});

	it("serves a contact's approved devices with the signed list the contact published, and no link details", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const bobPhone = await addApprovedDevice(bob);
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		await acceptContact(bob, alice);
		const { json } = await api(`/api/contacts/${bob.accountId}/devices`, { token: alice.token });
		const bobsOwn = (await api("/api/devices", { token: bob.token })).json.deviceList;
		expect(json.deviceList).toEqual(bobsOwn);
		expect(json.deviceList).toMatchObject({ accountId: bob.accountId, version: 2, identityKey: toB64u(bob.identity.publicKey) });
		expect(json.devices.map((d: any) => d.deviceId).sort()).toEqual([bob.deviceId, bobPhone.deviceId].sort());
		expect(json.devices.every((d: any) => d.status === "approved" && d.link === undefined)).toBe(true);
	});

	it("shows an account's devices only to its accepted contacts and to those it asked, never to a requester it has not accepted, declined or blocked", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const devicesOf = async (owner: { accountId: string }, asker: { token: string }) =>
			(await api(`/api/contacts/${owner.accountId}/devices`, { token: asker.token })).status;
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		// Bob is asked: he sees Alice's devices (he wraps the first key for them); she does not see his yet.
		expect(await devicesOf(alice, bob)).toBe(200);
		expect(await devicesOf(bob, alice)).toBe(404);
		await api(`/api/contacts/${alice.accountId}/decline`, { method: "POST", token: bob.token });
		expect(await devicesOf(bob, alice)).toBe(404);

		const carol = await registerUser("carol");
		await api("/api/contacts", { token: carol.token, body: { handle: bob.handle } });
		await api(`/api/contacts/${carol.accountId}/block`, { method: "POST", token: bob.token });
		expect(await devicesOf(bob, carol)).toBe(404);

		const dave = await registerUser("dave");
		await api("/api/contacts", { token: dave.token, body: { handle: bob.handle } });
		await acceptContact(bob, dave);
		expect(await devicesOf(bob, dave)).toBe(200);
		expect(await devicesOf(dave, bob)).toBe(200);
		// And what is refused reads as if there were no contact at all.
		const refused = await api(`/api/contacts/${bob.accountId}/devices`, { token: alice.token });
		expect(refused.json.error).toEqual({ code: "not_found", message: "No such contact." });
	});

	it("decline tells the requester, and a declined requester may ask again", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const aliceSocket = await connect(alice.token);
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		const declined = await api(`/api/contacts/${alice.accountId}/decline`, { method: "POST", token: bob.token });
		expect(declined.json.contact.state).toBe("declined");
		expect(await aliceSocket.next("contact", (c) => c.event === "declined")).toMatchObject({ contact: { state: "declined" } });
		const again = await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		expect(again.status).toBe(201);
		expect((await api("/api/contacts", { token: bob.token })).json.contacts[0].state).toBe("incoming");
	});

	it("a request and its accept show at once on the acting user's other devices", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const alicePhone = await addApprovedDevice(alice);
		const bobPhone = await addApprovedDevice(bob);
		const alicePhoneSocket = await connect(alicePhone.token);
		const bobPhoneSocket = await connect(bobPhone.token);
		await alicePhoneSocket.next("synced");
		await bobPhoneSocket.next("synced");

		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		expect(await alicePhoneSocket.next("contact")).toMatchObject({
			event: "requested",
			contact: { accountId: bob.accountId, state: "outgoing" },
		});
		expect(await bobPhoneSocket.next("contact")).toMatchObject({
			event: "requested",
			contact: { accountId: alice.accountId, state: "incoming" },
		});

		const envelopes = await envelopesFor(bob, alice, generateContactKey());
		const accept = await api(`/api/contacts/${alice.accountId}/accept`, { token: bob.token, body: { keyVersion: 1, envelopes } });
		expect(accept.status).toBe(200);
		expect(await bobPhoneSocket.next("contact")).toMatchObject({
			event: "accepted",
			contact: { accountId: alice.accountId, state: "accepted", keyVersion: 1 },
		});
		expect(await alicePhoneSocket.next("contact")).toMatchObject({
			event: "accepted",
			contact: { accountId: bob.accountId, state: "accepted", keyVersion: 1 },
		});
	});

	it("a block shows at once on the blocker's other devices and is not told to the blocked side", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const bobPhone = await addApprovedDevice(bob);
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		const bobPhoneSocket = await connect(bobPhone.token);
		const aliceSocket = await connect(alice.token);
		await bobPhoneSocket.next("synced");
		await aliceSocket.next("synced");

		const blocked = await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: bob.token });
		expect(blocked.status).toBe(200);
		expect(await bobPhoneSocket.next("contact")).toMatchObject({
			event: "blocked",
			contact: { accountId: alice.accountId, state: "blocked" },
		});
		// A frame after the block proves the socket was open to hear one, and that none came.
		aliceSocket.send({ type: "ping" });
		await aliceSocket.next("pong");
		expect(aliceSocket.frames.filter((f) => f.type === "contact")).toEqual([]);
	});

	it("every device of both sides fetches exactly its own envelope, which only that device's key opens", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const devices = [alice, await addApprovedDevice(alice), bob, await addApprovedDevice(bob)];
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		const key = generateContactKey();
		const accept = await api(`/api/contacts/${alice.accountId}/accept`, {
			token: bob.token,
			body: { keyVersion: 1, envelopes: await envelopesFor(bob, alice, key) },
		});
		expect(accept.status).toBe(200);

		for (const device of devices) {
			const peerId = device.accountId === alice.accountId ? bob.accountId : alice.accountId;
			const { status, json } = await api(`/api/contacts/${peerId}/keys`, { token: device.token });
			expect(status).toBe(200);
			expect(json.envelopes).toHaveLength(1);
			const [envelope] = json.envelopes;
			const open = (seed: Uint8Array) =>
				unwrapContactKey({
					nonce: envelope.nonce,
					box: envelope.box,
					senderPublicKey: fromB64u(envelope.fromPublicKey),
					mySeed: seed,
					accounts: [alice.accountId, bob.accountId],
					version: 1,
				});
			expect(open(device.keys.seed).key).toEqual(key);
			for (const other of devices.filter((d) => d.deviceId !== device.deviceId))
				expectCryptoError(() => open(other.keys.seed), "open_failed");
		}
	});

	it("refuses a decline with no request to decline, and a second decline, and changes nothing", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const nothing = await api(`/api/contacts/${alice.accountId}/decline`, { method: "POST", token: bob.token });
		expect(nothing.status).toBe(404);
		expect(nothing.json.error.code).toBe("not_found");
		expect((await api("/api/contacts", { token: bob.token })).json.contacts).toEqual([]);

		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		expect((await api(`/api/contacts/${alice.accountId}/decline`, { method: "POST", token: bob.token })).status).toBe(200);
		const again = await api(`/api/contacts/${alice.accountId}/decline`, { method: "POST", token: bob.token });
		expect(again.status).toBe(404);
		expect(again.json.error.code).toBe("not_found");
		expect((await api("/api/contacts", { token: bob.token })).json.contacts).toEqual([
			expect.objectContaining({ accountId: alice.accountId, state: "declined" }),
		]);
		expect((await api("/api/contacts", { token: alice.token })).json.contacts).toEqual([
			expect.objectContaining({ accountId: bob.accountId, state: "declined" }),
		]);
	});

	it("refuses to block yourself or an account that does not exist, and changes nothing", async () => {
		const alice = await registerUser("alice");
		const self = await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: alice.token });
		expect(self.status).toBe(400);
		expect(self.json.error.code).toBe("bad_request");
		const unknown = await api(`/api/contacts/${newMessageId()}/block`, { method: "POST", token: alice.token });
		expect(unknown.status).toBe(404);
		expect(unknown.json.error.code).toBe("not_found");
		expect((await api("/api/contacts", { token: alice.token })).json.contacts).toEqual([]);
	});

	it("a blocked account's requests vanish silently", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		const blocked = await api(`/api/contacts/${alice.accountId}/block`, { method: "POST", token: bob.token });
		expect(blocked.json.contact.state).toBe("blocked");
		const req = await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		expect(req.status).toBe(201);
		expect((await api("/api/contacts", { token: bob.token })).json.contacts[0].state).toBe("blocked");
	});

	it("refuses unknown handles, yourself, duplicates, accepting what was never asked, and other accounts' keys", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		expect((await api("/api/contacts", { token: alice.token, body: { handle: "nobody_here" } })).json.error.code).toBe("not_found");
		expect((await api("/api/contacts", { token: alice.token, body: { handle: alice.handle } })).json.error.code).toBe("bad_request");
		await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		expect((await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } })).json.error.code).toBe("conflict");
		const envelopes = await envelopesFor(bob, alice, generateContactKey());
		const selfAccept = await api(`/api/contacts/${bob.accountId}/accept`, { token: alice.token, body: { keyVersion: 1, envelopes } });
		expect(selfAccept.json.error.code).toBe("not_found");
		const stranger = await registerUser("eve");
		expect((await api(`/api/contacts/${bob.accountId}/keys`, { token: stranger.token })).status).toBe(404);
		expect((await api(`/api/contacts/${bob.accountId}/devices`, { token: stranger.token })).status).toBe(404);
		expect((await api(`/api/contacts/not-an-id/keys`, { token: alice.token })).status).toBe(404);
		expect((await api("/api/contacts", { body: { handle: bob.handle } })).status).toBe(401);
	});
});
