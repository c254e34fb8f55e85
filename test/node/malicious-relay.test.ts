import { describe, expect, it } from "vitest";
import { type ListVersions, unwrapContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { generateAccountIdentity, wrapIdentityKey } from "../../client/core/identity-key.ts";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import type { IncomingMessage } from "../../client/core/message-receiver.ts";
import { sealReceipt } from "../../client/core/receipt-seal.ts";
import type { SdkError } from "../../client/core/sdk-error.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes } from "../../common/nacl.ts";
import { type SignedDeviceList, signDeviceList, sortDevices } from "../../common/protocol/device-list.ts";
import type { DeviceList } from "../../common/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { HostileRelay } from "../support/hostile-relay.ts";
import { collect, contactPair, linkDevice, type Member, registerMember, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

/**
 * The relay as an adversary: every test puts a HostileRelay (test/support/hostile-relay.ts)
 * between one real SDK client and the real worker and tries one of the ways a server
 * operator could slip a key of its own into a conversation. Each test says whether the
 * client refused it or showed it to the person, and checks that no contact key was ever
 * wrapped for a key the two people did not approve.
 */

/** A device of the relay's own: a key pair it holds, with an id it made up. */
function ghostDevice() {
	const keys = generateDeviceKeys();
	return { keys, deviceId: toB64u(randomBytes(16)), publicKey: toB64u(keys.publicKey) };
}
type Ghost = ReturnType<typeof ghostDevice>;
/** The ghost as a signed list would name it. */
const listed = (ghost: Ghost) => ({ deviceId: ghost.deviceId, publicKey: ghost.publicKey });

const ghostInfo = (ghost: Ghost, status: "approved" | "pending" = "approved") => ({
	deviceId: ghost.deviceId,
	publicKey: ghost.publicKey,
	name: "iPhone",
	status,
	createdAt: Date.now(),
});

/** Every contact-key envelope the client uploaded (accept, rotate, approve) names only real devices, and none opens for the ghost. */
async function expectNothingWrappedFor(hostile: HostileRelay, ghost: Ghost, sender: Member): Promise<void> {
	const senderPublicKey = fromB64u(await publicKeyOf(sender));
	const envelopes = hostile.uploads.flatMap((u) => (Array.isArray(u.body?.envelopes) ? u.body.envelopes : []));
	for (const e of envelopes) {
		expect(e.deviceId).not.toBe(ghost.deviceId);
		expect(() =>
			unwrapContactKey({
				nonce: e.nonce,
				box: e.box,
				senderPublicKey,
				mySeed: ghost.keys.seed,
				accounts: [sender.account.accountId, e.peerId ?? e.accountId],
				version: e.keyVersion ?? 1,
			}),
		).toThrow();
	}
}

/** The member's device key, as its own store holds it. */
async function publicKeyOf(member: Member): Promise<string> {
	const identity = await member.store.getIdentity();
	if (!identity) throw new Error(`${member.account.handle} holds no identity`);
	return toB64u(identity.publicKey);
}

/** Alice behind a hostile relay, Bob honest; both connected. */
async function aliceBehindHostileRelay(): Promise<{ hostile: HostileRelay; alice: Member; bob: Member }> {
	const hostile = new HostileRelay();
	const alice = await registerMember(factory, "alice", hostile.WebSocket, hostile.fetch);
	const bob = await registerMember(factory, "bob");
	await Promise.all([alice.client.connect(), bob.client.connect()]);
	return { hostile, alice, bob };
}

/** Bob asks, Alice (behind the relay) accepts: she makes the contact key and wraps it. */
async function aliceAccepts(alice: Member, bob: Member) {
	const requested = alice.client.waitFor("contact", (c) => c.event === "requested" && c.contact.accountId === bob.account.accountId);
	await bob.client.requestContact(alice.account.handle);
	await requested;
	const accepted = bob.client.waitFor("contact", (c) => c.event === "accepted");
	await alice.client.acceptContact(bob.account.accountId);
	await accepted;
}

const contactDevicesPath = (peerId: string) => new RegExp(`^/api/contacts/${peerId}/devices$`);
const errorsOf = (member: Member): SdkError[] => {
	const seen: SdkError[] = [];
	member.client.on("error", (e) => seen.push(e));
	return seen;
};
const reSigned = (list: SignedDeviceList, by: ReturnType<typeof generateAccountIdentity>, change: Partial<SignedDeviceList> = {}) =>
	signDeviceList({ ...list, identityKey: toB64u(by.publicKey), ...change }, by.seed);

describe("a malicious relay", () => {
	it("adds a ghost to a contact's devices at accept: the ghost is not in the signed list, so it gets no envelope (refused)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		const ghost = ghostDevice();
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({
			...body,
			devices: [...body.devices, ghostInfo(ghost)],
		}));
		await aliceAccepts(alice, bob);
		await expectNothingWrappedFor(hostile, ghost, alice);
		const atBob = collect(bob.client, 1);
		await alice.client.sendText(bob.account.accountId, "only for bob");
		expect((await atBob)[0]?.text).toBe("only for bob");
	});

	it("writes a ghost into a contact's signed list at accept without the identity key: the list fails its signature (refused)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		const ghost = ghostDevice();
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({
			...body,
			deviceList: body.deviceList && { ...body.deviceList, devices: sortDevices([...body.deviceList.devices, listed(ghost)]) },
		}));
		const requested = alice.client.waitFor("contact", (c) => c.event === "requested");
		await bob.client.requestContact(alice.account.handle);
		await requested;
		await expect(alice.client.acceptContact(bob.account.accountId)).rejects.toMatchObject({ code: "untrusted", message: /signature/ });
		await expectNothingWrappedFor(hostile, ghost, alice);
	});

	it("swaps a whole identity of its own in at first contact and strips the ghost's envelope: the safety numbers no longer match (shown)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		const ghost = ghostDevice();
		const fake = generateAccountIdentity();
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({
			...body,
			devices: [...body.devices, ghostInfo(ghost)],
			deviceList: body.deviceList && reSigned(body.deviceList, fake, { devices: sortDevices([...body.deviceList.devices, listed(ghost)]) }),
		}));
		// What the worker must not see, so that it takes the accept: the ghost's envelope.
		hostile.rewriteRequest("POST", /\/accept$/, (body) => ({
			...body,
			envelopes: body.envelopes.filter((e: any) => e.deviceId !== ghost.deviceId),
		}));
		await aliceAccepts(alice, bob);
		// Trust on first use has nothing to compare with; the safety number is what shows it.
		const [aliceSees, bobSees] = await Promise.all([
			alice.client.safetyNumber(bob.account.accountId),
			bob.client.safetyNumber(alice.account.accountId),
		]);
		expect(aliceSees).not.toBe(bobSees);
		expect((await alice.client.contactTrust(bob.account.accountId)).state).toBe("unverified");
	});

	it("sends a rotation_required of its own: ignored, reported, and the key stays as it was (refused)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		await aliceAccepts(alice, bob);
		const errors = errorsOf(alice);
		const contact = (await alice.client.contacts()).find((c) => c.accountId === bob.account.accountId);
		const reported = alice.client.waitFor("error", (e) => /Ignored the relay's request/.test(e.message), 10_000);
		if (!contact) throw new Error("the contact is missing");
		hostile.inject({ type: "contact", event: "rotation_required", contact });
		await reported;
		expect(errors.some((e) => e.code === "untrusted")).toBe(true);
		expect(hostile.uploads.some((u) => u.route.endsWith("/rotate"))).toBe(false);
		expect(await alice.store.latestVersion(bob.account.accountId)).toBe(1);
	});

	it("adds a ghost while a real revocation rotates the key: the new key goes to the remaining signed devices only (refused)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		const bobPhone = await linkDevice(factory, bob, "bob's phone");
		await aliceAccepts(alice, bob);
		const ghost = ghostDevice();
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({
			...body,
			devices: [...body.devices, ghostInfo(ghost)],
		}));
		const rotated = alice.client.waitFor("contact", (c) => c.event === "rotated" && c.contact.keyVersion === 2, 15_000);
		await bob.client.revokeDevice(bobPhone.account.deviceId);
		await rotated;
		await expectNothingWrappedFor(hostile, ghost, alice);
		const atBob = collect(bob.client, 1);
		await alice.client.sendText(bob.account.accountId, "after the phone went");
		expect((await atBob)[0]?.text).toBe("after the phone went");
	});

	it("serves a higher-version envelope wrapped by a ghost it lists: the envelope is refused and the key is not taken (refused)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		await aliceAccepts(alice, bob);
		// The accept starts a key load of its own; a call made while it is on its way joins it
		// (fetched before the rewrites below, under load), so it settles first.
		await alice.client.loadContactKeys(bob.account.accountId);
		const ghost = ghostDevice();
		const planted = randomBytes(32);
		const aliceKey = await publicKeyOf(alice);
		const lists: ListVersions = { [alice.account.accountId]: 1, [bob.account.accountId]: 1 };
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({
			...body,
			devices: [...body.devices, ghostInfo(ghost)],
		}));
		hostile.rewrite("GET", new RegExp(`/api/contacts/${bob.account.accountId}/keys$`), (body) => ({
			envelopes: [
				...body.envelopes,
				{
					keyVersion: 2,
					fromAccount: bob.account.accountId,
					fromDevice: ghost.deviceId,
					fromPublicKey: ghost.publicKey,
					...wrapContactKey({
						accounts: [alice.account.accountId, bob.account.accountId],
						version: 2,
						lists,
						key: planted,
						senderSeed: ghost.keys.seed,
						targetPublicKey: fromB64u(aliceKey),
					}),
				},
			],
		}));
		const reported = alice.client.waitFor("error", (e) => /not in either account's signed device list/.test(e.message), 10_000);
		expect(await alice.client.loadContactKeys(bob.account.accountId)).toEqual([1]);
		await reported;
		expect(await alice.store.getContactKey(bob.account.accountId, 2)).toBeUndefined();
	});

	it("rolls a contact's device list back to an older version: refused", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		await aliceAccepts(alice, bob);
		let oldList: SignedDeviceList | null = null;
		const stopCapture = hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => {
			oldList ??= body.deviceList;
		});
		await alice.client.safetyNumber(bob.account.accountId);
		stopCapture();
		await linkDevice(factory, bob, "bob's phone");
		await alice.client.safetyNumber(bob.account.accountId);
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({ ...body, deviceList: oldList }));
		await expect(alice.client.safetyNumber(bob.account.accountId)).rejects.toMatchObject({ code: "untrusted", message: /older/ });
	});

	it("rolls this account's own list back to before a device was removed: refused", async () => {
		const { hostile, alice } = await aliceBehindHostileRelay();
		const phone = await linkDevice(factory, alice, "alice's phone");
		let withPhone: SignedDeviceList | null = null;
		const stop = hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => {
			withPhone = body.deviceList;
		});
		await alice.client.devices();
		stop();
		await alice.client.revokeDevice(phone.account.deviceId);
		expect((await alice.client.devices()).find((d) => d.deviceId === phone.account.deviceId)?.status).toBe("revoked");
		hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => ({ ...body, deviceList: withPhone }));
		await expect(alice.client.devices()).rejects.toMatchObject({ code: "untrusted", message: /older/ });
	});

	it("swaps a verified contact's identity key: shown as a change, and sending waits until the person acknowledges it (shown)", async () => {
		const { hostile, alice, bob } = await aliceBehindHostileRelay();
		await aliceAccepts(alice, bob);
		await alice.client.setContactVerified(bob.account.accountId, true);
		const fake = generateAccountIdentity();
		hostile.rewrite("GET", contactDevicesPath(bob.account.accountId), (body: DeviceList) => ({
			...body,
			deviceList: body.deviceList && reSigned(body.deviceList, fake, { version: body.deviceList.version + 1 }),
		}));
		const changed = alice.client.waitFor("trust", (t) => t.peerId === bob.account.accountId && t.state === "changed");
		const trust = await alice.client.contactTrust(bob.account.accountId);
		await changed;
		expect(trust).toMatchObject({ state: "changed", blocked: true });
		await expect(alice.client.sendText(bob.account.accountId, "are you still you?")).rejects.toMatchObject({ code: "identity_changed" });
		await expect(alice.client.acceptContact(bob.account.accountId)).rejects.toBeTruthy();
		expect(await alice.client.acknowledgeIdentityChange(bob.account.accountId)).toMatchObject({ state: "unverified", blocked: false });
	});

	it("swaps the new device's key while it links: the claim proof no longer matches, and the approver rejects it (refused)", async () => {
		const { hostile, alice } = await aliceBehindHostileRelay();
		const ghost = ghostDevice();
		const swap = (d: any) => (d?.status === "pending" ? { ...d, publicKey: ghost.publicKey } : d);
		hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => ({ ...body, devices: body.devices.map(swap) }));
		hostile.rewriteFrames((frame) => (frame.type === "device" ? { ...frame, device: swap(frame.device) } : frame));
		const { code } = await alice.client.createLinkCode();
		const rejectedClaim = alice.client.waitFor("error", (e) => e.code === "untrusted" && /without its secret/.test(e.message), 10_000);
		const phone = factory.client(new MemoryKeyStore());
		const joined = await phone.linkWithCode(code, "alice's phone");
		await rejectedClaim;
		await expect(alice.client.approveDevice(joined.deviceId)).rejects.toBeTruthy();
		expect(hostile.uploads.some((u) => u.route.endsWith("/approve"))).toBe(false);
	});

	it("swaps the identity key a linking device receives: the link confirmation does not match, and the device keeps nothing (refused)", async () => {
		const hostile = new HostileRelay();
		const alice = await registerMember(factory, "alice");
		await alice.client.connect();
		const fake = generateAccountIdentity();
		const ghost = ghostDevice();
		const phoneStore = new MemoryKeyStore();
		const phone = factory.client(phoneStore, { fetch: hostile.fetch, WebSocket: hostile.WebSocket });
		const { code } = await alice.client.createLinkCode();
		const requested = alice.client.waitFor("link_request", () => true);
		const joined = await phone.linkWithCode(code, "alice's phone");
		await requested;
		const phoneKey = toB64u(((await phoneStore.getIdentity()) as { publicKey: Uint8Array }).publicKey);
		// The relay's own identity for Alice's account, with the phone and its ghost in it.
		hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => ({
			...body,
			deviceList:
				body.deviceList &&
				reSigned(body.deviceList, fake, {
					devices: sortDevices([...body.deviceList.devices, listed(ghost)]),
				}),
		}));
		hostile.rewrite("GET", /^\/api\/devices\/identity$/, (body) => ({
			...body,
			fromDevice: ghost.deviceId,
			fromPublicKey: ghost.publicKey,
			...wrapIdentityKey({
				accountId: alice.account.accountId,
				identity: fake,
				senderSeed: ghost.keys.seed,
				targetPublicKey: fromB64u(phoneKey),
			}),
		}));
		await alice.client.approveDevice(joined.deviceId);
		await expect(phone.finishLinking()).rejects.toMatchObject({ code: "untrusted", message: /link confirmation/ });
		expect((await phoneStore.getIdentity())?.account).toBeUndefined();
	});

	it("offers a ghost device of its own for approval: without the code's secret its claim is rejected, and the app never lists it as certified (refused)", async () => {
		const { hostile, alice } = await aliceBehindHostileRelay();
		const ghost = ghostDevice();
		const { linkId } = await alice.client.createLinkCode();
		const rejected = alice.client.waitFor("error", (e) => e.code === "untrusted" && /without its secret/.test(e.message), 10_000);
		hostile.inject({
			type: "device",
			event: "pending",
			device: { ...ghostInfo(ghost, "pending"), link: { linkId, proof: toB64u(randomBytes(32)) } },
		});
		await rejected;
		hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => ({ ...body, devices: [...body.devices, ghostInfo(ghost)] }));
		expect((await alice.client.devices()).find((d) => d.deviceId === ghost.deviceId)).toMatchObject({
			status: "approved",
			certified: false,
		});
		await expectNothingWrappedFor(hostile, ghost, alice);
	});

	it("fakes an identity reset of this very account, wrapped by a ghost: the device keeps its key and refuses the list (refused)", async () => {
		const { hostile, alice } = await aliceBehindHostileRelay();
		const ghost = ghostDevice();
		const fake = generateAccountIdentity();
		const aliceKey = fromB64u(await publicKeyOf(alice));
		hostile.rewrite("GET", /^\/api\/devices$/, (body: DeviceList) => ({
			...body,
			deviceList:
				body.deviceList &&
				reSigned(body.deviceList, fake, {
					version: body.deviceList.version + 1,
					devices: sortDevices([...body.deviceList.devices, listed(ghost)]),
				}),
		}));
		hostile.rewrite(
			"GET",
			/^\/api\/devices\/identity$/,
			() => ({
				fromDevice: ghost.deviceId,
				fromPublicKey: ghost.publicKey,
				...wrapIdentityKey({
					accountId: alice.account.accountId,
					identity: fake,
					senderSeed: ghost.keys.seed,
					targetPublicKey: aliceKey,
				}),
			}),
			{ refusals: true },
		);
		const held = (await alice.store.getIdentity())?.account?.publicKey;
		await expect(alice.client.devices()).rejects.toMatchObject({ code: "untrusted", message: /identity key/ });
		expect((await alice.store.getIdentity())?.account?.publicKey).toEqual(held);
	});
});

