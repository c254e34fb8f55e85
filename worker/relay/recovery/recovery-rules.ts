import { fromB64u } from "../../../common/encoding.ts";
import { verifyDetached } from "../../../common/nacl.ts";
import { b64uLength } from "../../../common/protocol/schema.ts";
import { MAX_BACKUP_BYTES } from "../../../common/protocol/wire.ts";

/**
 * The rules of account recovery, pure so each is testable without a runtime. The relay holds
 * only the recovery public key and a sealed backup, so what it decides is narrow: which key
 * may be registered, which backup is the next one, and whether a restore proves the key.
 */

/**
 * The one answer to a restore that does not prove the account's recovery key: an unknown
 * handle, no key, another key, a bad signature and no backup all read the same, so a
 * stranger learns neither whether a key nor whether a backup exists.
 */
export const RECOVERY_MISMATCH = "The recovery key does not match this account.";

export const HOUR_MS = 3_600_000;

/** Ed25519 over `message` by `publicKey`, false (never a throw) for anything malformed. */
export function signedBy(publicKey: string, message: Uint8Array, signature: string): boolean {
	try {
		return verifyDetached(fromB64u(publicKey), message, fromB64u(signature));
	} catch {
		return false;
	}
}

/**
 * Why `candidate` is not the next backup, or null. One more than the stored version (1 for
 * the first): a device writing from an older copy would otherwise drop keys another device
 * added since, so it must fetch the newest, merge, and write again.
 */
export function backupVersionRefusal(stored: number | null, candidate: number): string | null {
	const next = (stored ?? 0) + 1;
	if (candidate === next) return null;
	return stored === null
		? "There is no backup yet: the first one is version 1."
		: `The stored backup is version ${stored}: fetch it and send version ${next}.`;
}

/** Over MAX_BACKUP_BYTES once decoded; the length of unpadded base64url tells without decoding. */
export function isBackupTooLarge(box: string): boolean {
	return box.length > b64uLength(MAX_BACKUP_BYTES);
}

/** What a restore is checked against: the account as its object holds it. */
export interface RecoveryState {
	recoveryKey: string | null;
	hasBackup: boolean;
}

/** A restore attempt: the key it names and its signature over the restore message. */
export interface RecoveryProof {
	recoveryKey: string;
	signature: string;
	message: Uint8Array;
}

/**
 * Whether the attempt proves the account's current recovery key. Without a backup there is
 * nothing a new device could restore, so that fails the same way as a wrong key.
 */
export function provesRecoveryKey(state: RecoveryState, proof: RecoveryProof): boolean {
	if (state.recoveryKey === null || !state.hasBackup) return false;
	if (proof.recoveryKey !== state.recoveryKey) return false;
	return signedBy(state.recoveryKey, proof.message, proof.signature);
}

/**
 * How long until another attempt may be made, or null if one may now. `failures` are the
 * times of recent failed attempts, newest first (at least `limit` of them if there are that
 * many): once `limit` failed within `windowMs`, nothing is tried, not even the right key, or
 * the answer to it would tell a guess apart from the rest.
 */
export function attemptsRefusal(failures: readonly number[], now: number, limit: number, windowMs = HOUR_MS): number | null {
	const inWindow = failures.filter((at) => at > now - windowMs);
	if (inWindow.length < limit) return null;
	// The oldest of the newest `limit` failures leaves the window first and frees an attempt.
	const freeing = [...inWindow].sort((a, b) => b - a)[limit - 1] as number;
	return freeing + windowMs - now;
}
