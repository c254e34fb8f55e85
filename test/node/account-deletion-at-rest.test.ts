import path from "node:path";
import { describe, expect, it } from "vitest";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { collect, contactPair, relayForFile } from "../support/sdk-clients.ts";
import { encodings, findings, liveRows } from "../support/storage-scan.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS }, "at-end");
const { factory } = relay;

describe("a deleted account at rest", () => {
	it("leaves no row naming it in the relay's D1, Durable Object or R2 storage: no handle, account id, device or identity key", async () => {
		const { alice, bob } = await contactPair(factory);
		const aliceId = alice.account.accountId;
		const bobId = bob.account.accountId;
		// Something of hers in every store: messages both ways, one still queued for Bob, a file in R2.
		const atBob = collect(bob.client, 1);
		await alice.client.sendText(bobId, "hello");
		await atBob;
		const atAlice = collect(alice.client, 1);
		await bob.client.sendText(aliceId, "hi");
		await atAlice;
		await alice.client.setUpRecovery();
		bob.client.close();
		await alice.client.sendText(bobId, "waiting for you");
		const bytes = new Uint8Array(2048).fill(1);
		await alice.client.sendFile(bobId, {
			stream: () => new Blob([bytes]).stream(),
			size: bytes.length,
			name: "a.bin",
			type: "application/octet-stream",
		});
		const identity = await alice.store.getIdentity();
		if (!identity?.account) throw new Error("alice's identity is missing");

		await alice.client.deleteAccount(alice.account.handle);
		await relay.server.stop();

		const dumps = liveRows(relay.server.persistDir);
		for (const store of ["d1", "do", "r2"]) expect(dumps.some((d) => d.path.includes(`${path.sep}${store}${path.sep}`))).toBe(true);
		// The scan sees what is meant to be there: Bob's account, in D1 and in his object.
		const bobHandle = Buffer.from(bob.account.handle);
		expect(dumps.filter((d) => d.bytes.includes(bobHandle)).length).toBeGreaterThanOrEqual(2);

		const traces = [
			{ label: "handle", needle: Buffer.from(alice.account.handle) },
			{ label: "account id", needle: Buffer.from(aliceId) },
			{ label: "device id", needle: Buffer.from(alice.account.deviceId) },
			...encodings("device public key", identity.publicKey),
			...encodings("identity public key", identity.account.publicKey),
		];
		// No row anywhere names her. (Free pages and old log frames of a database file may still
		// hold deleted rows until SQLite reuses them: see docs/decisions.md, "Deleting an account".)
		expect(findings(dumps, traces)).toEqual([]);
	});
});
