/**
 * Client-side crypto against TweetNaCl and libsodium (WebAssembly), in this process, one after
 * the other: secretbox seal + open of 1 KiB and 1 MiB, and key envelopes (crypto_box of a
 * contact key for one device) wrapped and opened.
 *
 * "ours (nacl.ts)" is the primitive layer, directly comparable with the two libraries;
 * "ours (message-seal.ts)" adds what a message costs on top (JSON header, base64url, header
 * check); "ours (contact-key.ts)" is a full envelope as the SDK makes one, including the
 * Ed25519 → X25519 conversion of both device keys, which libsodium is also timed with.
 * "after beforenm" rows are envelopes to one device that share one crypto_box_beforenm, as
 * device approval makes them (ContactKeyRing.wrapAllFor): a secretbox each.
 */
import sodium from "libsodium-wrappers";
import nacl from "tweetnacl";
import { unwrapContactKey, wrapContactKey, wrapContactKeyTo } from "../../client/core/contact-key.ts";
import { DeviceSender } from "../../client/core/device-box.ts";
import { openMessage, sealMessage } from "../../client/core/message-seal.ts";
import { toB64u, utf8Encode } from "../../common/encoding.ts";
import {
	boxPublicKeyFromEd25519,
	boxSecretKeyFromSeed,
	cryptoBox,
	cryptoBoxAfter,
	cryptoBoxBefore,
	cryptoBoxOpen,
	deviceKeysFromSeed,
	randomBytes,
	secretboxOpen,
	secretboxSeal,
} from "../../common/nacl.ts";

export interface CryptoRow {
	/** What was timed, e.g. "seal+open 1 KiB". */
	operation: string;
	implementation: string;
	opsPerSecond: number;
	/** Plaintext megabytes (2^20) per second for seal+open rows. */
	mbPerSecond: number | null;
	iterations: number;
}

export interface CryptoOptions {
	/** Time spent on each row after warm-up. */
	budgetMs: number;
}

/** Run `op` for about `budgetMs` after a short warm-up; returns ops per second and iterations. */
function timeOp(op: () => void, budgetMs: number): { opsPerSecond: number; iterations: number } {
	const warmUntil = performance.now() + Math.min(100, budgetMs / 4);
	do op();
	while (performance.now() < warmUntil);
	let iterations = 0;
	const start = performance.now();
	let elapsed = 0;
	do {
		op();
		iterations++;
		elapsed = performance.now() - start;
	} while (elapsed < budgetMs || iterations < 3);
	return { opsPerSecond: (iterations * 1000) / elapsed, iterations };
}

const KIB = 1024;
const MIB = 1024 * 1024;

function sealOpenRows(size: number, label: string, budgetMs: number): CryptoRow[] {
	const key = randomBytes(32);
	const nonce = randomBytes(24);
	const plain = randomBytes(size);
	const rows: CryptoRow[] = [];
	const add = (implementation: string, op: () => void) => {
		const { opsPerSecond, iterations } = timeOp(op, budgetMs);
		rows.push({ operation: `seal+open ${label}`, implementation, opsPerSecond, mbPerSecond: (opsPerSecond * size) / MIB, iterations });
	};
	add("ours (nacl.ts)", () => {
		const box = secretboxSeal(key, nonce, plain);
		secretboxOpen(key, nonce, box);
	});
	add("TweetNaCl", () => {
		const box = nacl.secretbox(plain, nonce, key);
		if (!nacl.secretbox.open(box, nonce, key)) throw new Error("TweetNaCl could not open its box");
	});
	add("libsodium", () => {
		const box = sodium.crypto_secretbox_easy(plain, nonce, key);
		sodium.crypto_secretbox_open_easy(box, nonce, key);
	});
	// A text message of the same size: what the SDK seals, with its header, JSON and base64url.
	const id = toB64u(randomBytes(16));
	const header = { id, from: id, fromDevice: id, to: id, keyVersion: 1, kind: "text", sentAt: Date.now() };
	const text = "x".repeat(size);
	add("ours (message-seal.ts, text message)", () => {
		const sealed = sealMessage(key, header, { text });
		openMessage(key, header, sealed.nonce, sealed.box);
	});
	return rows;
}

