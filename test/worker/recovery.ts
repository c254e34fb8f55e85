import { toB64u } from "../../common/encoding.ts";
import { type DeviceKeys, generateDeviceKeys, randomBytes, signDetached } from "../../common/nacl.ts";
import type { SignedDeviceList } from "../../common/protocol/device-list.ts";
import { recoverMessage, recoveryKeyMessage } from "../../common/protocol/signing.ts";
import { api, signIn, type TestUser } from "./helpers.ts";
import { currentList, nextList } from "./linking.ts";

/**
 * Account recovery as the clients do it, seen from the relay. The client derives the
 * recovery key pair from 12 words; the relay only ever sees its public key, so any Ed25519
 * pair stands in for it here, and any bytes for the sealed backup it cannot open.
 */

export const newRecoveryKeys = (): DeviceKeys => generateDeviceKeys();

/** What a device sends to register `recovery`: its public key, signed by `signer` (the identity key, unless a test says otherwise). */
export function recoveryKeyBody(user: TestUser, recovery: DeviceKeys, signer: Uint8Array = user.identity.seed) {
	const recoveryKey = toB64u(recovery.publicKey);
	return { recoveryKey, signature: toB64u(signDetached(signer, recoveryKeyMessage(user.accountId, recoveryKey))) };
}

export function registerRecoveryKey(user: TestUser, recovery: DeviceKeys, signer?: Uint8Array) {
	return api("/api/account/recovery", { method: "PUT", token: user.token, body: recoveryKeyBody(user, recovery, signer) });
}

/** A sealed backup as the relay sees it: a nonce and bytes it cannot read. */
export function sealedBackupOf(version: number, boxBytes = 200): { version: number; nonce: string; box: string } {
	return { version, nonce: toB64u(randomBytes(24)), box: toB64u(randomBytes(boxBytes)) };
}

export function putBackup(user: TestUser, backup: { version: number; nonce: string; box: string }) {
	return api("/api/account/backup", { method: "PUT", token: user.token, body: backup });
}

/** An account ready to be recovered: a recovery key registered and a first backup stored. */
export async function withRecovery(user: TestUser): Promise<{ recovery: DeviceKeys; backup: ReturnType<typeof sealedBackupOf> }> {
	const recovery = newRecoveryKeys();
	const registered = await registerRecoveryKey(user, recovery);
	if (registered.status !== 200) throw new Error(`registering the recovery key failed: ${JSON.stringify(registered.json)}`);
	const backup = sealedBackupOf(1);
	const stored = await putBackup(user, backup);
	if (stored.status !== 200) throw new Error(`storing the backup failed: ${JSON.stringify(stored.json)}`);
	return { recovery, backup };
}

export async function freshChallenge(): Promise<string> {
	return (await api("/api/auth/challenge", { method: "POST", body: {} })).json.challenge;
}

/** The restore body: the recovery key and the new device's key both sign the restore message. */
export function recoverBody(
	handle: string,
	recovery: DeviceKeys,
	device: DeviceKeys,
	challenge: string,
	opts: { deviceName?: string; recoverySigner?: Uint8Array } = {},
) {
	const deviceName = opts.deviceName ?? "new laptop";
	const publicKey = toB64u(device.publicKey);
	const message = recoverMessage(challenge, handle, publicKey, deviceName);
	return {
		handle,
		challenge,
		recoveryKey: toB64u(recovery.publicKey),
		signature: toB64u(signDetached(opts.recoverySigner ?? recovery.seed, message)),
		deviceName,
		publicKey,
		deviceSignature: toB64u(signDetached(device.seed, message)),
	};
}

/** A new device that restored the account (or tried to), with its own fresh key. */
export interface RestoringDevice {
	keys: DeviceKeys;
	deviceId: string;
	status: number;
	json: any;
}

export async function restore(
	handle: string,
	recovery: DeviceKeys,
	opts: { challenge?: string; recoverySigner?: Uint8Array; deviceName?: string } = {},
): Promise<RestoringDevice> {
	const keys = generateDeviceKeys();
	const challenge = opts.challenge ?? (await freshChallenge());
	const res = await api("/api/recovery", { body: recoverBody(handle, recovery, keys, challenge, opts) });
	return { keys, deviceId: res.json?.deviceId, status: res.status, json: res.json };
}

/** The restored device signed in, still pending, holding the identity key it opened from the backup (here: `user`'s). */
export async function restoredDevice(user: TestUser, recovery: DeviceKeys): Promise<TestUser> {
	const restored = await restore(user.handle, recovery);
	if (restored.status !== 201) throw new Error(`restore failed: ${JSON.stringify(restored.json)}`);
	const session = await signIn(restored.keys);
	if (session.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(session.json)}`);
	return { ...user, deviceId: restored.deviceId, keys: restored.keys, token: session.json.token };
}

/** The next list with `device` in it, signed by the identity key `device` holds, as a restoring client signs it. */
export async function listWith(device: TestUser): Promise<SignedDeviceList> {
	return nextList(
		await currentList(device),
		{ add: { deviceId: device.deviceId, publicKey: toB64u(device.keys.publicKey) } },
		device.identity,
	);
}

export async function completeRecovery(caller: TestUser, deviceId: string, deviceList?: SignedDeviceList) {
	const list = deviceList ?? (await listWith(caller));
	return api(`/api/devices/${deviceId}/recover`, { token: caller.token, body: { deviceList: list } });
}
