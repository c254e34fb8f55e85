import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { alarmPort } from "../../worker/relay/durable-host.ts";
import { statementsDuring } from "./sql-statements.ts";

const object = (name: string) => env.USERS.get(env.USERS.idFromName(name));

// The alarm's time lives with the runtime's alarm, read once per instance: no meta row is
// written at an arm or an alarm, and what a restarted instance arms never lands later than
// what an earlier instance armed.
describe("the object's one alarm", () => {
	it("is read from the runtime once per instance, only ever moved earlier, and costs no SQL row", async () => {
		const stub = object("alarm-port-a");
		const soon = Date.now() + 60_000;
		const seen = await runInDurableObject(stub, async (_, state) => {
			const { value, statements } = await statementsDuring(state.storage.sql, async () => {
				const first = alarmPort(state);
				await first.armBy(soon);
				// Another instance of the object (after a restart) knows nothing yet: it reads the runtime's alarm.
				const restarted = alarmPort(state);
				await restarted.armBy(soon + 30_000);
				const kept = await state.storage.getAlarm();
				await restarted.armBy(soon - 30_000);
				return { kept, moved: await state.storage.getAlarm() };
			});
			return { ...value, statements };
		});
		expect(seen.kept).toBe(soon);
		expect(seen.moved).toBe(soon - 30_000);
		expect(seen.statements).toEqual([]);
	});

	it("two callers at once cannot leave the later time armed", async () => {
		const stub = object("alarm-port-b");
		const base = Date.now() + 120_000;
		const armed = await runInDurableObject(stub, async (_, state) => {
			const port = alarmPort(state);
			// Both start before the first read of the runtime's alarm has come back.
			await Promise.all([port.armBy(base + 50_000), port.armBy(base), port.armBy(base + 10_000)]);
			const afterAll = await state.storage.getAlarm();
			port.disarm();
			await port.armBy(base + 90_000);
			return { afterAll, afterAlarm: await state.storage.getAlarm() };
		});
		expect(armed.afterAll).toBe(base);
		// After an alarm fired (disarm), the next deadline arms afresh even though it is later.
		expect(armed.afterAlarm).toBe(base + 90_000);
	});
});
