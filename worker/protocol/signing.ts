/**
 * The exact bytes a device signs. Domain-separated so a signature made for one purpose can
 * never be replayed as another (a login signature is not a registration, and neither is a
 * device approval).
 */
const encoder = new TextEncoder();

export const registrationMessage = (handle: string, publicKey: string, deviceName: string): Uint8Array =>
	encoder.encode(`sm-register/1\n${handle}\n${publicKey}\n${deviceName}`);

export const loginMessage = (challenge: string): Uint8Array => encoder.encode(`sm-login/1\n${challenge}`);
