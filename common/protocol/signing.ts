/**
 * The exact bytes a key signs. Domain-separated so a signature made for one purpose can never
 * be replayed as another (a login signature is not a registration, a registration is not a
 * device list, and a link claim is neither).
 */
const encoder = new TextEncoder();

/** Signed by the first device's key: binds the handle, the device and the account's identity key. */
export const registrationMessage = (handle: string, publicKey: string, deviceName: string, identityKey: string): Uint8Array =>
	encoder.encode(`sm-register/2\n${handle}\n${publicKey}\n${deviceName}\n${identityKey}`);

/** Signed by the new account's identity key: proves the registering device holds it. */
export const identityProofMessage = (handle: string, identityKey: string, publicKey: string): Uint8Array =>
	encoder.encode(`sm-identity/1\n${handle}\n${identityKey}\n${publicKey}`);

export const loginMessage = (challenge: string): Uint8Array => encoder.encode(`sm-login/1\n${challenge}`);

/** Signed by a new device's own key when it claims a link code: proves it holds the key it names. */
export const linkClaimMessage = (handle: string, linkId: string, publicKey: string, deviceName: string): Uint8Array =>
	encoder.encode(`sm-link-claim/1\n${handle}\n${linkId}\n${publicKey}\n${deviceName}`);

/** Signed by the account's identity key: this recovery key may restore the account (it replaces any earlier one). */
export const recoveryKeyMessage = (accountId: string, recoveryKey: string): Uint8Array =>
	encoder.encode(`sm-recovery-key/1\n${accountId}\n${recoveryKey}`);

/**
 * Signed by the recovery key, and by the new device's own key: restore the account with this
 * handle onto this new device. The challenge is a fresh login challenge, so a signature is
 * good once.
 */
export const recoverMessage = (challenge: string, handle: string, publicKey: string, deviceName: string): Uint8Array =>
	encoder.encode(`sm-recover/1\n${challenge}\n${handle}\n${publicKey}\n${deviceName}`);
