import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openMessage } from "../../client/core/message-seal.ts";
import { acceptContact, addApprovedDevice, callSignal, contactPair, newMessageId, sealedSend } from "./fixtures.ts";
import { api, connect, registerUser, type TestSocket, type TestUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));
const queued = (accountId: string) =>
	runInDurableObject(relay(accountId), (_, state) => state.storage.sql.exec<{ msg_id: string }>("SELECT msg_id FROM queue").toArray());
const credits = async (user: TestUser) => (await api("/api/account", { token: user.token })).json.credits as number;
const contactOf = async (owner: TestUser, peer: TestUser) =>
	((await api("/api/contacts", { token: owner.token })).json.contacts as Array<{ accountId: string }>).find(
		(c) => c.accountId === peer.accountId,
	);
const block = (by: TestUser, peer: TestUser) => api(`/api/contacts/${peer.accountId}/block`, { method: "POST", token: by.token });
const unblock = (by: TestUser, peer: TestUser) => api(`/api/contacts/${peer.accountId}/unblock`, { method: "POST", token: by.token });

/** A ping answered proves the socket was open to hear whatever came before it. */
async function settled(socket: TestSocket): Promise<void> {
	socket.send({ type: "ping" });
	await socket.next("pong");
}

describe("blocking, as the blocked side sees it", () => {
	it("a blocked contact's message looks sent and is charged as any, but reaches none of the blocker's devices, now or after", async () => {
		const { alice, bob, key } = await contactPair();
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const aliceSocket = await connect(alice.token);
		await aliceSocket.next("synced");
		const before = {
			contact: await contactOf(alice, bob),
			devices: await api(`/api/contacts/${bob.accountId}/devices`, { token: alice.token }),
		};

		// What a message costs her while she is not blocked…
		const start = await credits(alice);
		const shown = sealedSend(alice, bob, key, "hello");
		aliceSocket.send(shown);
		await aliceSocket.next("sent", (f) => f.id === shown.id);
		await bobSocket.next("message");
		bobSocket.send({ type: "ack", ids: [shown.id], from: alice.accountId });
		const price = start - (await credits(alice));
		expect(price).toBeGreaterThan(0);

		// …is what it costs her once blocked: the same answer, the same charge.
		expect((await block(bob, alice)).json.contact).toMatchObject({ accountId: alice.accountId, state: "blocked" });
		const creditsBefore = await credits(alice);
		const hidden = sealedSend(alice, bob, key, "are you there?");
		aliceSocket.send(hidden);
		const sent = await aliceSocket.next("sent", (f) => f.id === hidden.id);
		expect(sent).toMatchObject({ id: hidden.id });
		expect(await credits(alice)).toBe(creditsBefore - price);
		aliceSocket.send({ type: "typing", to: bob.accountId });

		// Nothing she can ask differs from before the block: the contact, its devices, no error.
		expect(await contactOf(alice, bob)).toEqual(before.contact);
		const devices = await api(`/api/contacts/${bob.accountId}/devices`, { token: alice.token });
		expect([devices.status, devices.json]).toEqual([before.devices.status, before.devices.json]);
		await settled(aliceSocket);
		expect(aliceSocket.frames.filter((f) => f.type === "error" || f.type === "contact")).toEqual([]);

		await settled(bobSocket);
		expect(bobSocket.frames.filter((f) => f.type === "message" || f.type === "typing").map((f) => f.type === "message" && f.id)).toEqual([
			shown.id,
		]);
		expect(await queued(bob.accountId)).toEqual([]);
		// A device of his that comes later finds nothing either.
		const phone = await addApprovedDevice(bob);
		const phoneSocket = await connect(phone.token);
		await phoneSocket.next("synced");
		expect(phoneSocket.frames.filter((f) => f.type === "message")).toEqual([]);
	});

	it("a blocked caller hears what a call that cannot ring hears, and no device of the blocker rings", async () => {
		const { alice, bob, key } = await contactPair();
		await api(`/api/contacts/${alice.accountId}/calls`, { token: bob.token, body: { allow: true } });
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const aliceSocket = await connect(alice.token);
		await aliceSocket.next("synced");
		await block(bob, alice);
		const offer = callSignal(alice, bob, key, newMessageId(), "offer", { sdp: "v=0" });
		aliceSocket.send(offer);
		expect(await aliceSocket.next("error")).toMatchObject({ code: "peer_unreachable", ref: offer.id });
		await settled(bobSocket);
		expect(bobSocket.frames.filter((f) => f.type === "call")).toEqual([]);
	});
});

