import { abortAllDurableObjects } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { admin } from "../worker/admin-client.ts";
import { useFakeClock } from "../worker/fake-clock.ts";
import { contactPair, sealedSend, suspendFor } from "../worker/fixtures.ts";
import { api, connect, signIn, type TestSocket, type TestUser } from "../worker/helpers.ts";

/** Sessions last 15 minutes; tests that move the clock by days sign in again. */
async function freshToken(user: TestUser): Promise<TestUser> {
	return { ...user, token: (await signIn(user.keys)).json.token };
}

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

const SECOND = 1000;
const advance = useFakeClock();

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
		const sent = await send(laptop, alice, bob, key);
		// The sender is told when the window opens again, and so is the account's other device.
		expect(sent).toMatchObject({ type: "sent", nextSendAt: (sent as { at: number }).at + 10 * SECOND });
		expect(await mobile.next("send_window")).toEqual({
			type: "send_window",
			at: (sent as { at: number }).at,
			nextSendAt: (sent as { at: number }).at + 10 * SECOND,
			quotaLeft: 19,
		});
		advance(4 * SECOND);
		const refused = await send(mobile, phone, bob, key);
		expect(refused).toMatchObject({ type: "error", code: "rate_limited", retryAfter: 6 * SECOND });
		advance(6 * SECOND - 1);
		expect(await send(mobile, phone, bob, key)).toMatchObject({ code: "rate_limited", retryAfter: 1 });
		advance(1);
		expect(await send(mobile, phone, bob, key)).toMatchObject({ type: "sent" });
	});

	it("holds across an eviction of the sender's object: the next send is refused with exactly the remainder", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		expect(await send(a, alice, bob, key)).toMatchObject({ type: "sent" });
		advance(3 * SECOND);
		await abortAllDurableObjects();
		const again = await connect(alice.token);
		expect(await send(again, alice, bob, key)).toMatchObject({ type: "error", code: "rate_limited", retryAfter: 7 * SECOND });
		advance(7 * SECOND);
		expect(await send(again, alice, bob, key)).toMatchObject({ type: "sent" });
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
	it.each([
		["21st", "untrusted", 20],
		["201st", "trusted", 200],
	] as const)(
		"refuses the %s %s send in 24 h and says when the quota frees up",
		async (_, trust, quota) => {
			const { alice, bob, key } = await contactPair();
			if (trust === "trusted") {
				await admin(`/accounts/${alice.accountId}/trust`, { body: { trust } });
				await admin(`/accounts/${alice.accountId}/credits`, { body: { amount: 1000, reason: "test" } });
			}
			const a = await connect(alice.token);
			const first = Date.now();
			for (let i = 0; i < quota; i++) {
				const sent = await send(a, alice, bob, key, `n${i}`);
				expect(sent).toMatchObject({ type: "sent", quotaLeft: quota - 1 - i });
				// The last one of the day says the next send waits for the first one to age out.
				const at = (sent as { at: number }).at;
				expect((sent as { nextSendAt?: number }).nextSendAt).toBe(i === quota - 1 ? first + 86_400_000 : at + 10 * SECOND);
				advance(10 * SECOND);
			}
			const refused = await send(a, alice, bob, key);
			expect(refused).toMatchObject({ code: "quota_exceeded", retryAfter: first + 86_400_000 - Date.now() });
			// 200 sends 10 s apart outlast a 15-minute session.
			expect((await api("/api/account", { token: (await freshToken(alice)).token })).json).toMatchObject({ quotaLeft: 0, trust });
			vi.setSystemTime(first + 86_400_000 + 1);
			expect(await send(a, alice, bob, key)).toMatchObject({ type: "sent", quotaLeft: 0 });
		},
		60_000,
	);

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
		expect(refused.type === "error" && refused.message).toMatch(new Date(Date.now() - 11 * SECOND + 86_400_000).toISOString());
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

	it("does not promote after 19 messages, only with the 20th", async () => {
		advance(-8 * 86_400_000);
		const pair = await contactPair();
		advance(8 * 86_400_000);
		const [alice, bob] = [await freshToken(pair.alice), await freshToken(pair.bob)];
		const a = await connect(alice.token);
		for (let i = 0; i < 19; i++) {
			await send(a, alice, bob, pair.key);
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json).toMatchObject({ trust: "untrusted", quotaLeft: 1 });
		expect(await send(a, alice, bob, pair.key)).toMatchObject({ type: "sent" });
		expect((await api("/api/account", { token: alice.token })).json.trust).toBe("trusted");
	});

	it("promotes an account whose suspension ended: only a suspension that lasts holds promotion back", async () => {
		advance(-8 * 86_400_000);
		const pair = await contactPair();
		await suspendFor(pair.alice, 86_400_000);
		advance(8 * 86_400_000);
		const [alice, bob] = [await freshToken(pair.alice), await freshToken(pair.bob)];
		await relay(alice.accountId).reloadAccount();
		const a = await connect(alice.token);
		for (let i = 0; i < 20; i++) {
			expect(await send(a, alice, bob, pair.key)).toMatchObject({ type: "sent" });
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json.trust).toBe("trusted");
	});

	it("promotes a reported account: a report by itself holds nothing back, even one that counts", async () => {
		advance(-8 * 86_400_000);
		const pair = await contactPair();
		advance(8 * 86_400_000);
		const [alice, bob] = [await freshToken(pair.alice), await freshToken(pair.bob)];
		const key = pair.key;
		const a = await connect(alice.token);
		for (let i = 0; i < 20; i++) {
			if (i === 10) {
				// Bob, a contact 8 days old whom Alice wrote to: his report weighs 1.
				expect((await api(`/api/contacts/${alice.accountId}/report`, { token: bob.token, body: { reason: "spam" } })).status).toBe(204);
				const row = await env.DB.prepare("SELECT weight FROM reports WHERE reported_id = ?").bind(alice.accountId).first();
				expect(row).toEqual({ weight: 1 });
			}
			expect(await send(a, alice, bob, key)).toMatchObject({ type: "sent" });
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json.trust).toBe("trusted");
	});

	it("does not promote an account whose trust an admin set: their decision stands", async () => {
		advance(-8 * 86_400_000);
		const pair = await contactPair();
		advance(8 * 86_400_000);
		const [alice, bob] = [await freshToken(pair.alice), await freshToken(pair.bob)];
		await admin(`/accounts/${alice.accountId}/trust`, { body: { trust: "untrusted" } });
		const a = await connect(alice.token);
		for (let i = 0; i < 20; i++) {
			expect(await send(a, alice, bob, pair.key)).toMatchObject({ type: "sent" });
			advance(10 * SECOND);
		}
		expect((await api("/api/account", { token: alice.token })).json.trust).toBe("untrusted");
	});
});
