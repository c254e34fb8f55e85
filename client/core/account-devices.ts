import { CryptoError } from "../../common/crypto-error.ts";
import { fromB64u, toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { hasValidSignature, type SignedDeviceList, signDeviceList } from "../../common/protocol/device-list.ts";
import { linkClaimMessage } from "../../common/protocol/signing.ts";
import { type Contact, type DeviceInfo, type HistoryOffer, registerRequest } from "../../common/protocol/wire.ts";
import { type ApiClient, parseInput } from "./api-client.ts";
import type { ContactKeyRing } from "./contact-key-ring.ts";
import { type AccountIdentity, generateAccountIdentity, unwrapIdentityKey, wrapIdentityKey } from "./identity-key.ts";
import { type DeviceIdentity, type KeyStore, requireIdentityKey } from "./key-store.ts";
import {
	claimProof,
	deriveLinkKeys,
	formatLinkCode,
	type LinkKeys,
	linkConfirmation,
	macMatches,
	newLinkCode,
	parseLinkCode,
} from "./link-code.ts";
import { lists } from "./list-trust.ts";
import type { AccountInfo, OwnDevice } from "./messenger-types.ts";
import { SdkError } from "./sdk-error.ts";
import type { SessionKeeper } from "./session-keeper.ts";
import type { TrustBook } from "./trust-book.ts";

export interface AccountDevicesDeps {
	store: KeyStore;
	api: ApiClient;
	session: SessionKeeper;
	trust: TrustBook;
	keys: ContactKeyRing;
	identity: () => Promise<DeviceIdentity>;
	/** The identity already loaded, if any (a pending device frame is checked without waiting). */
	cachedIdentity: () => DeviceIdentity | null;
	setIdentity: (identity: DeviceIdentity) => Promise<void>;
	contacts: () => Promise<Contact[]>;
	report: (error: SdkError) => void;
}

/** A link code this device showed, kept in memory only: its secret never leaves this device. */
interface OpenLink {
	keys: LinkKeys;
	expiresAt: number;
}

/**
 * This account's devices as the account's identity key sees them: linking a new device by
 * one-time code (both ends), approving and removing devices with the next signed device
 * list, and resetting the identity key. Every list this signs names exactly the devices of
 * the verified list before it, plus or minus one.
 */
export class AccountDevices {
	private readonly openLinks = new Map<string, OpenLink>();

	constructor(private readonly deps: AccountDevicesDeps) {}

	/**
	 * Join an existing account as a new device with the link code an approved device of it
	 * shows (typed or scanned). The device's key is made here; it waits as `pending` until
	 * that device approves it, and then receives the account's identity key (finishLinking,
	 * which runs by itself when the approval arrives).
	 */
	async linkWithCode(code: string, deviceName: string): Promise<AccountInfo> {
		if (await this.deps.store.getIdentity()) throw new SdkError("conflict", "This store already holds a device identity.");
		let parsed: ReturnType<typeof parseLinkCode>;
		try {
			parsed = parseLinkCode(code);
		} catch (err) {
			if (err instanceof CryptoError) throw new SdkError("bad_request", `That is not a link code: ${err.message}.`);
			throw err;
		}
		const name = parseInput(registerRequest.shape.deviceName, deviceName, "deviceName");
		const link = deriveLinkKeys(parsed);
		const keys = generateDeviceKeys();
		const publicKey = toB64u(keys.publicKey);
		const { handle } = parsed;
		const signature = toB64u(signDetached(keys.seed, linkClaimMessage(handle, link.linkId, publicKey, name)));
		const proof = claimProof(link, { handle, publicKey, deviceName: name });
		const claimed = await this.deps.api.claimLink({ handle, linkId: link.linkId, deviceName: name, publicKey, signature, proof });
		const identity: DeviceIdentity = { ...keys, accountId: claimed.accountId, deviceId: claimed.deviceId, handle, link };
		await this.deps.setIdentity(identity);
		return { accountId: claimed.accountId, deviceId: claimed.deviceId, handle };
	}

	/**
	 * A linked device, once approved: fetch the identity key its approver wrapped for it and
	 * check it before keeping it — the link confirmation (a MAC under the code's key) names
	 * this identity key and this device, the seed inside is that key, and the signed list
	 * under it lists this device. Resolves false while still pending.
	 */
	async finishLinking(): Promise<boolean> {
		const me = await this.deps.identity();
		if (me.account) return true;
		if (!me.link) throw new SdkError("untrusted", "This device holds no identity key and no link to finish.", { reason: "link_approval" });
		if ((await this.deps.session.login()).deviceStatus !== "approved") return false;
		const [envelope, served] = await Promise.all([
			this.deps.session.withToken((t) => this.deps.api.identityEnvelope(t)),
			this.deps.session.withToken((t) => this.deps.api.devices(t)),
		]);
		const list = served.deviceList;
		const myKey = toB64u(me.publicKey);
		const refuse = (why: string) => {
			const error = new SdkError("untrusted", `The approval of this device was refused: ${why}.`, { reason: "link_approval" });
			this.deps.report(error);
			return error;
		};
		if (!list || list.accountId !== me.accountId || !hasValidSignature(list)) throw refuse("the relay served no valid signed device list");
		if (!lists(list, me.deviceId, myKey)) throw refuse("the signed device list does not name this device");
		if (!lists(list, envelope.fromDevice, envelope.fromPublicKey)) throw refuse("the identity key came from a device not in the list");
		const expected = linkConfirmation(me.link, {
			accountId: me.accountId,
			identityKey: list.identityKey,
			deviceId: me.deviceId,
			publicKey: myKey,
		});
		if (envelope.linkConfirm === undefined || !macMatches(expected, envelope.linkConfirm)) {
			throw refuse("the link confirmation does not match the code (the identity key is not the one the code's device holds)");
		}
		const account = openIdentity(me, list.identityKey, envelope);
		if (account instanceof CryptoError) throw refuse(`the identity envelope does not open (${account.code})`);
		const { link: _, ...rest } = me;
		const identity: DeviceIdentity = { ...rest, account };
		await this.deps.setIdentity(identity);
		await this.deps.trust.own();
		return true;
	}

	/**
	 * Show a one-time link code for a new device of this account (as a QR code and typed).
	 * The code's secret stays in this client's memory: approve the new device here.
	 */
	async createLinkCode(): Promise<{ code: string; linkId: string; expiresAt: number }> {
		const me = requireIdentityKey(await this.deps.identity(), "Only an approved device can link another.");
		const code = newLinkCode(me.handle);
		const keys = deriveLinkKeys(code);
		const opened = await this.deps.session.withToken((t) => this.deps.api.openLink(t, keys.linkId));
		this.openLinks.set(keys.linkId, { keys, expiresAt: opened.expiresAt });
		return { code: formatLinkCode(code), linkId: keys.linkId, expiresAt: opened.expiresAt };
	}

	/** Withdraw a link code before anyone used it. */
	async cancelLinkCode(linkId: string): Promise<void> {
		this.openLinks.delete(linkId);
		await this.deps.session.withToken((t) => this.deps.api.cancelLink(t, linkId));
	}

	/** This account's devices, each marked whether the account's signed device list certifies it. */
	async devices(): Promise<OwnDevice[]> {
		const me = await this.deps.identity();
		if (!me.account) {
			const served = await this.deps.session.withToken((t) => this.deps.api.devices(t));
			return served.devices.map((d) => ({ ...d, certified: false }));
		}
		return (await this.deps.trust.own()).devices;
	}

	/**
	 * Whether a pending device may be approved here: it claimed a code this client showed,
	 * with a proof made from that code's secret over its own key and name.
	 */
	checkLinkRequest(device: DeviceInfo): "valid" | "invalid" | "not_here" {
		const open = device.link && this.openLinks.get(device.link.linkId);
		if (!device.link || !open) return "not_here";
		const me = this.deps.cachedIdentity();
		if (!me) return "not_here";
		const expected = claimProof(open.keys, { handle: me.handle, publicKey: device.publicKey, deviceName: device.name });
		return macMatches(expected, device.link.proof) ? "valid" : "invalid";
	}

	/**
	 * Approve a device that claimed a link code this client showed: certify it in the next
	 * signed device list, hand it the identity key and every contact key, and confirm the
	 * identity key to it under the code's key, and, when `historyOffer` is given, the offer of
	 * this device's history it makes. A claim whose proof fails is rejected.
	 */
	async approveDevice(
		deviceId: string,
		opts: { historyOffer?: (target: { deviceId: string; publicKey: string }) => HistoryOffer } = {},
	): Promise<DeviceInfo> {
		const me = requireIdentityKey(await this.deps.identity(), "Only an approved device can approve another.");
		const own = await this.deps.trust.own();
		const target = own.devices.find((d) => d.deviceId === deviceId && d.status === "pending");
		if (!target) throw new SdkError("not_found", "There is no pending device with that id.");
		const verdict = this.checkLinkRequest(target);
		if (verdict === "not_here") throw new SdkError("forbidden", "Approve a new device on the device that shows its link code.");
		if (verdict === "invalid") {
			await this.rejectDevice(deviceId).catch(() => undefined);
			throw new SdkError("untrusted", "That device's claim does not match the link code: it was rejected.", { reason: "link_claim" });
		}
		const link = this.openLinks.get(target.link?.linkId as string) as OpenLink;
		const identityKey = toB64u(me.account.publicKey);
		const deviceList = signDeviceList(
			{
				accountId: me.accountId,
				version: own.list.version + 1,
				lastRemoval: own.list.lastRemoval,
				identityKey,
				devices: [...own.list.devices, { deviceId, publicKey: target.publicKey }],
			},
			me.account.seed,
		);
		const identityEnvelope = wrapIdentityKey({
			accountId: me.accountId,
			identity: me.account,
			senderSeed: me.seed,
			targetPublicKey: fromB64u(target.publicKey),
		});
		const linkConfirm = linkConfirmation(link.keys, { accountId: me.accountId, identityKey, deviceId, publicKey: target.publicKey });
		const accepted = (await this.deps.contacts()).filter((c) => c.state === "accepted").map((c) => c.accountId);
		const envelopes = await this.deps.keys.wrapAllFor(accepted, { deviceId, publicKey: target.publicKey });
		const history = opts.historyOffer?.({ deviceId, publicKey: target.publicKey });
		const device = await this.deps.session.withToken((t) =>
			this.deps.api.approveDevice(t, deviceId, { deviceList, identityEnvelope, linkConfirm, envelopes, ...(history && { history }) }),
		);
		this.openLinks.delete(link.keys.linkId);
		await this.deps.trust.own();
		return device;
	}

	/**
	 * Replace the account's identity key, as after losing a device that held it: a new key
	 * signs the next list of the same devices, and is wrapped for each other device. Every
	 * contact sees an identity change (and one who had verified this account must look before
	 * writing again). The account's other devices take the new key from the envelope made by
	 * a device they already trusted.
	 */
	async resetIdentity(): Promise<void> {
		const me = requireIdentityKey(await this.deps.identity(), "Only an approved device can reset the account's identity.");
		const own = await this.deps.trust.own();
		const account = generateAccountIdentity();
		const deviceList = signDeviceList(
			{
				accountId: me.accountId,
				version: own.list.version + 1,
				lastRemoval: own.list.lastRemoval,
				identityKey: toB64u(account.publicKey),
				devices: own.list.devices,
			},
			account.seed,
		);
		const identityEnvelopes = own.list.devices
			.filter((d) => d.deviceId !== me.deviceId)
			.map((d) => ({
				deviceId: d.deviceId,
				...wrapIdentityKey({ accountId: me.accountId, identity: account, senderSeed: me.seed, targetPublicKey: fromB64u(d.publicKey) }),
			}));
		await this.deps.session.withToken((t) => this.deps.api.publishDeviceList(t, { deviceList, identityEnvelopes }));
		const identity: DeviceIdentity = { ...me, account };
		await this.deps.setIdentity(identity);
		await this.deps.trust.own();
	}

	/**
	 * Another device of this account reset the identity key: take the new key if it came from
	 * a device in the list this device trusted before, and the new list (under the new key)
	 * still names both. Anything else is the relay's doing and is refused.
	 */
	async adoptOwnReset(list: SignedDeviceList): Promise<boolean> {
		const me = await this.deps.identity();
		const before = await this.deps.store.getTrust(me.accountId);
		if (!me.account || !before || list.identityKey === toB64u(me.account.publicKey)) return false;
		if (list.accountId !== me.accountId || list.version <= before.list.version || !hasValidSignature(list)) return false;
		let envelope: Awaited<ReturnType<ApiClient["identityEnvelope"]>>;
		try {
			envelope = await this.deps.session.withToken((t) => this.deps.api.identityEnvelope(t));
		} catch (err) {
			// No envelope for this device: the list is refused below as not this account's.
			if (err instanceof SdkError) return false;
			throw err;
		}
		const trustedSender =
			lists(before.list, envelope.fromDevice, envelope.fromPublicKey) && lists(list, envelope.fromDevice, envelope.fromPublicKey);
		if (!trustedSender || !lists(list, me.deviceId, toB64u(me.publicKey))) return false;
		const account = openIdentity(me, list.identityKey, envelope);
		if (account instanceof CryptoError) return false;
		const identity: DeviceIdentity = { ...me, account };
		await this.deps.setIdentity(identity);
		return true;
	}

	/** Turn a pending device away. */
	rejectDevice(deviceId: string): Promise<DeviceInfo> {
		return this.revokeDevice(deviceId);
	}

	/**
	 * Remove a device (also this one). An approved device leaves the signed list (the next
	 * version, with lastRemoval set), its sockets close and its keys stop working; every
	 * contact key is then rotated, which each side checks against that list.
	 */
	async revokeDevice(deviceId: string): Promise<DeviceInfo> {
		const me = await this.deps.identity();
		if (!me.account) return this.deps.session.withToken((t) => this.deps.api.revokeDevice(t, deviceId));
		const own = await this.deps.trust.own();
		if (!own.list.devices.some((d) => d.deviceId === deviceId)) {
			return this.deps.session.withToken((t) => this.deps.api.revokeDevice(t, deviceId));
		}
		const version = own.list.version + 1;
		const deviceList = signDeviceList(
			{
				accountId: me.accountId,
				version,
				lastRemoval: version,
				identityKey: own.list.identityKey,
				devices: own.list.devices.filter((d) => d.deviceId !== deviceId),
			},
			me.account.seed,
		);
		const device = await this.deps.session.withToken((t) => this.deps.api.revokeDevice(t, deviceId, { deviceList }));
		if (deviceId !== me.deviceId) await this.deps.trust.own().catch(() => undefined);
		return device;
	}
}

/** The identity key from an envelope wrapped for this device, or the CryptoError saying why it does not open. */
function openIdentity(
	me: DeviceIdentity,
	identityKey: string,
	envelope: { nonce: string; box: string; fromPublicKey: string },
): AccountIdentity | CryptoError {
	try {
		return unwrapIdentityKey({
			accountId: me.accountId,
			identityKey,
			nonce: envelope.nonce,
			box: envelope.box,
			senderPublicKey: fromB64u(envelope.fromPublicKey),
			mySeed: me.seed,
		});
	} catch (err) {
		if (err instanceof CryptoError) return err;
		throw err;
	}
}
