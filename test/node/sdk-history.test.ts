import { describe, expect, it } from "vitest";
import { makeHistoryOffer, openHistoryOffer } from "../../client/core/history-transfer.ts";
import { CryptoError } from "../../common/crypto-error.ts";
import { toB64u } from "../../common/encoding.ts";
import { generateDeviceKeys, randomBytes } from "../../common/nacl.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { linkDevice, registerMember, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

/** An archive as an app would build it: here just bytes that must arrive exactly. */
function archiveOf(bytes: number): { blob: Blob; bytes: Uint8Array } {
	const data = randomBytes(bytes);
	return { blob: new Blob([data]), bytes: data };
}

async function bytesOf(blob: Blob): Promise<Uint8Array> {
	return new Uint8Array(await blob.arrayBuffer());
}

/** A fetch that flips one byte of every history archive it downloads, as a relay that tampers with it would. */
const tamperingFetch: typeof fetch = async (input, init) => {
	const response = await fetch(input, init);
	if (!String(input).endsWith("/archive") || !response.ok) return response;
	const body = new Uint8Array(await response.arrayBuffer());
	body[body.length - 20] = (body[body.length - 20] ?? 0) ^ 1;
	return new Response(body, { status: 200, headers: response.headers });
};

describe("history for a newly linked device", () => {
	it("sends the archive sealed under the offer's key: the new device opens exactly it, and importing deletes it", async () => {
		const alice = await registerMember(factory, "alice");
		await alice.client.connect();
		const phone = await linkDevice(factory, alice, "alice's phone", { history: true });
		expect(phone.historyTransferId).toBeDefined();
		const transferId = phone.historyTransferId as string;

		expect(await phone.client.historyTransfers()).toEqual([
			expect.objectContaining({ transferId, role: "receiving", peerDevice: alice.account.deviceId, state: "offered" }),
		]);
		expect(await alice.client.historyTransfers()).toEqual([
			expect.objectContaining({ transferId, role: "sending", peerDevice: phone.account.deviceId, canSend: true }),
		]);

		// Three and a half chunks, so the chunked seal's order and last-chunk checks are used.
		const archive = archiveOf(3 * 64 * 1024 + 1234);
		const uploadedAtPhone = phone.client.waitFor("history", (h) => h.transferId === transferId && h.state === "uploaded", 15_000);
		const progress: number[] = [];
		await alice.client.sendHistory(transferId, archive.blob, { onProgress: (sent) => progress.push(sent) });
		expect(progress.at(-1)).toBeGreaterThan(archive.bytes.length);
		await uploadedAtPhone;

		const received = await phone.client.receiveHistory(transferId);
		expect(await bytesOf(received)).toEqual(archive.bytes);
		const importedAtAlice = alice.client.waitFor("history", (h) => h.transferId === transferId && h.state === "imported", 15_000);
		await phone.client.endHistory(transferId, "imported");
		await importedAtAlice;

		expect(await phone.client.historyTransfers()).toEqual([]);
		await expect(phone.client.receiveHistory(transferId)).rejects.toMatchObject({ code: "not_found" });
		// The key went with the transfer: nothing more can be sent under it.
		await expect(alice.client.sendHistory(transferId, archive.blob)).rejects.toMatchObject({ code: "not_found" });
	});

	it("lets the new device skip: the approving device hears it and can send nothing more", async () => {
		const alice = await registerMember(factory, "alice");
		await alice.client.connect();
		const phone = await linkDevice(factory, alice, "alice's phone", { history: true });
		const transferId = phone.historyTransferId as string;
		const skipped = alice.client.waitFor("history", (h) => h.transferId === transferId && h.state === "skipped", 15_000);
		await phone.client.endHistory(transferId, "skipped");
		await skipped;
		expect(await alice.client.historyTransfers()).toEqual([]);
		await expect(alice.client.sendHistory(transferId, archiveOf(10).blob)).rejects.toMatchObject({ code: "not_found" });
	});

	it("refuses an archive the relay changed, and keeps it for a retry of an honest download", async () => {
		const alice = await registerMember(factory, "alice");
		await alice.client.connect();
		const tampered = await linkDevice(factory, alice, "alice's phone", { history: true, fetch: tamperingFetch });
		const transferId = tampered.historyTransferId as string;
		const archive = archiveOf(100_000);
		await alice.client.sendHistory(transferId, archive.blob);
		await expect(tampered.client.receiveHistory(transferId)).rejects.toMatchObject({ code: "untrusted" });

		// The same device with an honest connection: the archive is still there, and opens.
		const honest = factory.client(tampered.store);
		expect(await bytesOf(await honest.receiveHistory(transferId))).toEqual(archive.bytes);
	});

	it("approves without an offer unless asked, and the new device then has no transfer", async () => {
		const alice = await registerMember(factory, "alice");
		await alice.client.connect();
		const phone = await linkDevice(factory, alice, "alice's phone");
		expect(phone.historyTransferId).toBeUndefined();
		expect(await phone.client.historyTransfers()).toEqual([]);
		expect(await alice.client.historyTransfers()).toEqual([]);
	});
});

describe("the history offer", () => {
	const alice = generateDeviceKeys();
	const phone = generateDeviceKeys();
	const accountId = toB64u(randomBytes(16));
	const phoneId = toB64u(randomBytes(16));
	const target = { deviceId: phoneId, publicKey: toB64u(phone.publicKey) };

	it("opens for the device it names, from the device that made it, to the key it carries", () => {
		const { offer, key } = makeHistoryOffer({ accountId, seed: alice.seed }, target);
		const opened = openHistoryOffer(
			{ accountId, deviceId: phoneId, seed: phone.seed },
			{ ...offer, fromPublicKey: toB64u(alice.publicKey) },
		);
		expect(opened).toEqual(key);
	});

	it("does not open under another transfer id, account, device or sender", () => {
		const { offer } = makeHistoryOffer({ accountId, seed: alice.seed }, target);
		const fromPublicKey = toB64u(alice.publicKey);
		const me = { accountId, deviceId: phoneId, seed: phone.seed };
		const other = toB64u(randomBytes(16));
		expect(() => openHistoryOffer(me, { ...offer, transferId: other, fromPublicKey })).toThrow(CryptoError);
		expect(() => openHistoryOffer({ ...me, accountId: other }, { ...offer, fromPublicKey })).toThrow(CryptoError);
		expect(() => openHistoryOffer({ ...me, deviceId: other }, { ...offer, fromPublicKey })).toThrow(CryptoError);
		const stranger = generateDeviceKeys();
		expect(() => openHistoryOffer(me, { ...offer, fromPublicKey: toB64u(stranger.publicKey) })).toThrow(CryptoError);
	});
});
