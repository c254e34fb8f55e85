import { describe, expect, it } from "vitest";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import {
	type BackupContents,
	newRecoveryWords,
	openBackup,
	parseRecoveryWords,
	recoveryKeyPair,
	sealBackup,
} from "../../client/core/recovery-key.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { expectCryptoError } from "../support/expect-crypto-error.ts";

const ACCOUNT = toB64u(randomBytes(16));
const identity = generateAccountIdentity();
const contents: BackupContents = {
	identity: { seed: toB64u(identity.seed), publicKey: toB64u(identity.publicKey) },
	contactKeys: [{ peerId: toB64u(randomBytes(16)), version: 2, key: toB64u(randomBytes(32)), lists: { a: 1, b: 3 } }],
	trust: [{ accountId: toB64u(randomBytes(16)), identityKey: toB64u(randomBytes(32)), verified: true }],
	savedAt: 1_700_000_000_000,
};

describe("the recovery key", () => {
	it("is 12 words holding 128 fresh bits, read back whatever the case and spacing", () => {
		const words = newRecoveryWords();
		expect(words.split(" ")).toHaveLength(12);
		expect(parseRecoveryWords(words)).toHaveLength(16);
		expect(parseRecoveryWords(`  ${words.toUpperCase().replace(/ /g, "\n  ")} `)).toEqual(parseRecoveryWords(words));
		expect(newRecoveryWords()).not.toBe(words);
	});

	it("refuses a mistyped word, a word missing and words in another order (the checksum sees them)", () => {
		const words = newRecoveryWords().split(" ");
		expectCryptoError(() => parseRecoveryWords([...words.slice(0, 11), "notaword"].join(" ")), "bad_encoding");
		expectCryptoError(() => parseRecoveryWords(words.slice(0, 11).join(" ")), "bad_encoding");
		const swapped = [words[1], words[0], ...words.slice(2)].join(" ");
		// One in 16 swaps keeps a valid checksum by chance; then the key differs instead.
		let differs = true;
		try {
			differs = toB64u(parseRecoveryWords(swapped)) !== toB64u(parseRecoveryWords(words.join(" ")));
		} catch {
			differs = true;
		}
		expect(differs).toBe(true);
	});

	it("derives one key pair, the same every time for the same words", () => {
		const words = newRecoveryWords();
		expect(recoveryKeyPair(parseRecoveryWords(words)).publicKey).toEqual(recoveryKeyPair(parseRecoveryWords(words)).publicKey);
		expect(recoveryKeyPair(parseRecoveryWords(newRecoveryWords())).publicKey).not.toEqual(
			recoveryKeyPair(parseRecoveryWords(words)).publicKey,
		);
	});
});

describe("the sealed key backup", () => {
	const recovery = recoveryKeyPair(parseRecoveryWords(newRecoveryWords()));

	it("is sealed with the recovery public key alone and opens with the recovery key", () => {
		const sealed = sealBackup(recovery.publicKey, ACCOUNT, contents);
		expect(openBackup(recovery, ACCOUNT, sealed)).toEqual(contents);
		// Nothing of what it holds is readable in the sealed form.
		expect(sealed.box).not.toContain(contents.identity.seed);
	});

	it("does not open with another recovery key, for another account, or changed", () => {
		const sealed = sealBackup(recovery.publicKey, ACCOUNT, contents);
		const other = recoveryKeyPair(parseRecoveryWords(newRecoveryWords()));
		expectCryptoError(() => openBackup(other, ACCOUNT, sealed), "open_failed");
		expectCryptoError(() => openBackup(recovery, toB64u(randomBytes(16)), sealed), "bad_envelope");
		const flipped = sealed.box.slice(0, 60) + (sealed.box[60] === "A" ? "B" : "A") + sealed.box.slice(61);
		expect(() => openBackup(recovery, ACCOUNT, { ...sealed, box: flipped })).toThrow();
	});
});