describe("a malicious relay and delivery receipts", () => {
	/** Alice (behind the relay) and Bob as contacts, and every `delivered` Alice's client reports. */
	async function receiptPair() {
		const hostile = new HostileRelay();
		const { alice, bob } = await contactPair(factory, { aliceSocket: hostile.WebSocket, aliceFetch: hostile.fetch });
		const delivered: Array<{ ids: string[]; peerId: string; deviceId: string }> = [];
		alice.client.on("delivered", (d) => delivered.push(d));
		return { hostile, alice, bob, delivered };
	}

	it("cannot say a message was delivered: only the recipient device's sealed receipt counts (refused)", async () => {
		const { hostile, alice, bob, delivered } = await receiptPair();
		const bobDevice = (await bob.store.getIdentity())?.deviceId as string;
		// The relay holds back the real receipts and writes its own for a message Bob never got.
		hostile.rewriteFrames((f) => (f.type === "receipt" ? null : f));
		const dropped = await alice.client.sendText(bob.account.accountId, "never passed on");
		const real = await alice.client.sendText(bob.account.accountId, "passed on");
		const key = (await alice.store.getContactKey(bob.account.accountId, 1)) as Uint8Array;
		const forged = { type: "receipt", from: bob.account.accountId, fromDevice: bobDevice, id: toB64u(randomBytes(16)), keyVersion: 1 };
		hostile.inject({ ...forged, nonce: toB64u(randomBytes(24)), box: toB64u(randomBytes(80)) });
		// What the relay itself used to say, before receipts were sealed.
		hostile.inject({ type: "delivered", ids: [dropped.id], to: bob.account.accountId, deviceId: bobDevice });
		// A receipt Alice's own device sealed (as for Bob's messages), handed back to her as Bob's, or as her own.
		const me = (await alice.store.getIdentity()) as NonNullable<Awaited<ReturnType<typeof alice.store.getIdentity>>>;
		const hers = sealReceipt(me, bob.account.accountId, { version: 1, key }, [dropped.id]);
		hostile.inject({ type: "receipt", from: bob.account.accountId, fromDevice: bobDevice, ...hers });
		hostile.inject({ type: "receipt", from: alice.account.accountId, fromDevice: me.deviceId, ...hers });
		// Sealed right but under a key the relay made up.
		const madeUp = sealReceipt(
			{ ...me, accountId: bob.account.accountId, deviceId: bobDevice },
			alice.account.accountId,
			{ version: 1, key: randomBytes(32) },
			[dropped.id],
		);
		hostile.inject({ type: "receipt", from: bob.account.accountId, fromDevice: bobDevice, ...madeUp });
		await until(() => false, "the injected frames to be handled", 300).catch(() => undefined);
		expect(delivered).toEqual([]);

		hostile.rewriteFrames(null);
		const third = await alice.client.sendText(bob.account.accountId, "and this one");
		await until(() => delivered.some((d) => d.ids.includes(third.id)), "the real receipt");
		expect(delivered.flatMap((d) => d.ids)).not.toContain(dropped.id);
		expect(delivered.every((d) => d.peerId === bob.account.accountId && d.deviceId === bobDevice)).toBe(true);
		expect(real.id).not.toBe(third.id);
	});
});