describe("unblocking", () => {
	it("brings an accepted contact back under the same key, on every device of the blocker; what came meanwhile stays gone", async () => {
		const { alice, bob, key } = await contactPair();
		const bobPhone = await addApprovedDevice(bob);
		const aliceSocket = await connect(alice.token);
		await aliceSocket.next("synced");
		await block(bob, alice);
		const during = sealedSend(alice, bob, key, "while blocked");
		aliceSocket.send(during);
		await aliceSocket.next("sent", (f) => f.id === during.id);

		const phoneSocket = await connect(bobPhone.token);
		await phoneSocket.next("synced");
		const lifted = await unblock(bob, alice);
		expect(lifted.status).toBe(200);
		expect(lifted.json.contact).toMatchObject({ accountId: alice.accountId, state: "accepted", keyVersion: 1 });
		expect(await phoneSocket.next("contact")).toMatchObject({ contact: { accountId: alice.accountId, state: "accepted" } });

		// The next message arrives, sealed under the key both still hold; the one from the block never does.
		const after = sealedSend(alice, bob, key, "after unblock");
		aliceSocket.send(after);
		await aliceSocket.next("sent", (f) => f.id === after.id);
		const arrived = await phoneSocket.next("message");
		expect(arrived).toMatchObject({ id: after.id, from: alice.accountId });
		expect(openMessage(key, arrived, arrived.nonce, arrived.box).body).toEqual({ text: "after unblock" });
		await settled(phoneSocket);
		expect(phoneSocket.frames.filter((f) => f.type === "message").map((f) => f.id)).toEqual([after.id]);
		// Bob can write to her again too.
		const bobSocket = await connect(bob.token);
		await bobSocket.next("synced");
		const reply = sealedSend(bob, alice, key, "sorry");
		bobSocket.send(reply);
		expect(await bobSocket.next("sent")).toMatchObject({ id: reply.id });
		expect(await aliceSocket.next("message")).toMatchObject({ id: reply.id });
	});

	it("finds what the blocked side did meanwhile: a request of ours they accepted comes back accepted, with its key", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		await api("/api/contacts", { token: bob.token, body: { handle: alice.handle } });
		await block(bob, alice);
		// She accepts his request without knowing of the block: she hears what any accept answers.
		await acceptContact(alice, bob);
		expect(await contactOf(alice, bob)).toMatchObject({ state: "accepted", keyVersion: 1 });
		expect(await contactOf(bob, alice)).toMatchObject({ state: "blocked" });

		const lifted = await unblock(bob, alice);
		expect(lifted.json.contact).toMatchObject({ state: "accepted", keyVersion: 1 });
		const keys = await api(`/api/contacts/${alice.accountId}/keys`, { token: bob.token });
		expect(keys.status).toBe(200);
		expect(keys.json.envelopes).toHaveLength(1);
	});

	it("a stranger blocked unasked is a stranger again: either side may ask", async () => {
		const alice = await registerUser("alice");
		const bob = await registerUser("bob");
		await block(bob, alice);
		expect((await unblock(bob, alice)).json.contact).toMatchObject({ state: "declined" });
		const asked = await api("/api/contacts", { token: bob.token, body: { handle: alice.handle } });
		expect(asked.status).toBe(201);
		expect(asked.json.contact.state).toBe("outgoing");
	});

	it("refuses to unblock someone not blocked, unknown or oneself, and changes nothing", async () => {
		const { alice, bob } = await contactPair();
		const stranger = newMessageId();
		for (const path of [`/api/contacts/${alice.accountId}`, `/api/contacts/${stranger}`, `/api/contacts/${bob.accountId}`]) {
			const refused = await api(`${path}/unblock`, { method: "POST", token: bob.token });
			expect([refused.status, refused.json.error.code]).toEqual([404, "not_found"]);
		}
		expect(await contactOf(bob, alice)).toMatchObject({ state: "accepted" });
	});
});

describe("asking an existing contact", () => {
	it("is refused as already_contact, and changes nothing", async () => {
		const { alice, bob } = await contactPair();
		const again = await api("/api/contacts", { token: alice.token, body: { handle: bob.handle } });
		expect([again.status, again.json.error.code]).toEqual([409, "already_contact"]);
		expect(await contactOf(alice, bob)).toMatchObject({ state: "accepted", keyVersion: 1 });
	});
});
