import { createHmac } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { iceServersFor, type TurnConfig } from "../../worker/auth/turn-credentials.ts";

const NOW = 1_700_000_000_123;
const base: TurnConfig = { stunUrls: ["stun:stun.example:3478"], turnUrls: [], secret: null, ttlSeconds: 3600, cloudflare: null };
const noFetch = () => Promise.reject(new Error("no network in this test"));

describe("ICE servers from config", () => {
	it("without TURN configured: only STUN (or nothing), so calls work where devices reach each other directly", async () => {
		expect(await iceServersFor(base, "acct", NOW, noFetch)).toEqual({
			iceServers: [{ urls: ["stun:stun.example:3478"] }],
			expiresAt: 1_700_003_600_000,
		});
		expect((await iceServersFor({ ...base, stunUrls: [] }, "acct", NOW, noFetch)).iceServers).toEqual([]);
		// A secret without TURN URLs (or URLs without a secret) hands out no credential.
		expect((await iceServersFor({ ...base, secret: "s" }, "acct", NOW, noFetch)).iceServers).toHaveLength(1);
		expect((await iceServersFor({ ...base, turnUrls: ["turn:t.example"] }, "acct", NOW, noFetch)).iceServers).toHaveLength(1);
	});

	it("coturn use-auth-secret: user name expiry:account, password base64(HMAC-SHA1(secret, user name))", async () => {
		const config = { ...base, turnUrls: ["turn:t.example:3478"], secret: "north-sea" };
		const { iceServers, expiresAt } = await iceServersFor(config, "acct", NOW, noFetch);
		expect(expiresAt).toBe((Math.floor(NOW / 1000) + 3600) * 1000);
		expect(iceServers[1]).toEqual({
			urls: ["turn:t.example:3478"],
			username: `${Math.floor(NOW / 1000) + 3600}:acct`,
			credential: createHmac("sha1", "north-sea")
				.update(`${Math.floor(NOW / 1000) + 3600}:acct`)
				.digest("base64"),
		});
	});

	it("Cloudflare TURN: asks its API for credentials with the TTL and passes them on; STUN only if it fails", async () => {
		const config = { ...base, cloudflare: { keyId: "key-id", apiToken: "api-token" } };
		const answer = {
			iceServers: [
				{ urls: "stun:stun.cloudflare.com:3478" },
				{ urls: ["turn:turn.cloudflare.com:3478?transport=udp"], username: "u", credential: "c" },
			],
		};
		const fetchFn = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => Response.json(answer, { status: 201 }));
		const result = await iceServersFor(config, "acct", NOW, fetchFn as typeof fetch);
		expect(result.iceServers).toEqual([
			{ urls: ["stun:stun.cloudflare.com:3478"] },
			{ urls: ["turn:turn.cloudflare.com:3478?transport=udp"], username: "u", credential: "c" },
		]);
		const [url, init] = fetchFn.mock.calls[0]!;
		expect(url).toBe("https://rtc.live.cloudflare.com/v1/turn/keys/key-id/credentials/generate-ice-servers");
		expect(init).toMatchObject({ method: "POST", body: JSON.stringify({ ttl: 3600 }) });
		expect((init?.headers as Record<string, string>).authorization).toBe("Bearer api-token");

		const failing = vi.fn(async () => new Response("nope", { status: 500 }));
		const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
		expect((await iceServersFor(config, "acct", NOW, failing as typeof fetch)).iceServers).toEqual([{ urls: ["stun:stun.example:3478"] }]);
		const garbage = vi.fn(async () => Response.json({ iceServers: [{ urls: 42 }] }));
		expect((await iceServersFor(config, "acct", NOW, garbage as typeof fetch)).iceServers).toEqual([{ urls: ["stun:stun.example:3478"] }]);
		expect(spy).toHaveBeenCalledTimes(2);
		spy.mockRestore();
	});
});
