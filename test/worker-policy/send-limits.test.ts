import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { admin } from "../worker/admin-client.ts";
import { contactPair, sealedSend } from "../worker/fixtures.ts";
import { api, connect, signIn, type TestSocket, type TestUser } from "../worker/helpers.ts";

/** Sessions last 15 minutes; tests that move the clock by days sign in again. */
async function freshToken(user: TestUser): Promise<TestUser> {
	return { ...user, token: (await signIn(user.keys)).json.token };
}

const SECOND = 1000;
let now = 0;
const advance = (ms: number) => {
	now += ms;
	vi.setSystemTime(now);
};

beforeEach(() => {
	vi.useFakeTimers({ toFake: ["Date"] });
	now = Date.now();
});
afterEach(() => {
	vi.useRealTimers();
});

async function send(socket: TestSocket, from: TestUser, to: TestUser, key: Uint8Array, text = "hi") {
	const frame = sealedSend(from, to, key, text);
	socket.send(frame);
	return Promise.race([socket.next("sent", (s) => s.id === frame.id), socket.next("error", (e) => e.ref === frame.id)]);
}

describe("the global send rate limit", () => {
	it("refuses the 2nd send inside 10 s across two devices of one account, with the exact retry-after, and passes the next one after it", async () => {
		const { alice, bob, key, aliceDevices } = await contactPair({ extraDevices: 1 });
		const phone = aliceDevices[1] as TestUser;
		const laptop = await connect(alice.token);
		const mobile = await connect(phone.token);
		expect(await send(laptop, alice, bob, key)).toMatchObject({ type: "sent" });
		advance(4 * SECOND);
		const refused = await send(mobile, phone, bob, key);
		expect(refused).toMatchObject({ type: "error", code: "rate_limited", retryAfter: 6 * SECOND });
		advance(6 * SECOND - 1);
		expect(await send(mobile, phone, bob, key)).toMatchObject({ code: "rate_limited", retryAfter: 1 });
		advance(1);
		expect(await send(mobile, phone, bob, key)).toMatchObject({ type: "sent" });
	});

	it("counts a refused send as nothing: no delivery and no charge", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		await send(a, alice, bob, key);
		const before = (await api("/api/account", { token: alice.token })).json.credits;
		expect(await send(a, alice, bob, key)).toMatchObject({ code: "rate_limited" });
		expect((await api("/api/account", { token: alice.token })).json.credits).toBe(before);
	});
});

describe("daily quotas by trust level", () => {
	it("refuses the 21st untrusted send in 24 h and says when the quota frees up", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const first = now;
		for (let i = 0; i < 20; i++) {
			expect(await send(a, alice, bob, key, `n${i}`)).toMatchObject({ type: "sent", quotaLeft: 19 - i });
			advance(10 * SECOND);
		}
		const refused = await send(a, alice, bob, key);
		expect(refused).toMatchObject({ code: "quota_exceeded", retryAfter: first + 86_400_000 - now });
		expect((await api("/api/account", { token: alice.token })).json).toMatchObject({ quotaLeft: 0, trust: "untrusted" });
		vi.setSystemTime(first + 86_400_000 + 1);
		expect(await send(a, alice, bob, key)).toMatchObject({ type: "sent" });
	});

	it("gives a trusted account 200 a day and a verified account no cap", async () => {
		const { alice, bob, key } = await contactPair();
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust: "trusted" } });
		expect((await api("/api/account", { token: alice.token })).json).toMatchObject({ trust: "trusted", quotaLeft: 200 });
		await admin(`/accounts/${alice.accountId}/credits`, { body: { amount: 1000, reason: "test" } });
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust: "verified" } });
		const a = await connect(alice.token);
		for (let i = 0; i < 25; i++) {
			expect(await send(a, alice, bob, key)).toMatchObject({ type: "sent", quotaLeft: null });
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json.quotaLeft).toBeNull();
	});
});

describe("repeated rate-limit violations", () => {
	it("suspend the account for 24 h after 20 refused sends in 10 minutes; it can still read", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		await send(a, alice, bob, key);
		for (let i = 0; i < 20; i++) expect(await send(a, alice, bob, key)).toMatchObject({ code: "rate_limited" });
		advance(11 * SECOND);
		const refused = await send(a, alice, bob, key);
		expect(refused).toMatchObject({ code: "suspended", retryAfter: 86_400_000 - 11 * SECOND });
		expect(refused.type === "error" && refused.message).toMatch(new Date(now - 11 * SECOND + 86_400_000).toISOString());
		const row = await env.DB.prepare("SELECT suspended_until, suspension_level FROM accounts WHERE id = ?")
			.bind(alice.accountId)
			.first<any>();
		expect(row.suspension_level).toBe(1);
		expect((await api("/api/contacts", { token: alice.token })).status).toBe(200);
		const b = await connect(bob.token);
		await send(b, bob, alice, key, "you can still read this");
		expect((await a.next("message")).from).toBe(bob.accountId);
	});
});

describe("machine-regular sending", () => {
	it("raises a behavioural flag for admins", async () => {
		const { alice, bob, key } = await contactPair();
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust: "verified" } });
		await admin(`/accounts/${alice.accountId}/credits`, { body: { amount: 1000, reason: "test" } });
		const a = await connect(alice.token);
		for (let i = 0; i < 11; i++) {
			await send(a, alice, bob, key);
			advance(15 * SECOND);
		}
		const { json } = await admin("/flags");
		expect(json.flags).toContainEqual(expect.objectContaining({ accountId: alice.accountId, kind: "regular_intervals" }));
	});

	it("leaves irregular human sending unflagged", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		for (const gap of [11, 40, 13, 90, 25, 12, 61, 17, 33, 14, 70]) {
			await send(a, alice, bob, key);
			advance(gap * SECOND);
		}
		const { json } = await admin(`/accounts/${alice.handle}`);
		expect(json.flags).toEqual([]);
	});
});

describe("automatic trust", () => {
	it("promotes an untrusted account after 7 days and 20 messages with a clean history", async () => {
		advance(-8 * 86_400_000);
		const pair = await contactPair();
		advance(8 * 86_400_000);
		const [alice, bob] = [await freshToken(pair.alice), await freshToken(pair.bob)];
		const key = pair.key;
		const a = await connect(alice.token);
		for (let i = 0; i < 20; i++) {
			await send(a, alice, bob, key);
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json).toMatchObject({ trust: "trusted", quotaLeft: 180 });
	});

	it("does not promote a reported account", async () => {
		advance(-8 * 86_400_000);
		const pair = await contactPair();
		advance(8 * 86_400_000);
		const [alice, bob] = [await freshToken(pair.alice), await freshToken(pair.bob)];
		const key = pair.key;
		await api(`/api/contacts/${alice.accountId}/report`, { token: bob.token, body: { reason: "spam" } });
		const a = await connect(alice.token);
		for (let i = 0; i < 20; i++) {
			await send(a, alice, bob, key);
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json.trust).toBe("untrusted");
	});
});
