import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { entropyToMnemonic, mnemonicToEntropy } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { CryptoError } from "../../common/crypto-error.ts";
import { concatBytes, equalBytes, fromB64u, toB64u, utf8Decode, utf8Encode } from "../../common/encoding.ts";
import { type DeviceKeys, deviceKeysFromSeed, generateDeviceKeys, randomBytes } from "../../common/nacl.ts";
import { openFromDevice, sealForDevice } from "./device-box.ts";

/**
 * The recovery key: 128 random bits made on the device and shown as 12 words of the BIP-39
 * English list (their checksum catches a mistyped word), never sent anywhere. No PIN or
 * passphrase is offered instead: the relay is not a vault that could limit guesses, so only
 * a key too large to guess may stand in for every device at once.
 *
 * One Ed25519 key pair is derived from it (HKDF-SHA-256). Its public key is registered with
 * the account; it signs a restore, and its X25519 form is what the key backup is sealed to,
 * so every device can write the backup while only the recovery key opens it.
 */
export const RECOVERY_ENTROPY_BYTES = 16;

export function newRecoveryWords(): string {
	return entropyToMnemonic(randomBytes(RECOVERY_ENTROPY_BYTES), wordlist);
}

/** Words as a person types them back: case, extra spaces and line breaks do not matter. */
export function parseRecoveryWords(text: string): Uint8Array {
	const words = String(text).trim().toLowerCase().split(/\s+/).join(" ");
	try {
		const entropy = mnemonicToEntropy(words, wordlist);
		if (entropy.length !== RECOVERY_ENTROPY_BYTES) throw new Error("wrong length");
		return entropy;
	} catch {
		throw new CryptoError("bad_encoding", "a recovery key is 12 words from the recovery word list, in their order");
	}
}

/** The recovery key pair (HKDF-SHA-256, salt "sm-recovery/1", info "recovery key"). */
export function recoveryKeyPair(entropy: Uint8Array): DeviceKeys {
	const seed = hkdf(sha256, entropy, utf8Encode("sm-recovery/1"), utf8Encode("recovery key"), 32);
	return deviceKeysFromSeed(seed);
}

/** What the sealed backup holds: enough to become a device of the account with no other device. */
export interface BackupContents {
	identity: { seed: string; publicKey: string };
	contactKeys: Array<{ peerId: string; version: number; key: string; lists: Record<string, number> }>;
	/** Pinned identity keys of contacts, and which ones the person verified. */
	trust: Array<{ accountId: string; identityKey: string; verified: boolean }>;
	savedAt: number;
}

const head = (accountId: string): Uint8Array => utf8Encode(`sm-backup/1\n${accountId}\n`);

/**
 * Sealed to the recovery key's X25519 form from a fresh key pair made for this one backup;
 * the sealed bytes are that key's public half (32) followed by the crypto_box.
 */
export function sealBackup(recoveryPublicKey: Uint8Array, accountId: string, contents: BackupContents): { nonce: string; box: string } {
	const ephemeral = generateDeviceKeys();
	const plaintext = concatBytes(head(accountId), utf8Encode(JSON.stringify(contents)));
	try {
		const sealed = sealForDevice(plaintext, ephemeral.seed, recoveryPublicKey);
		return { nonce: sealed.nonce, box: toB64u(concatBytes(ephemeral.publicKey, fromB64u(sealed.box))) };
	} finally {
		plaintext.fill(0);
		ephemeral.seed.fill(0);
	}
}

export function openBackup(recovery: DeviceKeys, accountId: string, sealed: { nonce: string; box: string }): BackupContents {
	const bytes = fromB64u(sealed.box);
	if (bytes.length < 32 + 16) throw new CryptoError("bad_envelope", "the backup is too short");
	const plaintext = openFromDevice({ nonce: sealed.nonce, box: toB64u(bytes.subarray(32)) }, bytes.subarray(0, 32), recovery.seed);
	const expected = head(accountId);
	if (!equalBytes(plaintext.subarray(0, expected.length), expected))
		throw new CryptoError("bad_envelope", "the backup is of another account");
	let contents: BackupContents;
	try {
		contents = JSON.parse(utf8Decode(plaintext.subarray(expected.length)));
	} catch {
		throw new CryptoError("bad_envelope", "the backup does not hold what a backup holds");
	} finally {
		plaintext.fill(0);
	}
	if (typeof contents?.identity?.seed !== "string" || !Array.isArray(contents.contactKeys) || !Array.isArray(contents.trust)) {
		throw new CryptoError("bad_envelope", "the backup does not hold what a backup holds");
	}
	return contents;
}
