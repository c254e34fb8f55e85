import { describe, expect, it, vi } from "vitest";
import { Account, accountAfterReceipt, localNextSendAt, refusalChangesAccount } from "../../client/app/features/account.ts";
import { ConnectionStatus, connectionWhenNetworkBack, offlineOr } from "../../client/app/features/connection-status.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import type { AccountStatus } from "../../common/protocol/wire.ts";
import { ALICE, receipt, storeWith } from "./client-fakes.ts";

const ACCOUNT: AccountStatus = { accountId: ALICE, handle: "alice", trust: "untrusted", credits: 100, quotaLeft: 20 };

describe("the account", () => {
	it("shows when the rate limit next allows a send on this device's clock, and nothing once that time has passed", () => {
		expect(localNextSendAt(undefined, 0, 1_000)).toBeNull();
		// The relay's clock runs 5 s ahead of this device's.
		expect(localNextSendAt(20_000, 5_000, 10_000)).toBe(15_000);
		expect(localNextSendAt(20_000, 5_000, 15_000)).toBeNull();
	});

	it("takes the relay's clock from a send's receipt to place the rate limit's end", () => {
		const store = storeWith();
		const account = new Account(store, { accountStatus: vi.fn(), creditHistory: vi.fn(), limits: vi.fn() }, new Notices(store));
		const now = Date.now();
		account.noteRelayClock(receipt("m", now + 60_000));
		account.apply({ ...ACCOUNT, nextSendAt: now + 90_000 });
		expect(store.state.nextSendAt).toBeGreaterThanOrEqual(now + 29_000);
		expect(store.state.nextSendAt).toBeLessThanOrEqual(now + 31_000);
	});

	it("shows at once the credits and allowance a receipt reports, then asks the relay for the rest", async () => {
		const store = storeWith({ account: ACCOUNT });
		const accountStatus = vi.fn(async () => ({ ...ACCOUNT, credits: 90, quotaLeft: 10, trust: "trusted" as const }));
		const account = new Account(store, { accountStatus, creditHistory: vi.fn(), limits: vi.fn() }, new Notices(store));
		account.charged(receipt("m", 1, { credits: 97 }));
		expect(store.state.account).toEqual({ ...ACCOUNT, credits: 97 });
		await vi.waitFor(() => expect(store.state.account?.trust).toBe("trusted"));
		expect(store.state.account).toMatchObject({ credits: 90, quotaLeft: 10 });
	});

	it("keeps what a receipt does not report", () => {
		expect(accountAfterReceipt(ACCOUNT, receipt("m", 1))).toEqual(ACCOUNT);
		expect(accountAfterReceipt(ACCOUNT, receipt("m", 1, { quotaLeft: null }))).toEqual({ ...ACCOUNT, quotaLeft: null });
	});

	it("counts a refusal for credits, allowance or suspension as news about the account, and others not", () => {
		for (const code of ["quota_exceeded", "insufficient_credits", "suspended"] as const) {
			expect(refusalChangesAccount(new SdkError(code, ""))).toBe(true);
		}
		expect(refusalChangesAccount(new SdkError("rate_limited", ""))).toBe(false);
	});

	it("shows no prices when the limits cannot be loaded, and no error either", async () => {
		const store = storeWith();
		const limits = vi.fn(async () => {
			throw new SdkError("network", "down");
		});
		new Account(store, { accountStatus: vi.fn(), creditHistory: vi.fn(), limits }, new Notices(store)).loadLimits();
		await vi.waitFor(() => expect(limits).toHaveBeenCalled());
		expect(store.state.limits).toBeNull();
		expect(store.state.notices).toEqual([]);
	});
});

describe("the connection status", () => {
	it("shows the network's return as connected only if the socket stayed up, and reconnects at once either way", () => {
		expect(connectionWhenNetworkBack({ connection: "offline", phase: "ready" }, true)).toBe("online");
		expect(connectionWhenNetworkBack({ connection: "offline", phase: "ready" }, false)).toBe("connecting");
		expect(connectionWhenNetworkBack({ connection: "connecting", phase: "ready" }, false)).toBeNull();
		expect(connectionWhenNetworkBack({ connection: "offline", phase: "pending" }, false)).toBeNull();

		const store = storeWith({ phase: "ready" });
		const client = { reconnectNow: vi.fn() };
		const status = new ConnectionStatus(store, client, () => false);
		status.socketReady();
		status.networkLost();
		expect(store.state.connection).toBe("offline");
		status.networkBack();
		expect(store.state.connection).toBe("online");
		expect(client.reconnectNow).toHaveBeenCalledTimes(1);
	});

	it("shows a lost socket as connecting, or as offline while the browser has no network", () => {
		let browserOffline = false;
		const store = storeWith({ phase: "ready", connection: "online" });
		const status = new ConnectionStatus(store, { reconnectNow: vi.fn() }, () => browserOffline);
		status.socketLost();
		expect(store.state.connection).toBe("connecting");
		browserOffline = true;
		status.reconnecting();
		expect(store.state.connection).toBe("offline");
		expect(offlineOr("connecting", false)).toBe("connecting");
	});
});
