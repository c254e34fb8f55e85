import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { deriveLinkKeys, newLinkCode } from "../../client/core/link-code.ts";
import { toB64u } from "../../common/encoding.ts";
import { type DeviceKeys, generateDeviceKeys, signDetached } from "../../common/nacl.ts";
import { loginMessage } from "../../common/protocol/signing.ts";
import { useFakeClock } from "../worker/fake-clock.ts";
import { api, registerUser, registrationBody, type TestUser } from "../worker/helpers.ts";
import { claimBody, openLinkCode } from "../worker/linking.ts";
import { newRecoveryKeys, recoverBody, withRecovery } from "../worker/recovery.ts";

/**
 * The limits per client address with wrangler.toml's own `[[ratelimits]]` (this project does
 * not raise them): registration 5, sign-in 60 (challenge and session together), link claims
 * 10 and restores 5, each per minute. Locally the binding counts in fixed windows of its
 * period, read from `Date`, so every test starts at the first millisecond of a minute (which
 * also empties every bucket) and a period passes only when the test moves the clock.
 */
const advance = useFakeClock();
const MINUTE = 60_000;
beforeEach(() => {
	vi.setSystemTime(Math.ceil((Date.now() + 1) / MINUTE) * MINUTE);
});
afterEach(() => {
	vi.restoreAllMocks();
});

let lastOctet = 0;
/** A client address no other test used, from the documentation range 198.51.100.0/24. */
const freshAddress = () => `198.51.100.${++lastOctet}`;

const refused = (message: RegExp) => ({
	status: 429,
	json: { error: { code: "rate_limited", message: expect.stringMatching(message), retryAfter: 60_000 } },
});

let handles = 0;
const newHandle = () => `addr_${++handles}_${Math.floor(Math.random() * 1e6)}`;

const register = (address: string, body = registrationBody(newHandle(), generateDeviceKeys())) => api("/api/accounts", { body, address });

async function rowCount(table: "accounts" | "devices" | "credit_ledger"): Promise<number> {
	return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())?.n ?? 0;
}

const challengeFrom = (address: string) => api("/api/auth/challenge", { body: {}, address });

function sessionBody(keys: DeviceKeys, challenge: string) {
	return { publicKey: toB64u(keys.publicKey), challenge, signature: toB64u(signDetached(keys.seed, loginMessage(challenge))) };
}

