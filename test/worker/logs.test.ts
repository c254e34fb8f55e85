import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { contactPair, sealedSend } from "./fixtures.ts";
import { api, connect, registerUser } from "./helpers.ts";

afterEach(() => {
	vi.restoreAllMocks();
});

describe("logs", () => {
	it("are structured and never contain plaintext, ciphertext, keys or tokens", async () => {
		const lines: string[] = [];
		for (const level of ["log", "info", "warn", "error", "debug"] as const) {
			vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
				lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
			});
		}
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const secret = "the launch code is 0000";
		const frame = sealedSend(alice, bob, key, secret);
		a.send(frame);
		await a.next("sent");
		// Reports (with what they weighed) are among the things the relay logs.
		a.send("{broken");
		await a.next("error");
		const others = [bob, await registerUser("r1"), await registerUser("r2")];
		for (const other of others.slice(1)) await api("/api/contacts", { token: alice.token, body: { handle: other.handle } });
		for (const other of others) await api(`/api/contacts/${alice.accountId}/report`, { token: other.token, body: { reason: "test" } });
		await env.DB.prepare("UPDATE accounts SET suspended_until = NULL WHERE id = ?").bind(alice.accountId).run();
		await runDurableObjectAlarm(env.USERS.get(env.USERS.idFromName(alice.accountId)));

		const forbidden = [
			secret,
			frame.box,
			frame.nonce,
			toB64u(key),
			toB64u(alice.keys.seed),
			alice.token,
			bob.token,
			env.AUTH_SECRET,
			env.ADMIN_TOKEN,
		];
		for (const line of lines) for (const needle of forbidden) expect(line.includes(needle)).toBe(false);
		// What the relay itself logs is JSON with an event name.
		const ours = lines.filter((l) => l.startsWith("{"));
		expect(ours.length).toBeGreaterThan(0);
		for (const line of ours) expect(JSON.parse(line)).toHaveProperty("event");
	});
});
