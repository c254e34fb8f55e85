// A VAPID key pair for Web Push (RFC 8292): a P-256 key, printed as the relay reads it (the
// public point and the private scalar, base64url), the same form `npx web-push
// generate-vapid-keys` prints. Run `node worker/scripts/vapid-keys.mjs` and follow what it
// says (docs/operations.md, "Web Push"); dev-vars.mjs uses it for local development.
import { generateKeyPairSync } from "node:crypto";
import { fileURLToPath } from "node:url";

/** A fresh pair: `publicKey` (87 characters, the uncompressed point) and `privateKey` (43, the scalar d). */
export function vapidKeyPair() {
	const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
	const jwk = privateKey.export({ format: "jwk" });
	const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
	return { publicKey: point.toString("base64url"), privateKey: jwk.d };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const { publicKey, privateKey } = vapidKeyPair();
	console.log(`VAPID_PUBLIC_KEY=${publicKey}`);
	console.log(`VAPID_PRIVATE_KEY=${privateKey}`);
	console.log("");
	console.log("Put VAPID_PUBLIC_KEY and VAPID_SUBJECT (mailto:you@example.org or an https: URL) in wrangler.toml's [vars],");
	console.log("and the private key in a secret: `npx wrangler secret put VAPID_PRIVATE_KEY` (paste it when asked).");
	console.log("Keep the pair: a new one invalidates every browser's subscription (they subscribe again on their next visit).");
}
