import { createECDH, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromB64u, toB64u, utf8Encode } from "../../common/encoding.ts";
import {
	importEcdhPrivateKey,
	importVapidKeys,
	isP256Point,
	sealPushPayload,
	VAPID_TOKEN_TTL_SECONDS,
	vapidAuthorization,
	WebPushKeyError,
} from "../../worker/relay/push/web-push-crypto.ts";
import { checkVapid, openPushBody } from "../support/push-stand-in.ts";
import { TEST_VAPID } from "../support/test-vapid.ts";

/**
 * The relay's Web Push cryptography (worker/relay/push/web-push-crypto.ts, WebCrypto only)
 * against RFC 8291's worked example, and against the independent node:crypto browser side
 * of the push stand-in (test/support/push-stand-in.ts).
 */

// RFC 8291, Appendix A: the application server's one-time key, the user agent's keys, the salt and the expected body.
const RFC8291 = {
	plaintext: "When I grow up, I want to be a watermelon",
	asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
	asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
	uaPrivate: "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
	uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
	auth: "BTBZMqHH6r4Tts7J_aSIgg",
	salt: "DGv6ra1nlYgDCS1FRnbzlw",
	body: "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

function browser() {
	const ecdh = createECDH("prime256v1");
	ecdh.generateKeys();
	const auth = randomBytes(16);
	return { ecdh, auth, keys: { p256dh: toB64u(ecdh.getPublicKey()), auth: toB64u(auth) } };
}

describe("Web Push payload encryption (RFC 8291, aes128gcm)", () => {
	it("reproduces the body of RFC 8291's Appendix A byte for byte", async () => {
		const asPublic = fromB64u(RFC8291.asPublic);
		const ephemeral = { privateKey: await importEcdhPrivateKey(fromB64u(RFC8291.asPrivate), asPublic), publicKey: asPublic };
		const body = await sealPushPayload(
			utf8Encode(RFC8291.plaintext),
			{ p256dh: RFC8291.uaPublic, auth: RFC8291.auth },
			{ salt: fromB64u(RFC8291.salt), ephemeral },
		);
		expect(toB64u(body)).toBe(RFC8291.body);
	});

	it("is opened by an independent node:crypto decryptor holding the subscription's private key, and by nothing else", async () => {
		const b = browser();
		const payload = JSON.stringify({ v: 1, kind: "call", count: 3 });
		const body = Buffer.from(await sealPushPayload(utf8Encode(payload), b.keys));
		expect(openPushBody(body, b.ecdh, b.auth)).toBe(payload);
		// A fresh one-time key and salt every time.
		const again = Buffer.from(await sealPushPayload(utf8Encode(payload), b.keys));
		expect(again.subarray(0, 16).equals(body.subarray(0, 16))).toBe(false);
		expect(again.subarray(21, 86).equals(body.subarray(21, 86))).toBe(false);
		// Another browser's key, or the right key with another auth secret, opens nothing.
		expect(() => openPushBody(body, browser().ecdh, b.auth)).toThrow();
		expect(() => openPushBody(body, b.ecdh, randomBytes(16))).toThrow();
		const tampered = Buffer.from(body);
		tampered[tampered.length - 20] = (tampered[tampered.length - 20] ?? 0) ^ 1;
		expect(() => openPushBody(tampered, b.ecdh, b.auth)).toThrow();
	});

	it("refuses keys that are no P-256 point or no 16-byte auth secret, with a typed error", async () => {
		const b = browser();
		const offCurve = toB64u(new Uint8Array([4, ...new Uint8Array(64).fill(1)]));
		expect(await isP256Point(fromB64u(b.keys.p256dh))).toBe(true);
		expect(await isP256Point(fromB64u(offCurve))).toBe(false);
		await expect(sealPushPayload(utf8Encode("x"), { ...b.keys, p256dh: offCurve })).rejects.toBeInstanceOf(WebPushKeyError);
		await expect(sealPushPayload(utf8Encode("x"), { ...b.keys, auth: toB64u(new Uint8Array(8)) })).rejects.toBeInstanceOf(WebPushKeyError);
	});
});

describe("VAPID (RFC 8292)", () => {
	it("signs an ES256 JWT for the push service's origin, due within 24 h, naming the subject, that verifies against the public key", async () => {
		const keys = await importVapidKeys(TEST_VAPID.publicKey, TEST_VAPID.privateKey);
		const now = Date.now();
		const header = await vapidAuthorization("https://push.example:8443/wpush/v2/abc?x=1", TEST_VAPID.subject, keys, now);
		const claims = checkVapid(header, "https://push.example:8443", now);
		expect(claims).toEqual({
			aud: "https://push.example:8443",
			exp: Math.floor(now / 1000) + VAPID_TOKEN_TTL_SECONDS,
			sub: TEST_VAPID.subject,
		});
		expect(header.endsWith(`, k=${TEST_VAPID.publicKey}`)).toBe(true);
		// Another origin's push service, or another application server's key, would refuse it.
		expect(() => checkVapid(header, "https://other.example", now)).toThrow(/aud/);
		expect(() => checkVapid(header, "https://push.example:8443", now, { ...TEST_VAPID, publicKey: browser().keys.p256dh })).toThrow(
			/k is not/,
		);
		expect(() => checkVapid(header, "https://push.example:8443", now + 13 * 3_600_000)).toThrow(/exp/);
	});

	it("refuses a private key that is not the public key's", async () => {
		// Some other scalar: a valid private key, of another pair.
		const wrong = toB64u(randomBytes(32));
		await expect(importVapidKeys(TEST_VAPID.publicKey, wrong)).rejects.toBeInstanceOf(WebPushKeyError);
		await expect(importVapidKeys(TEST_VAPID.publicKey, toB64u(new Uint8Array(31)))).rejects.toBeInstanceOf(WebPushKeyError);
	});
});
