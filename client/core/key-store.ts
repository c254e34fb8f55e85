import type { SignedDeviceList } from "../../common/protocol/device-list.ts";
import type { ListVersions } from "./contact-key.ts";
import type { AccountIdentity } from "./identity-key.ts";
import type { IncomingNumbers, MessageNumber, OutgoingNumbers } from "./message-numbers.ts";
import { SdkError } from "./sdk-error.ts";

/** What a device keeps about itself. The seeds never leave the device. */
export interface DeviceIdentity {
	/** This device's Ed25519 key. */
	seed: Uint8Array;
	publicKey: Uint8Array;
	accountId: string;
	deviceId: string;
	handle: string;
	/** The account's identity key; absent while a newly linked device waits for approval. */
	account?: AccountIdentity;
	/** A linked device waiting for approval: the link code's id and MAC key, to check what the approver sends. */
	link?: { linkId: string; macKey: Uint8Array };
}

/** A device that holds the account's identity key: approved and linked, registered, or restored. */
export type IdentityHolder = DeviceIdentity & { account: AccountIdentity };

/** `me`, if it holds the identity key; otherwise `device_pending` with `message` (it still waits for approval). */
export function requireIdentityKey(me: DeviceIdentity, message: string): IdentityHolder {
	if (!me.account) throw new SdkError("device_pending", message);
	return me as IdentityHolder;
}

/**
 * What this device believes about one account's keys (its own or a contact's): the identity
 * key pinned on first use and the newest signed device list it verified under it.
 */
export interface TrustRecord {
	accountId: string;
	identityKey: string;
	list: SignedDeviceList;
	/** The person compared safety numbers (or scanned the code) and said they match. */
	verified: boolean;
	/** The identity key changed and the person has not looked yet; `wasVerified` blocks sending until they do. */
	changed?: { from: string; at: number; wasVerified: boolean };
}

export interface StoredContactKey {
	peerId: string;
	version: number;
	key: Uint8Array;
	lists: ListVersions;
}

/** How many message ids a store must remember at least, for de-duplicating re-delivered messages. */
export const SEEN_IDS_KEPT = 10_000;

/**
 * What a store remembers of a message it has seen: its sender and its id. Ids are chosen by
 * their sender and unique per sender only, so a contact's frame under the id of a message of
 * someone else's is another message, never a duplicate of that one (nor that one of it).
 */
export const seenKey = (from: string, id: string): string => `${from}:${id}`;

/**
 * Everything a device keeps between sessions: its identity, the contact keys it has unwrapped,
 * what it trusts about each account's keys, and the ids of messages it has already shown.
 *
 * Every method is async and touches one kind of record, so a browser store can back each
 * call with a single IndexedDB transaction (an object store per kind: identity, contact keys
 * keyed by [peerId, version], trust keyed by account id, seen ids with an insertion counter
 * for trimming). Byte arrays handed in or out are the caller's: a store keeps and returns its own copies.
 */
export interface KeyStore {
	getIdentity(): Promise<DeviceIdentity | null>;
	setIdentity(identity: DeviceIdentity | null): Promise<void>;

	getContactKey(peerId: string, version: number): Promise<Uint8Array | undefined>;
	/** `lists`: which device list of each account the key version was shared under (from its envelope). */
	putContactKey(peerId: string, version: number, key: Uint8Array, lists: ListVersions): Promise<void>;
	getKeyLists(peerId: string, version: number): Promise<ListVersions | undefined>;
	/** The highest key version held for this peer, if any. */
	latestVersion(peerId: string): Promise<number | undefined>;
	/** Every contact key held, for the sealed key backup. */
	listContactKeys(): Promise<StoredContactKey[]>;

	getTrust(accountId: string): Promise<TrustRecord | undefined>;
	putTrust(record: TrustRecord): Promise<void>;
	listTrust(): Promise<TrustRecord[]>;

	/** `key`: the message's seenKey (sender and id). */
	hasSeen(key: string): Promise<boolean>;
	/**
	 * Remember a seenKey, with the message's number where it has one (this account's own
	 * messages: an edit or delete of one names it). The newest SEEN_IDS_KEPT must be kept;
	 * older ones may be forgotten.
	 */
	markSeen(key: string, number?: MessageNumber): Promise<void>;
	/** The number remembered with a seenKey, if any. */
	seenNumber(key: string): Promise<MessageNumber | undefined>;

	/** Message numbers (message-numbers.ts) under a numbersKey: this device's own, or another device's as seen here. */
	getNumbers(key: string): Promise<NumbersRecord | undefined>;
	putNumbers(key: string, record: NumbersRecord): Promise<void>;
}

export type NumbersRecord = OutgoingNumbers | IncomingNumbers;

/** Where a device keeps the numbers it gives its messages to `peerId`, and those it has seen from `device` in that conversation. */
export const numbersKey = {
	outgoing: (peerId: string): string => `out:${peerId}`,
	incoming: (peerId: string, device: string): string => `in:${peerId}:${device}`,
};

/** A deep enough copy of an identity that the caller's arrays are never the store's. */
export function copyIdentity(identity: DeviceIdentity): DeviceIdentity {
	const out: DeviceIdentity = {
		seed: identity.seed.slice(),
		publicKey: identity.publicKey.slice(),
		accountId: identity.accountId,
		deviceId: identity.deviceId,
		handle: identity.handle,
	};
	if (identity.account) out.account = { seed: identity.account.seed.slice(), publicKey: identity.account.publicKey.slice() };
	if (identity.link) out.link = { linkId: identity.link.linkId, macKey: identity.link.macKey.slice() };
	return out;
}

export function copyTrust(record: TrustRecord): TrustRecord {
	return structuredClone(record);
}
