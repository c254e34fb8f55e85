import { equalBytes, fromB64u, toB64u } from "../../common/encoding.ts";
import {
	boxPublicKeyFromEd25519,
	boxSecretKeyFromSeed,
	cryptoBox,
	cryptoBoxAfter,
	cryptoBoxBefore,
	cryptoBoxOpen,
	NONCE_BYTES,
	randomBytes,
} from "../../common/nacl.ts";

/** An envelope on the wire: a crypto_box and its nonce, both base64url. */
export interface SealedBox {
	nonce: string;
	box: string;
}

/** Something that seals plaintexts for one device: a one-off sealForDevice, or a DeviceChannel. */
export interface Sealer {
	seal(plaintext: Uint8Array): SealedBox;
}

/** How many devices' X25519 public keys are kept converted (each ~100 bytes with its key). */
export const BOX_PUBLIC_KEYS_KEPT = 1024;

/**
 * Devices' X25519 public keys, converted from their Ed25519 keys. The conversion checks the
 * point is in the prime-order subgroup (a scalar multiplication: about as slow as the X25519
 * itself), and the same few devices come back for every envelope, so each is checked once.
 * These are public values, kept without wiping; bounded, least recently used out first,
 * because every contact's devices pass through here. A key that fails the check is not kept:
 * it throws bad_key each time.
 */
export class BoxPublicKeys {
	// A Map iterates in insertion order; a hit is moved to the end, so the first is the oldest.
	private readonly converted = new Map<string, Uint8Array>();

	constructor(readonly limit = BOX_PUBLIC_KEYS_KEPT) {
		if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`BoxPublicKeys: bad limit ${limit}`);
	}

	get size(): number {
		return this.converted.size;
	}

	/** The X25519 public key of this Ed25519 public key: a copy, so no caller can change what is kept. */
	of(edPublicKey: Uint8Array): Uint8Array {
		const id = toB64u(edPublicKey);
		let key = this.converted.get(id);
		if (key) {
			this.converted.delete(id);
		} else {
			key = boxPublicKeyFromEd25519(edPublicKey);
			if (this.converted.size >= this.limit) {
				const oldest = this.converted.keys().next().value as string;
				this.converted.delete(oldest);
			}
		}
		this.converted.set(id, key);
		return key.slice();
	}
}

/** The one table of the process (public values: every client of the page may share it). */
export const boxPublicKeys = new BoxPublicKeys();

/**
 * crypto_box from one device to another, both named by their Ed25519 keys (converted to
 * X25519): the one construction every envelope uses, for contact keys and the identity key.
 * The caller's plaintext is theirs to wipe; the derived secret key is wiped here.
 */
export function sealForDevice(plaintext: Uint8Array, senderSeed: Uint8Array, targetPublicKey: Uint8Array): SealedBox {
	const nonce = randomBytes(NONCE_BYTES);
	const secret = boxSecretKeyFromSeed(senderSeed);
	try {
		return { nonce: toB64u(nonce), box: toB64u(cryptoBox(plaintext, nonce, boxPublicKeys.of(targetPublicKey), secret)) };
	} finally {
		secret.fill(0);
	}
}

/** Opens what sealForDevice made; throws CryptoError (open_failed) if it was not sealed by that sender for this device. */
export function openFromDevice(sealed: SealedBox, senderPublicKey: Uint8Array, mySeed: Uint8Array): Uint8Array {
	const secret = boxSecretKeyFromSeed(mySeed);
	try {
		return cryptoBoxOpen(fromB64u(sealed.box), fromB64u(sealed.nonce), boxPublicKeys.of(senderPublicKey), secret);
	} finally {
		secret.fill(0);
	}
}

/**
 * Boxes from one device to one other, all under one crypto_box_beforenm: the X25519 and
 * HSalsa20 are done once, and each seal is a secretbox under a fresh random nonce (24 random
 * bytes: no two of the many boxes under this key share one). The envelopes are byte for byte
 * what sealForDevice makes for that nonce. Wipe it when the batch is done.
 */
export class DeviceChannel implements Sealer {
	private shared: Uint8Array | null;

	constructor(shared: Uint8Array) {
		this.shared = shared;
	}

	seal(plaintext: Uint8Array): SealedBox {
		if (!this.shared) throw new Error("DeviceChannel: sealed after wipe()");
		const nonce = randomBytes(NONCE_BYTES);
		return { nonce: toB64u(nonce), box: toB64u(cryptoBoxAfter(plaintext, nonce, this.shared)) };
	}

	wipe(): void {
		this.shared?.fill(0);
		this.shared = null;
	}
}

/**
 * This device's sending side for a session: its X25519 secret, converted from its seed once
 * rather than for every envelope, and channels from it to other devices. It holds nothing
 * the session does not already hold (the seed); wipe() when the session ends.
 */
export class DeviceSender {
	private secret: Uint8Array | null;
	private readonly publicKey: Uint8Array;

	constructor(keys: { seed: Uint8Array; publicKey: Uint8Array }) {
		this.secret = boxSecretKeyFromSeed(keys.seed);
		this.publicKey = keys.publicKey.slice();
	}

	/** Whether this is the sender of the device with this Ed25519 public key. */
	isFor(publicKey: Uint8Array): boolean {
		return this.secret !== null && equalBytes(this.publicKey, publicKey);
	}

	/** One X25519 for every box to this device from here on (throws bad_key for a key that is no device's). */
	channelTo(targetPublicKey: Uint8Array): DeviceChannel {
		if (!this.secret) throw new Error("DeviceSender: used after wipe()");
		return new DeviceChannel(cryptoBoxBefore(boxPublicKeys.of(targetPublicKey), this.secret));
	}

	wipe(): void {
		this.secret?.fill(0);
		this.secret = null;
	}
}
