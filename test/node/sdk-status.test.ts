import { describe, expect, it } from "vitest";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import { contactPair, relayForFile, setTrustAsAdmin } from "../support/sdk-clients.ts";

// wrangler.toml's real limits (1 send per 10 s, 20 a day untrusted, 100 starting credits),
// so that the status a UI shows is the one the relay enforces.
const ADMIN_TOKEN = `admin-${toB64u(randomBytes(24))}`;
const relay = relayForFile({ vars: { ADMIN_TOKEN } });
const { factory } = relay;

const setTrust = (accountId: string, trust: "trusted" | "verified") => setTrustAsAdmin(relay.server.baseUrl, ADMIN_TOKEN, accountId, trust);

describe("the SDK's account status", () => {
	it("gives balance, trust, quota left and when the next send is allowed, and they follow sends and trust changes", async () => {
		const { alice, bob } = await contactPair(factory);
		const { accountId, handle } = alice.account;
		expect(await alice.client.accountStatus()).toEqual({ accountId, handle, trust: "untrusted", credits: 100, quotaLeft: 20 });

		const receipt = await alice.client.sendText(bob.account.accountId, "one");
		const afterSend = await alice.client.accountStatus();
		// The relay's clock throughout: the window runs from when it accepted the send.
		expect(afterSend).toEqual({
			accountId,
			handle,
			trust: "untrusted",
			credits: 96,
			quotaLeft: 19,
			nextSendAt: receipt.acceptedAt + 10_000,
		});

		// The receipt said so too, on this device's clock.
		expect(receipt.nextSendAt).toBeGreaterThan(Date.now());
		expect(receipt.nextSendAt).toBeLessThanOrEqual(Date.now() + 10_000);
		// A send taken back while it waits for the window costs nothing and moves nothing.
		const takeBack = new AbortController();
		const waiting = alice.client.sendText(bob.account.accountId, "too soon", { signal: takeBack.signal });
		takeBack.abort();
		await expect(waiting).rejects.toMatchObject({ code: "cancelled" });
		expect(await alice.client.accountStatus()).toEqual(afterSend);

		await setTrust(accountId, "trusted");
		expect(await alice.client.accountStatus()).toMatchObject({ trust: "trusted", quotaLeft: 199, nextSendAt: afterSend.nextSendAt });
		await setTrust(accountId, "verified");
		expect(await alice.client.accountStatus()).toMatchObject({ trust: "verified", quotaLeft: null, credits: 96 });
	});
});