function envelopeRows(budgetMs: number): CryptoRow[] {
	const rows: CryptoRow[] = [];
	const add = (operation: string, implementation: string, op: () => void) => {
		const { opsPerSecond, iterations } = timeOp(op, budgetMs);
		rows.push({ operation, implementation, opsPerSecond, mbPerSecond: null, iterations });
	};
	const sender = deviceKeysFromSeed(randomBytes(32));
	const target = deviceKeysFromSeed(randomBytes(32));
	const accounts: [string, string] = [toB64u(randomBytes(16)), toB64u(randomBytes(16))];
	const contactKey = randomBytes(32);
	// The envelope plaintext: context prefix ‖ key (PROTOCOL.md), the same bytes for every library.
	const lists = { [accounts[0]]: 1, [accounts[1]]: 1 };
	const [lo, hi] = accounts[0] < accounts[1] ? accounts : [accounts[1], accounts[0]];
	const plaintext = new Uint8Array([...utf8Encode(`sm-contact-key/2\n${lo}\n${hi}\n1\n1\n1\n`), ...contactKey]);
	const nonce = randomBytes(24);

	// Full envelopes as the SDK makes and opens them: from Ed25519 device keys.
	const wrapped = wrapContactKey({
		accounts,
		version: 1,
		lists,
		key: contactKey,
		senderSeed: sender.seed,
		targetPublicKey: target.publicKey,
	});
	add("envelope wrap (from Ed25519 keys)", "ours (contact-key.ts)", () => {
		wrapContactKey({ accounts, version: 1, lists, key: contactKey, senderSeed: sender.seed, targetPublicKey: target.publicKey });
	});
	add("envelope open (from Ed25519 keys)", "ours (contact-key.ts)", () => {
		unwrapContactKey({ ...wrapped, senderPublicKey: sender.publicKey, mySeed: target.seed, accounts, version: 1 });
	});
	const sodiumSender = sodium.crypto_sign_seed_keypair(sender.seed);
	const sodiumTarget = sodium.crypto_sign_seed_keypair(target.seed);
	add("envelope wrap (from Ed25519 keys)", "libsodium", () => {
		const secret = sodium.crypto_sign_ed25519_sk_to_curve25519(sodiumSender.privateKey);
		const theirs = sodium.crypto_sign_ed25519_pk_to_curve25519(sodiumTarget.publicKey);
		sodium.crypto_box_easy(plaintext, nonce, theirs, secret);
	});
	const sodiumBox = sodium.crypto_box_easy(
		plaintext,
		nonce,
		sodium.crypto_sign_ed25519_pk_to_curve25519(sodiumTarget.publicKey),
		sodium.crypto_sign_ed25519_sk_to_curve25519(sodiumSender.privateKey),
	);
	add("envelope open (from Ed25519 keys)", "libsodium", () => {
		const secret = sodium.crypto_sign_ed25519_sk_to_curve25519(sodiumTarget.privateKey);
		const theirs = sodium.crypto_sign_ed25519_pk_to_curve25519(sodiumSender.publicKey);
		sodium.crypto_box_open_easy(sodiumBox, nonce, theirs, secret);
	});

	// Many envelopes for one device (device approval): one beforenm, then a secretbox each.
	const channel = new DeviceSender(sender).channelTo(target.publicKey);
	add("envelope wrap, after beforenm (many for one device)", "ours (contact-key.ts, DeviceChannel)", () => {
		wrapContactKeyTo(channel, { accounts, version: 1, lists, key: contactKey });
	});
	const sodiumShared = sodium.crypto_box_beforenm(
		sodium.crypto_sign_ed25519_pk_to_curve25519(sodiumTarget.publicKey),
		sodium.crypto_sign_ed25519_sk_to_curve25519(sodiumSender.privateKey),
	);
	add("envelope wrap, after beforenm (many for one device)", "libsodium", () => {
		// The same nonce source as ours (WebCrypto): libsodium.js's randombytes_buf costs more than the box.
		sodium.crypto_box_easy_afternm(plaintext, randomBytes(24), sodiumShared);
	});

	// crypto_box alone, from X25519 keys (TweetNaCl has no Ed25519 → X25519 conversion).
	const senderBoxSecret = boxSecretKeyFromSeed(sender.seed);
	const targetBoxSecret = boxSecretKeyFromSeed(target.seed);
	const senderBoxPublic = boxPublicKeyFromEd25519(sender.publicKey);
	const targetBoxPublic = boxPublicKeyFromEd25519(target.publicKey);
	const box = cryptoBox(plaintext, nonce, targetBoxPublic, senderBoxSecret);
	add("crypto_box (from X25519 keys)", "ours (nacl.ts)", () => {
		cryptoBox(plaintext, nonce, targetBoxPublic, senderBoxSecret);
	});
	add("crypto_box_open (from X25519 keys)", "ours (nacl.ts)", () => {
		cryptoBoxOpen(box, nonce, senderBoxPublic, targetBoxSecret);
	});
	add("crypto_box (from X25519 keys)", "TweetNaCl", () => {
		nacl.box(plaintext, nonce, targetBoxPublic, senderBoxSecret);
	});
	add("crypto_box_open (from X25519 keys)", "TweetNaCl", () => {
		if (!nacl.box.open(box, nonce, senderBoxPublic, targetBoxSecret)) throw new Error("TweetNaCl could not open the envelope");
	});
	add("crypto_box (from X25519 keys)", "libsodium", () => {
		sodium.crypto_box_easy(plaintext, nonce, targetBoxPublic, senderBoxSecret);
	});
	add("crypto_box_open (from X25519 keys)", "libsodium", () => {
		sodium.crypto_box_open_easy(box, nonce, senderBoxPublic, targetBoxSecret);
	});
	// The afternm half alone: a secretbox under the shared key, as every library computes it.
	const shared = cryptoBoxBefore(targetBoxPublic, senderBoxSecret);
	add("crypto_box_afternm (shared key)", "ours (nacl.ts)", () => {
		cryptoBoxAfter(plaintext, nonce, shared);
	});
	add("crypto_box_afternm (shared key)", "TweetNaCl", () => {
		nacl.box.after(plaintext, nonce, shared);
	});
	add("crypto_box_afternm (shared key)", "libsodium", () => {
		sodium.crypto_box_easy_afternm(plaintext, nonce, shared);
	});
	return rows;
}

export async function runCryptoBench(opts: CryptoOptions): Promise<CryptoRow[]> {
	await sodium.ready;
	return [...sealOpenRows(KIB, "1 KiB", opts.budgetMs), ...sealOpenRows(MIB, "1 MiB", opts.budgetMs), ...envelopeRows(opts.budgetMs)];
}