describe("a malicious relay and message numbers", () => {
	/** Bob sends, Alice (behind the relay) receives; every message and filled gap she hears. */
	async function numberedPair() {
		const hostile = new HostileRelay();
		const { alice, bob } = await contactPair(factory, { aliceSocket: hostile.WebSocket, aliceFetch: hostile.fetch });
		const messages: IncomingMessage[] = [];
		const filled: string[] = [];
		alice.client.on("message", (m) => messages.push(m));
		alice.client.on("gaps_filled", (g) => filled.push(...g.ids));
		const byText = (text: string) => messages.find((m) => m.text === text);
		return { hostile, alice, bob, messages, filled, byText };
	}

	it("holds a message back: the next one shows that one may be missing, and the mark goes when it comes (shown)", async () => {
		const { hostile, bob, alice, filled, byText } = await numberedPair();
		const to = alice.account.accountId;
		await bob.client.sendText(to, "one");
		await until(() => byText("one") !== undefined, "the first message");
		let held: unknown = null;
		hostile.rewriteFrames((f) => {
			if (f.type !== "message" || held !== null) return f;
			held = f;
			return null;
		});
		await bob.client.sendText(to, "two (held back)");
		await until(() => held !== null, "the relay to hold the second message");
		await bob.client.sendText(to, "three");
		await until(() => byText("three") !== undefined, "the third message");
		expect(byText("one")?.missingBefore).toBeUndefined();
		expect(byText("three")?.missingBefore).toBe(1);

		hostile.inject(held as Record<string, unknown>);
		await until(() => byText("two (held back)") !== undefined, "the held message");
		await until(() => filled.includes(byText("three")?.id as string), "the gap to be filled");
	});

	it("sees no gap where nothing is missing: a refused send, an edit and a delete of messages still queued", async () => {
		const { alice, bob, messages, byText } = await numberedPair();
		const to = alice.account.accountId;
		await bob.client.sendText(to, "first");
		await until(() => byText("first") !== undefined, "the first message");
		// The relay refuses a delete of a message Bob never sent: its number carries nothing.
		await expect(bob.client.deleteMessage(to, toB64u(randomBytes(16)))).rejects.toMatchObject({ code: expect.any(String) });
		await bob.client.sendText(to, "after a refusal");
		await until(() => byText("after a refusal") !== undefined, "the message after the refusal");

		// While Alice is away, Bob edits one queued message and deletes another: the relay swaps
		// and drops them in her queue, so their numbers never reach her as such.
		alice.client.close();
		const edited = await bob.client.sendText(to, "typo");
		await bob.client.sendText(to, "between");
		const deleted = await bob.client.sendText(to, "regretted");
		await bob.client.sendText(to, "last");
		await bob.client.editMessage(to, edited.id, "fixed", { seq: 1 });
		await bob.client.deleteMessage(to, deleted.id);
		const again = factory.client(alice.store);
		const back: IncomingMessage[] = [];
		const filledLater: string[] = [];
		again.on("message", (m) => back.push(m));
		again.on("gaps_filled", (g) => filledLater.push(...g.ids));
		await again.connect();
		await until(() => back.some((m) => m.kind === "delete"), "the delete");
		expect(back.map((m) => (m.kind === "delete" ? "(delete)" : m.text))).toEqual(["fixed", "between", "last", "(delete)"]);
		// The edit took its original's place, ahead of three later numbers: it notices them as
		// missing until "between" and "last" come and the delete accounts for "regretted".
		const noticed = [...messages, ...back].filter((m) => m.missingBefore !== undefined);
		expect(noticed.map((m) => [m.text, m.missingBefore])).toEqual([["fixed", 3]]);
		expect(filledLater).toEqual([edited.id]);
	});
});

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
