// Creates .dev.vars for `wrangler dev` on first start: a random development secret, marked
// so that a production deployment refuses it (worker/config.ts), and the development flag.
// .dev.vars is git-ignored and never deployed.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

const path = new URL("../../.dev.vars", import.meta.url);
if (!existsSync(path)) {
	const secret = `dev-only:${randomBytes(32).toString("base64url")}`;
	writeFileSync(path, `AUTH_SECRET=${secret}\nADMIN_TOKEN=dev-only:${randomBytes(24).toString("base64url")}\nENVIRONMENT=development\n`);
	console.log("Created .dev.vars with a fresh development secret.");
}