describe("limits per client address", () => {
	it("refuse the sixth registration from one address within a minute with rate_limited, creating nothing, while another address registers", async () => {
		const logged: string[] = [];
		vi.spyOn(console, "log").mockImplementation((line: unknown) => {
			logged.push(String(line));
		});
		const busy = freshAddress();
		for (let i = 0; i < 5; i++) expect((await register(busy)).status).toBe(201);
		const before = { accounts: await rowCount("accounts"), devices: await rowCount("devices"), ledger: await rowCount("credit_ledger") };

		const body = registrationBody(newHandle(), generateDeviceKeys());
		expect(await register(busy, body)).toEqual(refused(/accounts were made from this network/));
		// Counted before the body is read: a malformed one gets the same answer, not bad_request.
		expect(await api("/api/accounts", { raw: "{broken", address: busy })).toEqual(refused(/accounts were made/));
		expect({ accounts: await rowCount("accounts"), devices: await rowCount("devices"), ledger: await rowCount("credit_ledger") }).toEqual(
			before,
		);
		const row = await env.DB.prepare("SELECT id FROM accounts WHERE handle = ?").bind(body.handle).first();
		expect(row).toBeNull();

		// The refused body itself registers from another address: its handle and key were not taken.
		const elsewhere = await register(freshAddress(), body);
		expect(elsewhere.status).toBe(201);
		const credits = await env.DB.prepare("SELECT credits FROM accounts WHERE id = ?")
			.bind(elsewhere.json.accountId)
			.first<{ credits: number }>();
		expect(credits?.credits).toBe(Number(env.STARTING_CREDITS));

		// A minute later the busy address registers again.
		advance(MINUTE);
		expect((await register(busy)).status).toBe(201);

		// The operator sees which family refused, never the address.
		const events = logged.filter((l) => l.includes("address_limited"));
		expect(events.map((l) => JSON.parse(l))).toEqual([
			{ event: "address_limited", family: "registration" },
			{ event: "address_limited", family: "registration" },
		]);
		expect(events.some((l) => l.includes(busy))).toBe(false);
	});

	it("count an IPv6 address by its /64, and an IPv4 address written as IPv6 as that address", async () => {
		for (let i = 1; i <= 5; i++) expect((await register(`2001:db8:aa:${lastOctet}::${i}`)).status).toBe(201);
		expect(await register(`2001:DB8:AA:${lastOctet}:ffff:1:2:3`)).toEqual(refused(/accounts were made/));
		expect((await register(`2001:db8:aa:${lastOctet + 1}::1`)).status).toBe(201);

		const v4 = freshAddress();
		for (let i = 0; i < 5; i++) expect((await register(v4)).status).toBe(201);
		expect(await register(`::ffff:${v4}`)).toEqual(refused(/accounts were made/));
	});

	it("give challenge and session one bucket of 60 a minute, and a refused session redeems nothing", async () => {
		const user = await registerUser("signer");
		const busy = freshAddress();
		for (let i = 0; i < 59; i++) expect((await challengeFrom(busy)).status).toBe(200);
		const { json: last } = await challengeFrom(busy);
		const body = sessionBody(user.keys, last.challenge);
		expect(await api("/api/auth/session", { body, address: busy })).toEqual(refused(/sign-ins came from this network/));
		expect(await challengeFrom(busy)).toEqual(refused(/sign-ins/));
		// The same challenge is still unused: the refusal came before the account's object was asked.
		const signedIn = await api("/api/auth/session", { body, address: freshAddress() });
		expect([signedIn.status, signedIn.json.accountId]).toEqual([200, user.accountId]);
		advance(MINUTE);
		expect((await challengeFrom(busy)).status).toBe(200);
	});

	it("refuse the eleventh link claim from one address with the same answer for a known and an unknown handle, leaving the code claimable", async () => {
		const alice = await registerUser("alice");
		const open = await openLinkCode(alice);
		const busy = freshAddress();
		const claim = (handle: string, linkKeys: ReturnType<typeof deriveLinkKeys>, address: string) =>
			api("/api/devices/link", { body: claimBody(handle, linkKeys, generateDeviceKeys(), "new phone"), address });

		// Under the limit a stranger without a live code learns nothing: an unknown handle and a
		// wrong code for a known one get the same not_found.
		const answers = [];
		for (let i = 0; i < 5; i++) answers.push(await claim(`nobody_${i}_${lastOctet}`, deriveLinkKeys(newLinkCode("nobody")), busy));
		for (let i = 0; i < 5; i++) answers.push(await claim(alice.handle, deriveLinkKeys(newLinkCode(alice.handle)), busy));
		expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
		expect(answers[0]?.status).toBe(404);

		// Past it, the right code and an unknown handle get the same rate_limited.
		const known = await claim(alice.handle, open.linkKeys, busy);
		const unknown = await claim("nobody_is_called_this", open.linkKeys, busy);
		expect(known).toEqual(refused(/link codes were tried from this network/));
		expect(unknown).toEqual(known);
		const devices = await env.DB.prepare("SELECT COUNT(*) AS n FROM devices WHERE account_id = ?")
			.bind(alice.accountId)
			.first<{ n: number }>();
		expect(devices?.n).toBe(1);

		const claimed = await claim(alice.handle, open.linkKeys, freshAddress());
		expect([claimed.status, claimed.json.status]).toEqual([201, "pending"]);
	});

	it("refuse the sixth restore from one address before the account is looked up: no failed attempt counted, the challenge still good elsewhere", async () => {
		const alice: TestUser = await registerUser("alice");
		const { recovery, backup } = await withRecovery(alice);
		const busy = freshAddress();
		const challenge = async () => (await challengeFrom(freshAddress())).json.challenge as string;
		// Unknown handles, so no account counts these failures against itself.
		for (let i = 0; i < 5; i++) {
			const body = recoverBody(`nobody_${i}_${lastOctet}`, newRecoveryKeys(), generateDeviceKeys(), await challenge());
			expect((await api("/api/recovery", { body, address: busy })).status).toBe(401);
		}
		const body = recoverBody(alice.handle, recovery, generateDeviceKeys(), await challenge());
		expect(await api("/api/recovery", { body, address: busy })).toEqual(refused(/restores were tried from this network/));
		const restored = await api("/api/recovery", { body, address: freshAddress() });
		expect([restored.status, restored.json.accountId, restored.json.backup]).toEqual([201, alice.accountId, backup]);
	});

	it("keep a bucket per family: an address out of registrations still signs in, claims and restores", async () => {
		const busy = freshAddress();
		for (let i = 0; i < 5; i++) await register(busy);
		expect((await register(busy)).status).toBe(429);
		const { status, json } = await challengeFrom(busy);
		expect(status).toBe(200);
		const claim = await api("/api/devices/link", {
			body: claimBody("nobody_here", deriveLinkKeys(newLinkCode("nobody_here")), generateDeviceKeys(), "phone"),
			address: busy,
		});
		expect(claim.status).toBe(404);
		const restore = await api("/api/recovery", {
			body: recoverBody("nobody_here", newRecoveryKeys(), generateDeviceKeys(), json.challenge),
			address: busy,
		});
		expect(restore.status).toBe(401);
	});

	it("leave GET /api/limits open: it reads only the vars and is cached", async () => {
		const busy = freshAddress();
		// One more than the largest bucket (sign-in's 60) holds.
		for (let i = 0; i < 61; i++) {
			const { status } = await api("/api/limits", { address: busy });
			expect(status).toBe(200);
		}
	});
});
