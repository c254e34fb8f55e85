import { describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { b64uLength } from "../../common/protocol/schema.ts";
import { MAX_BACKUP_BYTES } from "../../common/protocol/wire.ts";
import {
	attemptsRefusal,
	backupVersionRefusal,
	HOUR_MS,
	isBackupTooLarge,
	provesRecoveryKey,
	signedBy,
} from "../../worker/relay/recovery/recovery-rules.ts";

const NOW = 1_700_000_000_000;
// wrangler.toml's default RECOVERY_ATTEMPTS_PER_HOUR.
const LIMIT = 5;

describe("backupVersionRefusal", () => {
	it("takes version 1 as the first backup and nothing else", () => {
		expect(backupVersionRefusal(null, 1)).toBeNull();
		for (const v of [2, 7]) expect(backupVersionRefusal(null, v)).toContain("first one is version 1");
	});

	it("takes exactly one more than the stored version, and names the stored one otherwise", () => {
		expect(backupVersionRefusal(4, 5)).toBeNull();
		for (const v of [1, 3, 4, 6]) expect(backupVersionRefusal(4, v)).toBe("The stored backup is version 4: fetch it and send version 5.");
	});
});

describe("isBackupTooLarge", () => {
	it("allows a box of exactly MAX_BACKUP_BYTES and refuses one byte more, by its base64url length", () => {
		expect(isBackupTooLarge("A".repeat(b64uLength(MAX_BACKUP_BYTES)))).toBe(false);
		expect(isBackupTooLarge("A".repeat(b64uLength(MAX_BACKUP_BYTES + 1)))).toBe(true);
	});
});

describe("provesRecoveryKey", () => {
	const recovery = generateDeviceKeys();
	const recoveryKey = toB64u(recovery.publicKey);
	const message = new TextEncoder().encode("sm-recover/1\nchallenge\nalice\nkey\nlaptop");
	const signature = toB64u(signDetached(recovery.seed, message));
	const proof = { recoveryKey, signature, message };

	it("holds for the stored key signing the message, with a backup to restore", () => {
		expect(provesRecoveryKey({ recoveryKey, hasBackup: true }, proof)).toBe(true);
	});

	it("fails alike without a key, without a backup, for another key, another message and another signer", () => {
		const other = generateDeviceKeys();
		const failing = [
			provesRecoveryKey({ recoveryKey: null, hasBackup: true }, proof),
			provesRecoveryKey({ recoveryKey, hasBackup: false }, proof),
			provesRecoveryKey({ recoveryKey: toB64u(other.publicKey), hasBackup: true }, proof),
			provesRecoveryKey({ recoveryKey, hasBackup: true }, { ...proof, message: new TextEncoder().encode("another restore") }),
			provesRecoveryKey({ recoveryKey, hasBackup: true }, { ...proof, signature: toB64u(signDetached(other.seed, message)) }),
		];
		expect(failing).toEqual([false, false, false, false, false]);
	});

	it("never throws on malformed input", () => {
		expect(signedBy("not base64url!", proof.message, signature)).toBe(false);
		expect(signedBy(recoveryKey, proof.message, "AAAA")).toBe(false);
	});
});

describe("attemptsRefusal", () => {
	it("lets attempts through while fewer than the limit failed within the hour", () => {
		expect(attemptsRefusal([], NOW, LIMIT)).toBeNull();
		expect(attemptsRefusal([NOW - 1, NOW - 2, NOW - 3, NOW - 4], NOW, LIMIT)).toBeNull();
	});

	it("refuses once the limit failed, until the oldest of them is an hour old", () => {
		const failures = [NOW - 10, NOW - 20, NOW - 30, NOW - 40, NOW - 50];
		expect(attemptsRefusal(failures, NOW, LIMIT)).toBe(HOUR_MS - 50);
		expect(attemptsRefusal(failures, NOW + HOUR_MS - 51, LIMIT)).toBe(1);
		expect(attemptsRefusal(failures, NOW + HOUR_MS - 50, LIMIT)).toBeNull();
	});

	it("counts only failures within the window, whatever order they come in", () => {
		const failures = [NOW - 3, NOW - HOUR_MS, NOW - 1, NOW - 2 * HOUR_MS, NOW - 4, NOW - 2];
		expect(attemptsRefusal(failures, NOW, LIMIT)).toBeNull();
		expect(attemptsRefusal([...failures, NOW - 5], NOW, LIMIT)).toBe(HOUR_MS - 5);
	});
});
