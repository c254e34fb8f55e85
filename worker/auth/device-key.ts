import { ed25519 } from "@noble/curves/ed25519.js";

/**
 * An Ed25519 public key a device may register: a valid point that is not of small order.
 * Small-order keys would make every crypto_box to that device use a predictable shared key.
 */
export function isUsableDeviceKey(publicKey: Uint8Array): boolean {
	try {
		return !ed25519.Point.fromBytes(publicKey).isSmallOrder();
	} catch {
		return false;
	}
}
