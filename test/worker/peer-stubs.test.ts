import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UserRelay } from "../../worker/user-relay.ts";
import { contactPair } from "./fixtures.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

// Stubs of a contact's object are kept for reuse (worker/relay/peer-stubs.ts): with the
// runtime's real stubs, a kept one delivers, and one that a call failed through is replaced.
describe("kept stubs of other accounts' objects", () => {
	it("reuses one stub for a contact, and after a failed call makes a new one that works", async () => {
		const { alice, bob } = await contactPair();
		const seen = await runInDurableObject(relay(alice.accountId), async (instance) => {
			const host = UserRelay.hostOf(instance);
			const first = host.peer(bob.accountId);
			const same = host.peer(bob.accountId) === first;
			const listed = await first.deviceListOf(alice.accountId);
			// A method the peer's object does not have: the runtime rejects the call.
			const failure = await (first as unknown as { noSuchMethod(): Promise<unknown> }).noSuchMethod().then(
				() => null,
				(err: unknown) => String(err),
			);
			const fresh = host.peer(bob.accountId);
			const listedAgain = await fresh.deviceListOf(alice.accountId);
			return { same, listed: listed.ok, failure, renewed: fresh !== first, listedAgain: listedAgain.ok };
		});
		expect(seen).toMatchObject({ same: true, listed: true, renewed: true, listedAgain: true });
		expect(seen.failure).toEqual(expect.any(String));
	});
});
