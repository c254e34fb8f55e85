import type { Contact, DeviceInfo, EnvelopeUpload } from "../../../common/protocol/wire.ts";
import type { DeviceLists } from "../devices/device-lists.ts";
import type { DeviceRegistry } from "../devices/device-registry.ts";
import type { RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import {
	completeRotation,
	getContact,
	keyedPeerIds,
	publicContact,
	requireRotation,
	type StoredContact,
	type StoredEnvelope,
	saveEnvelopes,
	sharesKey,
} from "./contact-book.ts";
import { contactFrame } from "./contact-notice.ts";

interface Needs {
	readonly devices: DeviceRegistry;
	readonly lists: DeviceLists;
	readonly hub: SocketHub;
}

/** A contact key version wrapped for every approved device of both accounts, split by whose object stores it. */
export interface KeyHalves {
	mine: StoredEnvelope[];
	theirs: StoredEnvelope[];
}

const rotationConflict = (next: number): RelayResult<never> =>
	refuse("conflict", `The next key version is ${next}; fetch the keys, another device may have rotated already.`);

/**
 * Contact key versions: the first one (a contact accepted) and every later one (a device of
 * either side removed) take the same path — the envelopes must name exactly the approved
 * devices of both accounts, and each object stores its half. A contact blocked since it was
 * accepted still shares its key (contact-book.ts sharesKey): its rotations go on as before,
 * so the blocked side notices nothing and an unblock brings back a key no removed device holds.
 */
export class KeyRotation {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	/**
	 * Check the uploaded envelopes of a new key version against both accounts' approved
	 * devices. Each side's devices wrap only for devices the other's signed list vouches for,
	 * so without both lists there is nothing they could have checked.
	 */
	async prepare(deviceId: string, peerId: string, keyVersion: number, uploads: EnvelopeUpload[]): Promise<RelayResult<KeyHalves>> {
		const listed = await this.host.peer(peerId).deviceListOf(this.host.accountId);
		if (!listed.ok) return listed;
		const peer = listed.value;
		if (this.s.lists.current() === null || peer.deviceList === null) {
			return refuse("conflict", "Both accounts need a signed device list before they share a key; publish yours first.");
		}
		const peerDevices = peer.devices;
		const { accountId } = this.host;
		const mine = this.s.devices.approved();
		const expected = new Set([
			...mine.map((d) => `${accountId}/${d.deviceId}`),
			...peerDevices.map((d: DeviceInfo) => `${peerId}/${d.deviceId}`),
		]);
		const given = new Set(uploads.map((e) => `${e.accountId}/${e.deviceId}`));
		if (given.size !== uploads.length || given.size !== expected.size || [...expected].some((k) => !given.has(k))) {
			return refuse("conflict", "Send exactly one key envelope for every approved device of both accounts; the device list changed.");
		}
		const fromPublicKey = mine.find((d) => d.deviceId === deviceId)?.publicKey as string;
		const stored = (e: EnvelopeUpload): StoredEnvelope => ({
			keyVersion,
			fromAccount: accountId,
			fromDevice: deviceId,
			fromPublicKey,
			deviceId: e.deviceId,
			nonce: e.nonce,
			box: e.box,
		});
		return ok({
			mine: uploads.filter((e) => e.accountId === accountId).map(stored),
			theirs: uploads.filter((e) => e.accountId === peerId).map(stored),
		});
	}

	/**
	 * A new key version after a revocation. Both sides may try at once; so that exactly one key
	 * becomes that version, the object of the lower account id commits every rotation of the
	 * pair and the other side only follows it.
	 */
	async rotate(deviceId: string, peerId: string, keyVersion: number, uploads: EnvelopeUpload[]): Promise<RelayResult<Contact>> {
		const current = getContact(this.host.sql, peerId);
		if (!sharesKey(current)) return refuse("not_found", "No such contact.");
		if (keyVersion !== current.keyVersion + 1) return rotationConflict(current.keyVersion + 1);
		const halves = await this.prepare(deviceId, peerId, keyVersion, uploads);
		if (!halves.ok) return halves;
		const { mine, theirs } = halves.value;
		if (this.host.accountId < peerId) {
			const committed = this.commit(peerId, keyVersion, mine);
			if (committed.ok) await this.host.peer(peerId).theirRotation(this.host.accountId, keyVersion, theirs);
			return committed;
		}
		const owner = await this.host.peer(peerId).ownerRotation(this.host.accountId, keyVersion, theirs);
		if (!owner.ok) return owner;
		await this.follow(peerId, keyVersion, mine);
		return ok(publicContact(getContact(this.host.sql, peerId) as StoredContact));
	}

	/** Synchronous from the version check to the write, so two rotations cannot both pass. */
	commit(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): RelayResult<Contact> {
		const current = getContact(this.host.sql, peerId);
		if (!sharesKey(current)) return refuse("not_found", "No such contact.");
		if (keyVersion !== current.keyVersion + 1) return rotationConflict(current.keyVersion + 1);
		return ok(this.store(peerId, keyVersion, envelopes));
	}

	/** The pair's owner committed a rotation: follow it (an older one arriving late changes nothing). */
	async follow(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Promise<void> {
		const contact = getContact(this.host.sql, peerId);
		if (!sharesKey(contact) || contact.keyVersion >= keyVersion) return;
		this.store(peerId, keyVersion, envelopes);
	}

	private store(peerId: string, keyVersion: number, envelopes: StoredEnvelope[]): Contact {
		saveEnvelopes(this.host.sql, peerId, envelopes);
		completeRotation(this.host.sql, peerId, keyVersion, this.host.now());
		const contact = publicContact(getContact(this.host.sql, peerId) as StoredContact);
		this.s.hub.broadcast(contactFrame("rotated", contact));
		return contact;
	}

	/** One of our devices was revoked: no contact may be written to under the old key, on either side. */
	async requireAfterRevoke(): Promise<void> {
		for (const peerId of requireRotation(this.host.sql)) {
			await this.host.peer(peerId).peerRevokedDevice(this.host.accountId);
			this.announceRequired(peerId);
		}
	}

	/** A contact revoked one of its devices: our side must not send under the old key either. */
	peerRevoked(peerId: string): void {
		requireRotation(this.host.sql, peerId);
		this.announceRequired(peerId);
	}

	private announceRequired(peerId: string): void {
		const contact = getContact(this.host.sql, peerId);
		if (contact) this.s.hub.broadcast(contactFrame("rotation_required", publicContact(contact)));
	}

	/** Our approved devices changed: every contact's safety number for us changes with them. */
	async tellPeersDevicesChanged(): Promise<void> {
		for (const peerId of keyedPeerIds(this.host.sql)) await this.host.peer(peerId).peerDevicesChanged(this.host.accountId);
	}

	/** A contact's approved devices changed. */
	peerDevicesChanged(peerId: string): void {
		const contact = getContact(this.host.sql, peerId);
		if (contact?.state === "accepted") this.s.hub.broadcast(contactFrame("devices_changed", publicContact(contact)));
	}
}
