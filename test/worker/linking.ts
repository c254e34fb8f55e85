import { type ListVersions, unwrapContactKey, wrapContactKey } from "../../client/core/contact-key.ts";
import { type AccountIdentity, unwrapIdentityKey, wrapIdentityKey } from "../../client/core/identity-key.ts";
import { claimProof, deriveLinkKeys, type LinkKeys, linkConfirmation, macMatches, newLinkCode } from "../../client/core/link-code.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { type DeviceKeys, generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { type ListedDevice, type SignedDeviceList, signDeviceList } from "../../common/protocol/device-list.ts";
import { linkClaimMessage } from "../../common/protocol/signing.ts";
import { api, signIn, type TestUser } from "./helpers.ts";

/**
 * Device linking as the clients do it: an approved device opens a link code, a new device
 * claims it, the approver signs the next device list and hands over the identity key and
 * every contact key. And removal, with the next list without the device.
 */

/** The account's signed list as the relay serves it to the account's own devices. */
export async function currentList(user: TestUser): Promise<SignedDeviceList> {
	const { json } = await api("/api/devices", { token: user.token });
	if (!json.deviceList) throw new Error(`no device list: ${JSON.stringify(json)}`);
	return json.deviceList;
}

/** The list after adding and/or removing devices, signed by `identity`. */
export function nextList(
	list: SignedDeviceList,
	change: { add?: ListedDevice; remove?: string },
	identity: AccountIdentity,
	over: Partial<Omit<SignedDeviceList, "signature" | "devices">> = {},
): SignedDeviceList {
	const version = list.version + 1;
	const devices = list.devices.filter((d) => d.deviceId !== change.remove).concat(change.add ? [change.add] : []);
	const lastRemoval = change.remove ? version : list.lastRemoval;
	const { accountId, identityKey } = list;
	return signDeviceList({ accountId, identityKey, version, lastRemoval, devices, ...over }, identity.seed);
}

/** A device that claimed a link code and waits for approval. */
export interface ClaimingDevice {
	keys: DeviceKeys;
	deviceId: string;
	name: string;
	linkKeys: LinkKeys;
	status: number;
	json: any;
}

/** An approved device opens a fresh link code; the relay sees only its link id. */
export async function openLinkCode(user: TestUser): Promise<{ linkKeys: LinkKeys; status: number; json: any }> {
	const linkKeys = deriveLinkKeys(newLinkCode(user.handle));
	const res = await api("/api/devices/links", { token: user.token, body: { linkId: linkKeys.linkId } });
	return { linkKeys, ...res };
}

/** The claim body a new device sends for a code it read. */
export function claimBody(handle: string, linkKeys: LinkKeys, keys: DeviceKeys, deviceName: string) {
	const publicKey = toB64u(keys.publicKey);
	return {
		handle,
		linkId: linkKeys.linkId,
		deviceName,
		publicKey,
		signature: toB64u(signDetached(keys.seed, linkClaimMessage(handle, linkKeys.linkId, publicKey, deviceName))),
		proof: claimProof(linkKeys, { handle, publicKey, deviceName }),
	};
}

export async function claimLinkCode(handle: string, linkKeys: LinkKeys, name = "new phone"): Promise<ClaimingDevice> {
	const keys = generateDeviceKeys();
	const res = await api("/api/devices/link", { body: claimBody(handle, linkKeys, keys, name) });
	return { keys, deviceId: res.json?.deviceId, name, linkKeys, status: res.status, json: res.json };
}

/** A code opened by `user` and claimed by a new device at once. */
export async function askToJoin(user: TestUser, name = "new phone"): Promise<ClaimingDevice> {
	const opened = await openLinkCode(user);
	if (opened.status !== 201) throw new Error(`opening a link failed: ${JSON.stringify(opened.json)}`);
	return claimLinkCode(user.handle, opened.linkKeys, name);
}

export interface HeldKey {
	peerId: string;
	keyVersion: number;
	key: Uint8Array;
	lists: ListVersions;
}

/** Every contact key `user`'s device holds: its envelopes of each contact, opened. */
export async function heldContactKeys(user: TestUser): Promise<HeldKey[]> {
	const { json } = await api("/api/contacts", { token: user.token });
	const held: HeldKey[] = [];
	for (const c of json.contacts.filter((x: any) => x.state === "accepted")) {
		const { json: keys } = await api(`/api/contacts/${c.accountId}/keys`, { token: user.token });
		for (const e of keys.envelopes) {
			const opened = unwrapContactKey({
				nonce: e.nonce,
				box: e.box,
				senderPublicKey: fromB64u(e.fromPublicKey),
				mySeed: user.keys.seed,
				accounts: [user.accountId, c.accountId],
				version: e.keyVersion,
			});
			held.push({ peerId: c.accountId, keyVersion: e.keyVersion, ...opened });
		}
	}
	return held;
}

