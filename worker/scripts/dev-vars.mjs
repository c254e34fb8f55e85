// Creates .dev.vars for `wrangler dev` on first start: a random development secret, marked
// so that a production deployment refuses it (worker/config.ts), the development flag, and a
// VAPID key pair so that Web Push works locally (added to an older .dev.vars that has none).
// .dev.vars is git-ignored and never deployed.
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { vapidKeyPair } from "./vapid-keys.mjs";

const path = new URL("../../.dev.vars", import.meta.url);
if (!existsSync(path)) {
	const secret = `dev-only:${randomBytes(32).toString("base64url")}`;
	writeFileSync(path, `AUTH_SECRET=${secret}\nADMIN_TOKEN=dev-only:${randomBytes(24).toString("base64url")}\nENVIRONMENT=development\n`);
	console.log("Created .dev.vars with a fresh development secret.");
}
if (!/^VAPID_PRIVATE_KEY=/m.test(readFileSync(path, "utf8"))) {
	const { publicKey, privateKey } = vapidKeyPair();
	appendFileSync(path, `VAPID_PUBLIC_KEY=${publicKey}\nVAPID_PRIVATE_KEY=${privateKey}\nVAPID_SUBJECT=mailto:dev@localhost.invalid\n`);
	console.log("Added a development VAPID key pair to .dev.vars (Web Push).");
}
