/** What a device keeps about itself. The seed is its Ed25519 private key and never leaves the device. */
export interface DeviceIdentity {
	seed: Uint8Array;
	publicKey: Uint8Array;
	accountId: string;
	deviceId: string;
	handle: string;
}

/** How many message ids a store must remember at least, for de-duplicating re-delivered messages. */
export const SEEN_IDS_KEPT = 10_000;

/**
 * Everything a device keeps between sessions: its identity, the contact keys it has unwrapped,
 * and the ids of messages it has already shown.
 *
 * Every method is async and touches one kind of record, so a browser store can back each
 * call with a single IndexedDB transaction (an object store per kind: identity, contact keys
 * keyed by [peerId, version], seen ids with an insertion counter for trimming).
 * Byte arrays handed in or out are the caller's: a store keeps and returns its own copies.
 */
export interface KeyStore {
	getIdentity(): Promise<DeviceIdentity | null>;
	setIdentity(identity: DeviceIdentity | null): Promise<void>;

	getContactKey(peerId: string, version: number): Promise<Uint8Array | undefined>;
	putContactKey(peerId: string, version: number, key: Uint8Array): Promise<void>;
	/** The highest key version held for this peer, if any. */
	latestVersion(peerId: string): Promise<number | undefined>;

	hasSeen(messageId: string): Promise<boolean>;
	/** Remember an id. The newest SEEN_IDS_KEPT ids must be kept; older ones may be forgotten. */
	markSeen(messageId: string): Promise<void>;
}
