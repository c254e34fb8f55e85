import { describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../../client/core/memory-key-store.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes } from "../../common/nacl.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { relayForFile, uniqueHandle } from "../support/sdk-clients.ts";

const SESSION_TTL_SECONDS = 2;

// Tokens that run out within a test, so renewing them is exercised for real.
const relay = relayForFile({ vars: { ...RELAXED_LIMITS, SESSION_TTL_SECONDS: String(SESSION_TTL_SECONDS) } });
const { factory } = relay;

/** A fetch that counts logins and refusals on their way through. */
function countingFetch() {
	const counts = { logins: 0, unauthorized: 0 };
	const counted: typeof fetch = async (input, init) => {
		const response = await fetch(input, init);
		if (String(input).endsWith("/api/auth/session")) counts.logins++;
		if (response.status === 401) counts.unauthorized++;
		return response;
	};
	return { counts, fetch: counted };
}

const until = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

describe("sessions", () => {
	it("signs in again by itself before a call or a connect once the token nears its end, without being refused first", async () => {
		const { counts, fetch } = countingFetch();
		const client = factory.client(new MemoryKeyStore(), { fetch });
		// Registration signs in once already, to publish the account's first signed device list.
		await client.register(uniqueHandle("carol"), "carol's laptop");
		const session = await client.login();
		const base = counts.logins;
		expect(session.expiresAt - Date.now()).toBeLessThanOrEqual(SESSION_TTL_SECONDS * 1000);
		await client.contacts();
		expect(counts.logins).toBe(base);

		await until(session.expiresAt + 100);
		expect(await client.contacts()).toEqual([]);
		expect(counts).toEqual({ logins: base + 1, unauthorized: 0 });

		await until(session.expiresAt + SESSION_TTL_SECONDS * 1000 + 100);
		const reconnects: number[] = [];
		client.on("reconnecting", (r) => reconnects.push(r.attempt));
		const ready = client.waitFor("ready");
		await client.connect();
		expect((await ready).accountId).toBe(session.accountId);
		// Renewed before the upgrade, not after a refused handshake.
		expect(reconnects).toEqual([]);
		expect(counts).toEqual({ logins: base + 2, unauthorized: 0 });
	});

	it("stops for good, with an error, when the relay refuses the device's login", async () => {
		const store = new MemoryKeyStore();
		const keys = generateDeviceKeys();
		await store.setIdentity({ ...keys, accountId: toB64u(randomBytes(16)), deviceId: toB64u(randomBytes(16)), handle: "ghost" });
		const client = factory.client(store);
		const reconnects: number[] = [];
		client.on("reconnecting", (r) => reconnects.push(r.attempt));
		const reported = client.waitFor("error");
		const refused = await client.connect().catch((err: unknown) => err);
		expect(refused).toBeInstanceOf(SdkError);
		expect(refused).toMatchObject({ code: "unauthorized" });
		expect(await reported).toBe(refused);
		expect(reconnects).toEqual([]);
	});

	it("keeps trying while the relay is down and connects once it answers", async () => {
		const client = factory.client();
		await client.register(uniqueHandle("dave"), "dave's laptop");
		await relay.server.stop();
		const attempts: number[] = [];
		const retried = client.waitFor("reconnecting", (r) => r.attempt >= 2, 20_000);
		client.on("reconnecting", (r) => attempts.push(r.attempt));
		const connected = client.connect();
		await retried;
		await relay.server.restart();
		await connected;
		expect(attempts.slice(0, 2)).toEqual([1, 2]);
	});
});
