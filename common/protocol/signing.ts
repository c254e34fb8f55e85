/**
 * The exact bytes a device signs. Domain-separated so a signature made for one purpose can
 * never be replayed as another (a login signature is not a registration, and neither is a
 * device approval).
 */
const encoder = new TextEncoder();

export const registrationMessage = (handle: string, publicKey: string, deviceName: string): Uint8Array =>
	encoder.encode(`sm-register/1\n${handle}\n${publicKey}\n${deviceName}`);

export const loginMessage = (challenge: string): Uint8Array => encoder.encode(`sm-login/1\n${challenge}`);

export const deviceRequestMessage = (handle: string, publicKey: string, deviceName: string): Uint8Array =>
	encoder.encode(`sm-add-device/1\n${handle}\n${publicKey}\n${deviceName}`);

/** Signed by the approving device: binds the new key to this account and device id. */
export const approvalMessage = (accountId: string, deviceId: string, publicKey: string): Uint8Array =>
	encoder.encode(`sm-approve-device/1\n${accountId}\n${deviceId}\n${publicKey}`);
