import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bindAccount } from "../../worker/relay/durable-host.ts";
import { readMeta } from "../../worker/relay/storage/storage-schema.ts";
import { UserRelay } from "../../worker/user-relay.ts";
import { registerUser } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

// The object takes its account id from the name it is addressed by; these prove the runtime
// gives it where the object relies on it (after hibernation: test/node/sdk-hibernation.test.ts).
describe("an account's object knows its account", () => {
	it("from its name in an RPC call, and binds it in storage on first use", async () => {
		const alice = await registerUser("alice");
		const status = await relay(alice.accountId).accountStatus(alice.deviceId);
		expect(status).toMatchObject({ ok: true, value: { accountId: alice.accountId } });
		const seen = await runInDurableObject(relay(alice.accountId), (instance, state) => ({
			name: state.id.name,
			host: UserRelay.hostOf(instance).accountId,
			stored: readMeta(state.storage.sql, "account_id"),
		}));
		expect(seen).toEqual({ name: alice.accountId, host: alice.accountId, stored: alice.accountId });
	});

	it("from its name in an alarm", async () => {
		const alice = await registerUser("alice");
		const names: Array<string | undefined> = [];
		await runInDurableObject(relay(alice.accountId), (instance, state) => {
			const alarm = instance.alarm.bind(instance);
			instance.alarm = async () => {
				names.push(state.id.name);
				await alarm();
			};
			return state.storage.setAlarm(Date.now() + 60_000);
		});
		expect(await runDurableObjectAlarm(relay(alice.accountId))).toBe(true);
		expect(names).toEqual([alice.accountId]);
	});

	it("from storage when the runtime gives no name (an alarm that starts a cold instance), and never from a name that disagrees", async () => {
		const alice = await registerUser("alice");
		await runInDurableObject(relay(alice.accountId), (_, state) => {
			const sql = state.storage.sql;
			expect(bindAccount(sql, undefined)).toBe(alice.accountId);
			expect(bindAccount(sql, alice.accountId)).toBe(alice.accountId);
			expect(() => bindAccount(sql, "ZZZZZZZZZZZZZZZZZZZZZZ")).toThrow("bound to another account");
			expect(readMeta(sql, "account_id")).toBe(alice.accountId);
		});
	});
});
