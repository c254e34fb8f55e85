import { afterEach, describe, expect, it, vi } from "vitest";
import { admin } from "../worker/admin-client.ts";
import { acceptContact } from "../worker/fixtures.ts";
import { api, registerUser, signIn, type TestUser } from "../worker/helpers.ts";

afterEach(() => {
	vi.useRealTimers();
});

const flagKinds = async (user: TestUser): Promise<string[]> =>
	(await admin(`/accounts/${user.handle}`)).json.flags.map((f: { kind: string }) => f.kind).sort();

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
		expect(await flagKinds(sender)).toEqual(["contact_burst", "low_accept_ratio"]);
	});

	it("to 10 distinct accounts within an hour raise the burst flag alone when enough of them accept", async () => {
		const sender = await registerUser("burst");
		const peers = await users(10);
		for (const [i, p] of peers.entries()) {
			expect((await api("/api/contacts", { token: sender.token, body: { handle: p.handle } })).status).toBe(201);
			// Two of the first requests accepted: 2 of 10 is not under 20%.
			if (i < 2) await acceptContact(p, sender);
			if (i === 8) expect(await flagKinds(sender)).toEqual([]);
		}
		expect(await flagKinds(sender)).toEqual(["contact_burst"]);
	}, 15_000);

	it("mostly unanswered but spread out raise the low-accept-ratio flag alone", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		const start = Date.now();
		let sender = await registerUser("lonely");
		const peers = await users(10);
		for (const [i, p] of peers.entries()) {
			// One request every 7 minutes: never 10 distinct accounts within an hour.
			vi.setSystemTime(start + i * 7 * 60_000);
			// Sessions last 15 minutes.
			if (i % 2 === 0) sender = { ...sender, token: (await signIn(sender.keys)).json.token };
			expect((await api("/api/contacts", { token: sender.token, body: { handle: p.handle } })).status).toBe(201);
			if (i === 0) await acceptContact(p, sender);
			if (i === 8) expect(await flagKinds(sender)).toEqual([]);
		}
		expect(await flagKinds(sender)).toEqual(["low_accept_ratio"]);
	}, 15_000);

	it("from an ordinary user raise no flag", async () => {
		const sender = await registerUser("normal");
		for (const p of await users(3)) await api("/api/contacts", { token: sender.token, body: { handle: p.handle } });
		expect((await admin(`/accounts/${sender.handle}`)).json.flags).toEqual([]);
	});
});