/** What an approving client sends: the next list with the new device, the identity key and the contact keys wrapped for it. */
export async function approvalBody(
	approver: TestUser,
	device: Pick<ClaimingDevice, "keys" | "deviceId" | "linkKeys">,
	opts: { keys?: HeldKey[]; list?: SignedDeviceList } = {},
) {
	const publicKey = toB64u(device.keys.publicKey);
	const deviceList =
		opts.list ?? nextList(await currentList(approver), { add: { deviceId: device.deviceId, publicKey } }, approver.identity);
	const identityKey = toB64u(approver.identity.publicKey);
	const held = opts.keys ?? (await heldContactKeys(approver));
	return {
		deviceList,
		identityEnvelope: wrapIdentityKey({
			accountId: approver.accountId,
			identity: approver.identity,
			senderSeed: approver.keys.seed,
			targetPublicKey: device.keys.publicKey,
		}),
		linkConfirm: linkConfirmation(device.linkKeys, { accountId: approver.accountId, identityKey, deviceId: device.deviceId, publicKey }),
		// A handed-over key keeps the lists it was first shared under.
		envelopes: held.map((k) => ({
			peerId: k.peerId,
			keyVersion: k.keyVersion,
			...wrapContactKey({
				accounts: [approver.accountId, k.peerId],
				version: k.keyVersion,
				lists: k.lists,
				key: k.key,
				senderSeed: approver.keys.seed,
				targetPublicKey: device.keys.publicKey,
			}),
		})),
	};
}

export async function approve(approver: TestUser, device: ClaimingDevice, opts: { keys?: HeldKey[]; list?: SignedDeviceList } = {}) {
	return api(`/api/devices/${device.deviceId}/approve`, { token: approver.token, body: await approvalBody(approver, device, opts) });
}

/**
 * The approved device as its client then is: signed in, holding the identity key it opened
 * from its envelope, having checked that the approver's confirmation matches the code.
 */
export async function signedInAs(user: TestUser, device: ClaimingDevice): Promise<TestUser> {
	const session = await signIn(device.keys);
	if (session.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(session.json)}`);
	const token = session.json.token;
	const { json: envelope } = await api("/api/devices/identity", { token });
	const list = (await api("/api/devices", { token })).json.deviceList as SignedDeviceList;
	const identity = unwrapIdentityKey({
		accountId: user.accountId,
		identityKey: list.identityKey,
		nonce: envelope.nonce,
		box: envelope.box,
		senderPublicKey: fromB64u(envelope.fromPublicKey),
		mySeed: device.keys.seed,
	});
	const publicKey = toB64u(device.keys.publicKey);
	if (envelope.linkConfirm !== undefined) {
		const expected = linkConfirmation(device.linkKeys, {
			accountId: user.accountId,
			identityKey: list.identityKey,
			deviceId: device.deviceId,
			publicKey,
		});
		if (!macMatches(expected, envelope.linkConfirm)) throw new Error("the link confirmation does not match the code");
	}
	return { ...user, deviceId: device.deviceId, keys: device.keys, token, identity };
}

/** Link a new device to `user`'s account all the way: open, claim, approve (with every contact key `user` holds), sign in. */
export async function linkDevice(user: TestUser, name = "phone"): Promise<TestUser> {
	const claiming = await askToJoin(user, name);
	if (claiming.status !== 201) throw new Error(`claim failed: ${JSON.stringify(claiming.json)}`);
	const approved = await approve(user, claiming);
	if (approved.status !== 200) throw new Error(`approval failed: ${JSON.stringify(approved.json)}`);
	return signedInAs(user, claiming);
}

/** A new device that claimed a code and signed in, still pending. */
export async function pendingDevice(user: TestUser, name = "new phone"): Promise<TestUser & { claim: ClaimingDevice }> {
	const claiming = await askToJoin(user, name);
	if (claiming.status !== 201) throw new Error(`claim failed: ${JSON.stringify(claiming.json)}`);
	const session = await signIn(claiming.keys);
	return { ...user, deviceId: claiming.deviceId, keys: claiming.keys, token: session.json.token, claim: claiming };
}

/** `actor` takes `deviceId` off: an approved device with the next list signed by `actor`'s identity key, a pending one with none. */
export async function removeDevice(actor: TestUser, deviceId: string, opts: { reject?: boolean } = {}) {
	const list = await currentList(actor);
	const listed = list.devices.some((d) => d.deviceId === deviceId);
	const body = listed ? { deviceList: nextList(list, { remove: deviceId }, actor.identity) } : undefined;
	return api(`/api/devices/${deviceId}/${opts.reject ? "reject" : "revoke"}`, { method: "POST", token: actor.token, body });
}
