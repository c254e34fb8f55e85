import { afterEach, describe, expect, it, vi } from "vitest";
import { admin } from "../worker/admin-client.ts";
import { api, registerUser, signIn, type TestUser } from "../worker/helpers.ts";

afterEach(() => {
	vi.useRealTimers();
});

async function users(n: number): Promise<TestUser[]> {
	const out: TestUser[] = [];
	for (let i = 0; i < n; i++) out.push(await registerUser("peer"));
	return out;
}

describe("contact requests", () => {
	it("are limited to 20 an hour, the 21st refused with when to retry", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		const sender = await registerUser("eager");
		const peers = await users(21);
		for (const [i, p] of peers.slice(0, 20).entries()) {
			vi.setSystemTime(start + i * 1000);
			expect((await api("/api/contacts", { token: sender.token, body: { handle: p.handle } })).status).toBe(201);
		}
		vi.setSystemTime(start + 30_000);
		const refused = await api("/api/contacts", { token: sender.token, body: { handle: (peers[20] as TestUser).handle } });
		expect(refused.status).toBe(429);
		expect(refused.json.error).toMatchObject({ code: "rate_limited", retryAfter: 3_600_000 - 30_000 });
		vi.setSystemTime(start + 3_600_001);
		const token = (await signIn(sender.keys)).json.token;
		expect((await api("/api/contacts", { token, body: { handle: (peers[20] as TestUser).handle } })).status).toBe(201);
	});

	it("to many distinct accounts with few accepted raise burst and low-accept-ratio flags", async () => {
		const sender = await registerUser("burst");
		for (const p of await users(10)) await api("/api/contacts", { token: sender.token, body: { handle: p.handle } });
		const kinds = (await admin(`/accounts/${sender.handle}`)).json.flags.map((f: any) => f.kind).sort();
		expect(kinds).toEqual(["contact_burst", "low_accept_ratio"]);
	});

	it("from an ordinary user raise no flag", async () => {
		const sender = await registerUser("normal");
		for (const p of await users(3)) await api("/api/contacts", { token: sender.token, body: { handle: p.handle } });
		expect((await admin(`/accounts/${sender.handle}`)).json.flags).toEqual([]);
	});
});
